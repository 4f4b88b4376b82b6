#include "src/policy/policy.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace eventide::policy {

Value Value::Of(const rapidjson::Value& v) {
  Value out;
  if (v.IsNull()) {
    out.kind = Kind::kNull;
  } else if (v.IsBool()) {
    out.kind = Kind::kBool;
    out.boolean = v.GetBool();
  } else if (v.IsNumber()) {
    out.kind = Kind::kNumber;
    out.number = v.GetDouble();
  } else if (v.IsString()) {
    out.kind = Kind::kString;
    out.string.assign(v.GetString(), v.GetStringLength());
  } else {
    out.kind = Kind::kOther;
  }
  return out;
}

bool Value::Equal(const Value& a, const Value& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return a.boolean == b.boolean;
    case Kind::kNumber:
      return a.number == b.number;
    case Kind::kString:
      return a.string == b.string;
    case Kind::kMissing:
    case Kind::kOther:
      return false;
  }
  return false;
}

// A recursive-descent parser over the rule's text.
class Parser {
 public:
  Parser(std::string_view text, const std::function<bool(std::string_view)>& is_field, Policy* out)
      : text_(text), is_field_(is_field), p_(out) {}

  Status Run() {
    uint32_t root;
    Status s = ParseOr(&root, 0);
    if (!s.ok()) return s;
    SkipSpace();
    if (pos_ != text_.size()) return Error("expected 'and', 'or' or the end of the rule");
    p_->root_ = root;
    return Status::OK();
  }

  // The index of `name` in *names, added when new.
  static uint32_t IndexOf(std::vector<std::string>* names, std::string_view name) {
    for (size_t i = 0; i < names->size(); ++i) {
      if ((*names)[i] == name) return static_cast<uint32_t>(i);
    }
    names->emplace_back(name);
    return static_cast<uint32_t>(names->size() - 1);
  }

 private:
  // Nesting deeper than this is refused (the evaluator recurses).
  static constexpr int kMaxDepth = 64;
  // So is a longer rule (and the evaluator's depth stays small).
  static constexpr int kMaxComparisons = 256;

  Status Error(const std::string& why) const {
    return Status::InvalidArgument("at character " + std::to_string(pos_ + 1) + ": " + why);
  }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  static bool NameStart(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }
  static bool NameChar(char c) { return NameStart(c) || (c >= '0' && c <= '9'); }
  // The name at pos_ (not consumed); empty when none.
  std::string_view PeekName() const {
    size_t e = pos_;
    if (e < text_.size() && NameStart(text_[e])) {
      while (e < text_.size() && NameChar(text_[e])) ++e;
    }
    return text_.substr(pos_, e - pos_);
  }
  bool TakeKeyword(std::string_view kw) {
    SkipSpace();
    if (PeekName() != kw) return false;
    pos_ += kw.size();
    return true;
  }
  uint32_t AddNode(Policy::Node n) {
    p_->nodes_.push_back(n);
    return static_cast<uint32_t>(p_->nodes_.size() - 1);
  }
  uint32_t Connect(Policy::Node::Op op, uint32_t left, uint32_t right) {
    Policy::Node n;
    n.op = op;
    n.left = left;
    n.right = right;
    return AddNode(n);
  }

