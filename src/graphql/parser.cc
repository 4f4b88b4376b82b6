#include "src/graphql/parser.h"

#include <string>
#include <utility>

#include "src/graphql/lexer.h"

namespace eventide::graphql {

const char* OperationTypeName(Operation::Type t) {
  switch (t) {
    case Operation::Type::kQuery:
      return "query";
    case Operation::Type::kMutation:
      return "mutation";
    case Operation::Type::kSubscription:
      return "subscription";
  }
  return "query";
}

std::string TypeRef::ToString() const {
  std::string out = IsList() ? "[" + of[0].ToString() + "]" : name;
  if (non_null) out.push_back('!');
  return out;
}

namespace {

// Recursive descent with one token of lookahead (tok_). Every method returns
// false once an error is recorded in *error_; callers return at once.
class Parser {
 public:
  Parser(std::string_view source, const ParseLimits& limits, Error* error)
      : lexer_(source), limits_(limits), error_(error) {}

  bool ParseDocument(Document* doc) {
    if (!Advance()) return false;
    // A document holds at least one definition: empty input is
    // "Unexpected <EOF>." as in graphql-js.
    do {
      if (!ParseDefinition(doc)) return false;
    } while (tok_.kind != TokenKind::kEof);
    return true;
  }

 private:
  bool Advance() {
    if (++tokens_ > limits_.max_tokens) {
      return Fail(tok_.loc, "Document contains more than " + std::to_string(limits_.max_tokens) +
                                " tokens. Parsing aborted.");
    }
    return lexer_.Next(&tok_, error_);
  }

  bool Fail(Location loc, std::string message) {
    error_->message = "Syntax Error: " + std::move(message);
    error_->locations = {loc};
    return false;
  }
  bool Unexpected() { return Fail(tok_.loc, "Unexpected " + TokenDescription(tok_) + "."); }

  bool Peek(TokenKind k) const { return tok_.kind == k; }
  bool PeekName(std::string_view name) const {
    return tok_.kind == TokenKind::kName && tok_.value == name;
  }

  // Consumes a token of kind k or fails with "Expected k, found t.".
  bool Expect(TokenKind k) {
    if (tok_.kind != k) {
      return Fail(tok_.loc, "Expected " + TokenKindDescription(k) + ", found " +
                                TokenDescription(tok_) + ".");
    }
    return Advance();
  }
  // Consumes k when it is next; *found says whether it was.
  bool Skip(TokenKind k, bool* found) {
    *found = tok_.kind == k;
    return *found ? Advance() : true;
  }
  bool ExpectKeyword(std::string_view word) {
    if (!PeekName(word)) {
      return Fail(tok_.loc,
                  "Expected \"" + std::string(word) + "\", found " + TokenDescription(tok_) + ".");
    }
    return Advance();
  }
  bool ParseName(std::string* out, Location* loc = nullptr) {
    if (tok_.kind != TokenKind::kName) return Expect(TokenKind::kName);
    *out = std::move(tok_.value);
    if (loc) *loc = tok_.loc;
    return Advance();
  }

  // Nesting guard: one per recursive construct.
  bool Enter(Location loc) {
    if (++depth_ > limits_.max_depth) {
      return Fail(loc,
                  "Document nesting exceeds " + std::to_string(limits_.max_depth) + " levels.");
    }
    return true;
  }
  void Leave() { --depth_; }

  bool ParseDefinition(Document* doc) {
    if (Peek(TokenKind::kBraceL)) {
      Operation op;
      op.shorthand = true;
      op.loc = tok_.loc;
      if (!ParseSelectionSet(&op.selection_set)) return false;
      doc->operations.push_back(std::move(op));
      return true;
    }
    if (Peek(TokenKind::kName)) {
      if (tok_.value == "query" || tok_.value == "mutation" || tok_.value == "subscription") {
        return ParseOperation(doc);
      }
      if (tok_.value == "fragment") return ParseFragment(doc);
    }
    return Unexpected();
  }

  bool ParseOperation(Document* doc) {
    Operation op;
    op.loc = tok_.loc;
    op.type = tok_.value == "query"      ? Operation::Type::kQuery
              : tok_.value == "mutation" ? Operation::Type::kMutation
                                         : Operation::Type::kSubscription;
    if (!Advance()) return false;
    if (Peek(TokenKind::kName) && !ParseName(&op.name)) return false;
    if (Peek(TokenKind::kParenL) && !ParseVariableDefinitions(&op.variables)) return false;
    if (!ParseDirectives(/*is_const=*/false, &op.directives)) return false;
    if (!ParseSelectionSet(&op.selection_set)) return false;
    doc->operations.push_back(std::move(op));
    return true;
  }

  bool ParseFragment(Document* doc) {
    Fragment f;
    f.loc = tok_.loc;
    if (!Advance()) return false;
    if (PeekName("on")) return Unexpected();  // FragmentName is Name but not "on"
    if (!ParseName(&f.name)) return false;
    if (!ExpectKeyword("on")) return false;
    if (!ParseName(&f.type_condition, &f.type_condition_loc)) return false;
    if (!ParseDirectives(/*is_const=*/false, &f.directives)) return false;
    if (!ParseSelectionSet(&f.selection_set)) return false;
    doc->fragments.push_back(std::move(f));
    return true;
  }

  bool ParseVariableDefinitions(std::vector<VariableDefinition>* out) {
    if (!Expect(TokenKind::kParenL)) return false;
    bool done = false;
    do {
      VariableDefinition v;
      v.loc = tok_.loc;
      if (!Expect(TokenKind::kDollar) || !ParseName(&v.name)) return false;
      if (!Expect(TokenKind::kColon) || !ParseType(&v.type)) return false;
      bool eq = false;
      if (!Skip(TokenKind::kEquals, &eq)) return false;
      if (eq) {
        v.has_default = true;
        if (!ParseValue(/*is_const=*/true, &v.default_value)) return false;
      }
      if (!ParseDirectives(/*is_const=*/true, &v.directives)) return false;
      out->push_back(std::move(v));
      if (!Skip(TokenKind::kParenR, &done)) return false;
    } while (!done);
    return true;
  }

  bool ParseType(TypeRef* t) {
    t->loc = tok_.loc;
    if (Peek(TokenKind::kBracketL)) {
      if (!Enter(tok_.loc) || !Advance()) return false;
      t->of.emplace_back();
      if (!ParseType(&t->of[0]) || !Expect(TokenKind::kBracketR)) return false;
      Leave();
    } else if (!ParseName(&t->name)) {
      return false;
    }
    return Skip(TokenKind::kBang, &t->non_null);
  }

  bool ParseSelectionSet(std::vector<Selection>* out) {
    if (!Enter(tok_.loc) || !Expect(TokenKind::kBraceL)) return false;
    bool done = false;
    do {
      Selection s;
      if (!ParseSelection(&s)) return false;
      out->push_back(std::move(s));
      if (!Skip(TokenKind::kBraceR, &done)) return false;
    } while (!done);
    Leave();
    return true;
  }

  bool ParseSelection(Selection* s) {
    s->loc = tok_.loc;
    if (Peek(TokenKind::kSpread)) {
      if (!Advance()) return false;
      if (Peek(TokenKind::kName) && !PeekName("on")) {
        s->kind = Selection::Kind::kFragmentSpread;
        if (!ParseName(&s->name)) return false;
        return ParseDirectives(/*is_const=*/false, &s->directives);
      }
      s->kind = Selection::Kind::kInlineFragment;
      if (PeekName("on")) {
        if (!Advance() || !ParseName(&s->type_condition)) return false;
      }
      if (!ParseDirectives(/*is_const=*/false, &s->directives)) return false;
      s->has_selection_set = true;
      return ParseSelectionSet(&s->selection_set);
    }
    s->kind = Selection::Kind::kField;
    if (!ParseName(&s->name)) return false;
    bool colon = false;
    if (!Skip(TokenKind::kColon, &colon)) return false;
    if (colon) {
      s->alias = std::move(s->name);
      if (!ParseName(&s->name)) return false;
    }
    if (Peek(TokenKind::kParenL) && !ParseArguments(/*is_const=*/false, &s->arguments)) {
      return false;
    }
    if (!ParseDirectives(/*is_const=*/false, &s->directives)) return false;
    if (Peek(TokenKind::kBraceL)) {
      s->has_selection_set = true;
      return ParseSelectionSet(&s->selection_set);
    }
    return true;
  }