  Status ParseOr(uint32_t* out, int depth) {
    Status s = ParseAnd(out, depth);
    while (s.ok() && TakeKeyword("or")) {
      uint32_t right;
      s = ParseAnd(&right, depth);
      if (s.ok()) *out = Connect(Policy::Node::Op::kOr, *out, right);
    }
    return s;
  }
  Status ParseAnd(uint32_t* out, int depth) {
    Status s = ParsePrimary(out, depth);
    while (s.ok() && TakeKeyword("and")) {
      uint32_t right;
      s = ParsePrimary(&right, depth);
      if (s.ok()) *out = Connect(Policy::Node::Op::kAnd, *out, right);
    }
    return s;
  }
  Status ParsePrimary(uint32_t* out, int depth) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == '(') {
      if (depth >= kMaxDepth) return Error("parentheses nested too deep");
      ++pos_;
      Status s = ParseOr(out, depth + 1);
      if (!s.ok()) return s;
      SkipSpace();
      if (pos_ >= text_.size() || text_[pos_] != ')') return Error("expected ')'");
      ++pos_;
      return Status::OK();
    }
    Policy::Node n;
    Status s = ParseOperand(&n.a);
    if (!s.ok()) return s;
    SkipSpace();
    if (text_.substr(pos_, 2) == "!=") {
      n.op = Policy::Node::Op::kNe;
      pos_ += 2;
    } else if (text_.substr(pos_, 1) == "=") {
      n.op = Policy::Node::Op::kEq;
      pos_ += 1;
    } else {
      return Error("expected '=' or '!=' after an operand");
    }
    s = ParseOperand(&n.b);
    if (!s.ok()) return s;
    if (++comparisons_ > kMaxComparisons) return Error("more than 256 comparisons in one rule");
    *out = AddNode(n);
    return Status::OK();
  }

  uint32_t Literal(Value v) {
    p_->literals_.push_back(std::move(v));
    return static_cast<uint32_t>(p_->literals_.size() - 1);
  }

  Status ParseOperand(Policy::Operand* o) {
    SkipSpace();
    if (pos_ >= text_.size()) return Error("expected a field, $auth.CLAIM or a literal");
    const char c = text_[pos_];
    if (c == '$') {
      if (text_.substr(pos_, 6) != "$auth.") return Error("expected $auth.CLAIM");
      pos_ += 6;
      std::string_view claim = PeekName();
      if (claim.empty()) return Error("expected a claim name after $auth.");
      pos_ += claim.size();
      o->kind = Policy::Operand::Kind::kClaim;
      o->index = IndexOf(&p_->claims_, claim);
      return Status::OK();
    }
    if (c == '"' || c == '\'') return ParseString(o);
    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(o);
    std::string_view name = PeekName();
    if (name.empty()) {
      return Error(std::string("unexpected '") + c +
                   "'; expected a field, $auth.CLAIM or a literal");
    }
    Value v;
    if (name == "true" || name == "false") {
      v.kind = Value::Kind::kBool;
      v.boolean = name == "true";
    } else if (name == "null") {
      v.kind = Value::Kind::kNull;
    } else if (name == "and" || name == "or") {
      return Error("expected a field, $auth.CLAIM or a literal before '" + std::string(name) + "'");
    } else {
      if (!is_field_(name)) return Error("unknown column '" + std::string(name) + "'");
      pos_ += name.size();
      o->kind = Policy::Operand::Kind::kField;
      o->index = IndexOf(&p_->fields_, name);
      return Status::OK();
    }
    pos_ += name.size();
    o->kind = Policy::Operand::Kind::kLiteral;
    o->index = Literal(std::move(v));
    return Status::OK();
  }
  Status ParseString(Policy::Operand* o) {
    const char quote = text_[pos_];
    const size_t start = pos_++;
    Value v;
    v.kind = Value::Kind::kString;
    while (true) {
      if (pos_ >= text_.size()) {
        pos_ = start;
        return Error("unterminated string");
      }
      const char c = text_[pos_++];
      if (c == quote) break;
      if (c == '\\') {
        if (pos_ >= text_.size() ||
            (text_[pos_] != '\\' && text_[pos_] != '"' && text_[pos_] != '\'')) {
          return Error("only \\\\, \\\" and \\' are escapes in a string");
        }
        v.string.push_back(text_[pos_++]);
        continue;
      }
      v.string.push_back(c);
    }
    o->kind = Policy::Operand::Kind::kLiteral;
    o->index = Literal(std::move(v));
    return Status::OK();
  }
  Status ParseNumber(Policy::Operand* o) {
    // JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    size_t e = pos_;
    auto digits = [&] {
      size_t n = 0;
      while (e < text_.size() && text_[e] >= '0' && text_[e] <= '9') ++e, ++n;
      return n;
    };
    if (e < text_.size() && text_[e] == '-') ++e;
    const size_t int_start = e;
    if (digits() == 0 || (text_[int_start] == '0' && e - int_start > 1)) {
      return Error("malformed number");
    }
    if (e < text_.size() && text_[e] == '.') {
      ++e;
      if (digits() == 0) return Error("malformed number");
    }
    if (e < text_.size() && (text_[e] == 'e' || text_[e] == 'E')) {
      ++e;
      if (e < text_.size() && (text_[e] == '+' || text_[e] == '-')) ++e;
      if (digits() == 0) return Error("malformed number");
    }
    if (e < text_.size() && NameChar(text_[e])) return Error("malformed number");
    Value v;
    v.kind = Value::Kind::kNumber;
    v.number = std::strtod(std::string(text_.substr(pos_, e - pos_)).c_str(), nullptr);
    if (!std::isfinite(v.number)) return Error("number out of range");
    pos_ = e;
    o->kind = Policy::Operand::Kind::kLiteral;
    o->index = Literal(std::move(v));
    return Status::OK();
  }

  std::string_view text_;
  const std::function<bool(std::string_view)>& is_field_;
  Policy* p_;
  size_t pos_ = 0;
  int comparisons_ = 0;
};