  bool ParseArguments(bool is_const, std::vector<Argument>* out) {
    if (!Expect(TokenKind::kParenL)) return false;
    bool done = false;
    do {
      Argument a;
      if (!ParseName(&a.name, &a.loc) || !Expect(TokenKind::kColon)) return false;
      if (!ParseValue(is_const, &a.value)) return false;
      out->push_back(std::move(a));
      if (!Skip(TokenKind::kParenR, &done)) return false;
    } while (!done);
    return true;
  }

  bool ParseDirectives(bool is_const, std::vector<Directive>* out) {
    while (Peek(TokenKind::kAt)) {
      Directive d;
      d.loc = tok_.loc;
      if (!Advance() || !ParseName(&d.name)) return false;
      if (Peek(TokenKind::kParenL) && !ParseArguments(is_const, &d.arguments)) return false;
      out->push_back(std::move(d));
    }
    return true;
  }

  bool ParseValue(bool is_const, Value* v) {
    v->loc = tok_.loc;
    switch (tok_.kind) {
      case TokenKind::kBracketL: {
        v->kind = Value::Kind::kList;
        if (!Enter(tok_.loc) || !Advance()) return false;
        bool done = false;
        if (!Skip(TokenKind::kBracketR, &done)) return false;
        while (!done) {
          v->items.emplace_back();
          if (!ParseValue(is_const, &v->items.back())) return false;
          if (!Skip(TokenKind::kBracketR, &done)) return false;
        }
        Leave();
        return true;
      }
      case TokenKind::kBraceL: {
        v->kind = Value::Kind::kObject;
        if (!Enter(tok_.loc) || !Advance()) return false;
        bool done = false;
        if (!Skip(TokenKind::kBraceR, &done)) return false;
        while (!done) {
          ObjectField f;
          if (!ParseName(&f.name, &f.loc) || !Expect(TokenKind::kColon)) return false;
          if (!ParseValue(is_const, &f.value)) return false;
          v->fields.push_back(std::move(f));
          if (!Skip(TokenKind::kBraceR, &done)) return false;
        }
        Leave();
        return true;
      }
      case TokenKind::kInt:
        v->kind = Value::Kind::kInt;
        v->text = std::move(tok_.value);
        return Advance();
      case TokenKind::kFloat:
        v->kind = Value::Kind::kFloat;
        v->text = std::move(tok_.value);
        return Advance();
      case TokenKind::kString:
      case TokenKind::kBlockString:
        v->kind = Value::Kind::kString;
        v->block = tok_.kind == TokenKind::kBlockString;
        v->text = std::move(tok_.value);
        return Advance();
      case TokenKind::kName:
        if (tok_.value == "true" || tok_.value == "false") {
          v->kind = Value::Kind::kBoolean;
          v->boolean = tok_.value == "true";
        } else if (tok_.value == "null") {
          v->kind = Value::Kind::kNull;
        } else {
          v->kind = Value::Kind::kEnum;
          v->text = std::move(tok_.value);
        }
        return Advance();
      case TokenKind::kDollar:
        if (is_const) {
          Location loc = tok_.loc;
          if (!Advance()) return false;
          if (Peek(TokenKind::kName)) {
            return Fail(loc, "Unexpected variable \"$" + tok_.value + "\" in constant value.");
          }
          return Fail(loc, "Unexpected \"$\".");
        }
        v->kind = Value::Kind::kVariable;
        return Advance() && ParseName(&v->text);
      default:
        return Unexpected();
    }
  }

  Lexer lexer_;
  const ParseLimits& limits_;
  Error* error_;
  Token tok_;
  size_t tokens_ = 0;
  int depth_ = 0;
};

}  // namespace

bool ParseDocument(std::string_view source, const ParseLimits& limits, Document* out,
                   Error* error) {
  if (source.size() > limits.max_document_bytes) {
    error->message = "Syntax Error: Document is larger than " +
                     std::to_string(limits.max_document_bytes) + " bytes.";
    error->locations = {Location{1, 1}};
    return false;
  }
  Parser p(source, limits, error);
  return p.ParseDocument(out);
}

}  // namespace eventide::graphql