Result<std::shared_ptr<const Policy>> Policy::Parse(
    std::string_view text, const std::function<bool(std::string_view)>& is_field) {
  auto p = std::make_shared<Policy>();
  Parser parser(text, is_field, p.get());
  Status s = parser.Run();
  if (!s.ok()) return s;
  return std::shared_ptr<const Policy>(std::move(p));
}

void Policy::Merge(const Policy& from, Policy* into, uint32_t* root) {
  // Copies `from`'s nodes into `into`, renumbering names, literals and nodes.
  const auto base = static_cast<uint32_t>(into->nodes_.size());
  auto remap = [&](Operand o) {
    switch (o.kind) {
      case Operand::Kind::kField:
        o.index = Parser::IndexOf(&into->fields_, from.fields_[o.index]);
        break;
      case Operand::Kind::kClaim:
        o.index = Parser::IndexOf(&into->claims_, from.claims_[o.index]);
        break;
      case Operand::Kind::kLiteral:
        into->literals_.push_back(from.literals_[o.index]);
        o.index = static_cast<uint32_t>(into->literals_.size() - 1);
        break;
    }
    return o;
  };
  for (Node n : from.nodes_) {
    if (n.op == Node::Op::kAnd || n.op == Node::Op::kOr) {
      n.left += base;
      n.right += base;
    } else {
      n.a = remap(n.a);
      n.b = remap(n.b);
    }
    into->nodes_.push_back(n);
  }
  *root = from.root_ + base;
}

std::shared_ptr<const Policy> Policy::And(std::shared_ptr<const Policy> a,
                                          std::shared_ptr<const Policy> b) {
  if (!a) return b;
  if (!b) return a;
  auto p = std::make_shared<Policy>();
  uint32_t left, right;
  Merge(*a, p.get(), &left);
  Merge(*b, p.get(), &right);
  Node n;
  n.op = Node::Op::kAnd;
  n.left = left;
  n.right = right;
  p->nodes_.push_back(n);
  p->root_ = static_cast<uint32_t>(p->nodes_.size() - 1);
  return p;
}

void Policy::Extract(const rapidjson::Value& record, Row* row) const {
  row->resize(fields_.size());
  for (size_t i = 0; i < fields_.size(); ++i) {
    Value& v = (*row)[i];
    v.kind = Value::Kind::kNull;  // a field the record lacks is null
    if (!record.IsObject()) continue;
    auto it = record.FindMember(
        rapidjson::Value(rapidjson::StringRef(fields_[i].data(), fields_[i].size())));
    if (it != record.MemberEnd()) v = Value::Of(it->value);
  }
}

Bound Policy::Bind(const rapidjson::Value* claims) const {
  Bound b;
  b.policy_ = shared_from_this();
  b.claims_.resize(claims_.size());  // kMissing unless the token has it
  if (claims == nullptr || !claims->IsObject()) return b;
  for (size_t i = 0; i < claims_.size(); ++i) {
    auto it = claims->FindMember(
        rapidjson::Value(rapidjson::StringRef(claims_[i].data(), claims_[i].size())));
    if (it != claims->MemberEnd()) b.claims_[i] = Value::Of(it->value);
  }
  return b;
}

Bound Policy::Bind(std::string_view claims_json) const {
  if (claims_json.empty()) return Bind(static_cast<const rapidjson::Value*>(nullptr));
  rapidjson::Document d;
  d.Parse(claims_json.data(), claims_json.size());
  return Bind(d.HasParseError() ? nullptr : &d);
}

void Policy::PrintOperand(const Operand& o, std::string* out) const {
  switch (o.kind) {
    case Operand::Kind::kField:
      out->append(fields_[o.index]);
      return;
    case Operand::Kind::kClaim:
      out->append("$auth.").append(claims_[o.index]);
      return;
    case Operand::Kind::kLiteral:
      break;
  }
  const Value& v = literals_[o.index];
  switch (v.kind) {
    case Value::Kind::kNull:
      out->append("null");
      return;
    case Value::Kind::kBool:
      out->append(v.boolean ? "true" : "false");
      return;
    case Value::Kind::kNumber: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v.number);
      out->append(buf);
      return;
    }
    case Value::Kind::kString:
      out->push_back('"');
      for (char c : v.string) {
        if (c == '"' || c == '\\') out->push_back('\\');
        out->push_back(c);
      }
      out->push_back('"');
      return;
    case Value::Kind::kMissing:
    case Value::Kind::kOther:
      out->append("?");
      return;
  }
}

void Policy::Print(uint32_t node, std::string* out) const {
  const Node& n = nodes_[node];
  if (n.op == Node::Op::kAnd || n.op == Node::Op::kOr) {
    // A chain `a and b and c` parses left-nested: a left child of the same
    // connective prints without parentheses, so the form stays flat (and
    // within the parser's nesting limit); every other child gets them.
    const Node& l = nodes_[n.left];
    if (l.op == n.op) {
      Print(n.left, out);
    } else {
      out->push_back('(');
      Print(n.left, out);
      out->push_back(')');
    }
    out->append(n.op == Node::Op::kAnd ? " and " : " or ");
    out->push_back('(');
    Print(n.right, out);
    out->push_back(')');
    return;
  }
  PrintOperand(n.a, out);
  out->append(n.op == Node::Op::kEq ? " = " : " != ");
  PrintOperand(n.b, out);
}

std::string Policy::ToString() const {
  std::string out;
  if (!nodes_.empty()) Print(root_, &out);
  return out;
}

const Value& Bound::Resolve(const Policy::Operand& o, const Row& row) const {
  switch (o.kind) {
    case Policy::Operand::Kind::kField:
      return row[o.index];
    case Policy::Operand::Kind::kClaim:
      return claims_[o.index];
    case Policy::Operand::Kind::kLiteral:
      break;
  }
  return policy_->literals_[o.index];
}

bool Bound::Eval(uint32_t node, const Row& row) const {
  const Policy::Node& n = policy_->nodes_[node];
  switch (n.op) {
    case Policy::Node::Op::kAnd:
      return Eval(n.left, row) && Eval(n.right, row);
    case Policy::Node::Op::kOr:
      return Eval(n.left, row) || Eval(n.right, row);
    case Policy::Node::Op::kEq:
    case Policy::Node::Op::kNe:
      break;
  }
  const Value& a = Resolve(n.a, row);
  const Value& b = Resolve(n.b, row);
  // A claim the token lacks decides nothing in the principal's favour.
  if (a.kind == Value::Kind::kMissing || b.kind == Value::Kind::kMissing) return false;
  const bool eq = Value::Equal(a, b);
  return n.op == Policy::Node::Op::kEq ? eq : !eq;
}

bool Bound::AllowsRecord(const rapidjson::Value& record, Row* scratch) const {
  if (policy_ == nullptr) return true;
  policy_->Extract(record, scratch);
  return Eval(policy_->root_, *scratch);
}

bool Bound::Allows(const Row& row) const {
  if (policy_ == nullptr) return true;
  if (row.size() < policy_->fields_.size()) return false;
  return Eval(policy_->root_, row);
}

}  // namespace eventide::policy
