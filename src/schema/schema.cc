#include "src/schema/schema.h"

#include <cctype>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <optional>
#include <utility>

namespace eventide::schema {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

enum class Tok { kEnd, kName, kString, kNumber, kPunct, kError };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // name, punctuator, number text, or the decoded string
  int line = 1, col = 1;
};

// A directive argument value.
struct Value {
  enum class Kind { kString, kNumber, kBool, kEnum, kList, kNull } kind = Kind::kNull;
  std::string text;
  bool boolean = false;
  int line = 0, col = 0;
};

struct Directive {
  std::string name;
  std::map<std::string, Value> args;
  int line = 0, col = 0;
};

class Parser {
 public:
  Parser(std::string_view text, std::string_view file) : text_(text), file_(file) { Advance(); }

  Status Parse(Schema* out) {
    std::vector<Table> tables;
    while (tok_.kind != Tok::kEnd) {
      if (tok_.kind == Tok::kError) return Error(tok_, tok_.text);
      if (tok_.kind != Tok::kName || tok_.text != "type") {
        return Error(tok_, "expected 'type', got " + Describe(tok_) +
                               " (only object type definitions are supported)");
      }
      Table t;
      Status s = ParseType(&t);
      if (!s.ok()) return s;
      tables.push_back(std::move(t));
    }
    // Names must be unique, across this file and those parsed before.
    for (size_t i = 0; i < tables.size(); ++i) {
      auto clash = [&](const Table& other) {
        return other.name == tables[i].name ||
               EqualsIgnoreCase(other.export_name, tables[i].export_name);
      };
      for (const Table& prev : out->tables) {
        if (clash(prev)) return DuplicateTable(tables[i], prev);
      }
      for (size_t j = 0; j < i; ++j) {
        if (clash(tables[j])) return DuplicateTable(tables[i], tables[j]);
      }
    }
    for (Table& t : tables) out->tables.push_back(std::move(t));
    return Status::OK();
  }

 private:
  Status DuplicateTable(const Table& t, const Table& prev) {
    return Status::InvalidArgument(
        file_ + ":" + std::to_string(t.line) + ":1: type " + t.name + " (URL name '" +
        t.export_name + "') clashes with type " + prev.name + " at " + prev.file + ":" +
        std::to_string(prev.line) + " (URL names match case-insensitively)");
  }

  // ---- Lexer ----
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  void Bump() {
    if (text_[pos_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++pos_;
  }
  void Advance() {
    // Whitespace, commas (insignificant in GraphQL) and comments.
    for (;;) {
      if (pos_ >= text_.size()) break;
      char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
        Bump();
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') Bump();
      } else if (static_cast<unsigned char>(c) == 0xEF && Peek(1) == '\xBB' && Peek(2) == '\xBF' &&
                 pos_ == 0) {
        pos_ += 3;  // a UTF-8 byte-order mark
      } else {
        break;
      }
    }
    tok_ = Token();
    tok_.line = line_;
    tok_.col = col_;
    if (pos_ >= text_.size()) return;
    char c = text_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      tok_.kind = Tok::kName;
      while (pos_ < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
        tok_.text.push_back(text_[pos_]);
        Bump();
      }
      return;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') {
      tok_.kind = Tok::kNumber;
      tok_.text.push_back(c);
      Bump();
      while (pos_ < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.' ||
              text_[pos_] == '+' || text_[pos_] == '-')) {
        tok_.text.push_back(text_[pos_]);
        Bump();
      }
      if (!ValidNumber(tok_.text)) {
        tok_.kind = Tok::kError;
        tok_.text = "malformed number '" + tok_.text + "'";
      }
      return;
    }
    if (c == '"') {
      LexString();
      return;
    }
    if (std::string_view("{}()[]:!@=").find(c) != std::string_view::npos) {
      tok_.kind = Tok::kPunct;
      tok_.text = std::string(1, c);
      Bump();
      return;
    }
    tok_.kind = Tok::kError;
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "0x%02x", static_cast<unsigned char>(c));
      tok_.text = std::string("unexpected byte ") + buf;
    } else {
      tok_.text = std::string("unexpected character '") + c + "'";
    }
  }

  static bool ValidNumber(const std::string& s) {
    size_t i = 0;
    if (i < s.size() && s[i] == '-') ++i;
    size_t digits = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == digits) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      size_t frac = i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      if (i == frac) return false;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      ++i;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
      size_t exp = i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      if (i == exp) return false;
    }
    return i == s.size();
  }

  void LexString() {
    Bump();  // opening quote
    tok_.kind = Tok::kString;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '"') {
        Bump();
        return;
      }
      if (c == '\n') break;
      if (c == '\\') {
        Bump();
        char e = Peek();
        static const std::string_view kFrom = "\"\\/bfnrt";
        static const std::string_view kTo = "\"\\/\b\f\n\r\t";
        size_t k = kFrom.find(e);
        if (e == '\0' || k == std::string_view::npos) {
          tok_.kind = Tok::kError;
          tok_.text = "bad escape in string (\\u escapes are not supported)";
          return;
        }
        tok_.text.push_back(kTo[k]);
        Bump();
        continue;
      }
      tok_.text.push_back(c);
      Bump();
    }
    tok_.kind = Tok::kError;
    tok_.text = "unterminated string";
  }

  // ---- Errors ----
  Status Error(const Token& at, const std::string& reason) const {
    return Status::InvalidArgument(file_ + ":" + std::to_string(at.line) + ":" +
                                   std::to_string(at.col) + ": " + reason);
  }
  static std::string Describe(const Token& t) {
    switch (t.kind) {
      case Tok::kEnd:
        return "end of file";
      case Tok::kName:
        return "'" + t.text + "'";
      case Tok::kString:
        return "a string";
      case Tok::kNumber:
        return "number " + t.text;
      case Tok::kPunct:
        return "'" + t.text + "'";
      case Tok::kError:
        return t.text;
    }
    return "?";
  }
  bool IsPunct(char c) const { return tok_.kind == Tok::kPunct && tok_.text[0] == c; }
  Status Expect(char c, const std::string& what) {
    if (tok_.kind == Tok::kError) return Error(tok_, tok_.text);
    if (!IsPunct(c))
      return Error(tok_, std::string("expected '") + c + "' " + what + ", got " + Describe(tok_));
    Advance();
    return Status::OK();
  }
  Status ExpectName(std::string* out, const char* what) {
    if (tok_.kind == Tok::kError) return Error(tok_, tok_.text);
    if (tok_.kind != Tok::kName)
      return Error(tok_, std::string("expected ") + what + ", got " + Describe(tok_));
    *out = tok_.text;
    Advance();
    return Status::OK();
  }

  // ---- Grammar ----
  Status ParseValue(Value* v, int depth) {
    if (depth > 8) return Error(tok_, "directive argument nested too deeply");
    v->line = tok_.line;
    v->col = tok_.col;
    switch (tok_.kind) {
      case Tok::kString:
        v->kind = Value::Kind::kString;
        v->text = tok_.text;
        Advance();
        return Status::OK();
      case Tok::kNumber:
        v->kind = Value::Kind::kNumber;
        v->text = tok_.text;
        Advance();
        return Status::OK();
      case Tok::kName:
        if (tok_.text == "true" || tok_.text == "false") {
          v->kind = Value::Kind::kBool;
          v->boolean = tok_.text == "true";
        } else if (tok_.text == "null") {
          v->kind = Value::Kind::kNull;
        } else {
          v->kind = Value::Kind::kEnum;
          v->text = tok_.text;
        }
        Advance();
        return Status::OK();
      case Tok::kPunct:
        if (IsPunct('[')) {
          v->kind = Value::Kind::kList;
          Advance();
          while (!IsPunct(']')) {
            if (tok_.kind == Tok::kEnd) return Error(tok_, "unterminated list value");
            Value item;
            Status s = ParseValue(&item, depth + 1);
            if (!s.ok()) return s;
          }
          Advance();
          return Status::OK();
        }
        [[fallthrough]];
      default:
        if (tok_.kind == Tok::kError) return Error(tok_, tok_.text);
        return Error(tok_, "expected a value, got " + Describe(tok_));
    }
  }

  Status ParseDirectives(std::vector<Directive>* out) {
    while (IsPunct('@')) {
      Directive d;
      d.line = tok_.line;
      d.col = tok_.col;
      Advance();
      Status s = ExpectName(&d.name, "a directive name after '@'");
      if (!s.ok()) return s;
      if (IsPunct('(')) {
        Advance();
        while (!IsPunct(')')) {
          Token at = tok_;
          std::string arg;
          s = ExpectName(&arg, "an argument name");
          if (!s.ok()) return s;
          s = Expect(':', "after the argument name");
          if (!s.ok()) return s;
          Value v;
          s = ParseValue(&v, 0);
          if (!s.ok()) return s;
          if (d.args.count(arg)) return Error(at, "argument '" + arg + "' given twice");
          d.args[arg] = std::move(v);
        }
        Advance();
      }
      out->push_back(std::move(d));
    }
    return Status::OK();
  }

  Status ParseFieldType(FieldType* t) {
    Token at = tok_;
    std::string name;
    if (IsPunct('[')) {
      Advance();
      t->list = true;
      if (IsPunct('[')) return Error(tok_, "lists of lists are not supported");
      Status s = ExpectName(&name, "a type name inside '['");
      if (!s.ok()) return s;
      if (IsPunct('!')) {
        t->item_required = true;
        Advance();
      }
      s = Expect(']', "to close the list type");
      if (!s.ok()) return s;
    } else {
      Status s = ExpectName(&name, "a type");
      if (!s.ok()) return s;
    }
    if (IsPunct('!')) {
      t->required = true;
      Advance();
    }
    static const std::pair<std::string_view, Scalar> kScalars[] = {
        {"ID", Scalar::kID},       {"String", Scalar::kString},   {"Int", Scalar::kInt},
        {"Float", Scalar::kFloat}, {"Boolean", Scalar::kBoolean}, {"JSON", Scalar::kJSON},
        {"Any", Scalar::kJSON}};
    for (auto& [n, s] : kScalars) {
      if (name == n) {
        t->scalar = s;
        return Status::OK();
      }
    }
    return Error(at, "unknown type '" + name +
                         "' (supported: ID, String, Int, Float, Boolean, JSON, and lists of them)");
  }

  Status ParseType(Table* t) {
    Advance();  // "type"
    t->file = file_;
    t->line = tok_.line;
    Token name_tok = tok_;
    Status s = ExpectName(&t->name, "a type name after 'type'");
    if (!s.ok()) return s;
    if (t->name.rfind("__", 0) == 0)
      return Error(name_tok, "type names starting with '__' are reserved");
    t->export_name = t->name;
    std::vector<Directive> dirs;
    s = ParseDirectives(&dirs);
    if (!s.ok()) return s;
    for (const Directive& d : dirs) {
      s = ApplyTypeDirective(d, t);
      if (!s.ok()) return s;
    }
    s = Expect('{', "to open the field list of type " + t->name);
    if (!s.ok()) return s;
    bool have_pk = false;
    while (!IsPunct('}')) {
      if (tok_.kind == Tok::kEnd) return Error(tok_, "type " + t->name + " is not closed with '}'");
      Field f;
      f.line = tok_.line;
      Token field_tok = tok_;
      s = ExpectName(&f.name, "a field name or '}'");
      if (!s.ok()) return s;
      if (t->FindField(f.name) != nullptr) {
        return Error(field_tok, "field '" + f.name + "' is declared twice in type " + t->name);
      }
      s = Expect(':', "after field name '" + f.name + "'");
      if (!s.ok()) return s;
      s = ParseFieldType(&f.type);
      if (!s.ok()) return s;
      std::vector<Directive> fdirs;
      s = ParseDirectives(&fdirs);
      if (!s.ok()) return s;
      for (const Directive& d : fdirs) {
        if (d.name == "primaryKey") {
          if (have_pk) {
            return Error(Token{Tok::kName, d.name, d.line, d.col},
                         "type " + t->name + " has two @primaryKey fields");
          }
          have_pk = true;
          f.primary_key = true;
        } else {
          return Error(Token{Tok::kName, d.name, d.line, d.col},
                       "unknown field directive @" + d.name + " (supported: @primaryKey)");
        }
      }
      if (f.name == "__createdAt__" || f.name == "__updatedAt__") {
        if (f.type.scalar != Scalar::kString || f.type.list) {
          return Error(field_tok, "field " + f.name + " is set by the server and must be a String");
        }
        f.server_set = true;
      }
      t->fields.push_back(std::move(f));
    }
    Advance();  // '}'
    if (t->fields.empty()) return Error(name_tok, "type " + t->name + " has no fields");
    // The primary key: @primaryKey, or a field named `id`.
    for (size_t i = 0; i < t->fields.size(); ++i) {
      if (t->fields[i].primary_key || (!have_pk && t->fields[i].name == "id")) {
        t->primary_key = i;
        t->fields[i].primary_key = true;
        have_pk = true;
        break;
      }
    }
    if (!have_pk) {
      return Error(name_tok, "type " + t->name +
                                 " has no primary key: mark a field @primaryKey or name one 'id'");
    }
    const Field& pk = t->fields[t->primary_key];
    if (pk.type.list || !(pk.type.scalar == Scalar::kID || pk.type.scalar == Scalar::kString ||
                          pk.type.scalar == Scalar::kInt)) {
      return Error(name_tok, "primary key '" + pk.name + "' of type " + t->name +
                                 " must be an ID, String or Int");
    }
    return Status::OK();
  }

  Status ApplyTypeDirective(const Directive& d, Table* t) {
    Token at{Tok::kName, d.name, d.line, d.col};
    auto string_arg = [&](const char* name, std::string* out) -> Status {
      auto it = d.args.find(name);
      if (it == d.args.end()) return Status::OK();
      if (it->second.kind != Value::Kind::kString) {
        return Error(Token{Tok::kName, "", it->second.line, it->second.col},
                     std::string("@") + d.name + "(" + name + ":) must be a string");
      }
      *out = it->second.text;
      return Status::OK();
    };
    auto bool_arg = [&](const char* name, bool* out) -> Status {
      auto it = d.args.find(name);
      if (it == d.args.end()) return Status::OK();
      if (it->second.kind != Value::Kind::kBool) {
        return Error(Token{Tok::kName, "", it->second.line, it->second.col},
                     std::string("@") + d.name + "(" + name + ":) must be true or false");
      }
      *out = it->second.boolean;
      return Status::OK();
    };
    auto only = [&](std::initializer_list<std::string_view> allowed) -> Status {
      for (auto& [k, v] : d.args) {
        bool ok = false;
        for (auto a : allowed) ok = ok || k == a;
        if (!ok) {
          std::string list;
          for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
          return Error(Token{Tok::kName, "", v.line, v.col},
                       "unknown argument '" + k + "' of @" + d.name + " (allowed: " + list + ")");
        }
      }
      return Status::OK();
    };
    Status s;
    if (d.name == "table") {
      if (!(s = only({"database", "table", "expiration"})).ok()) return s;
      return string_arg("database", &t->database);
    }
    if (d.name == "export") {
      if (!(s = only({"name", "rest", "sse", "ws"})).ok()) return s;
      t->exported = true;
      t->rest = true;
      if (!(s = string_arg("name", &t->export_name)).ok()) return s;
      if (t->export_name.empty() || t->export_name.find('/') != std::string::npos) {
        return Error(at, "@export(name:) must be a non-empty URL segment");
      }
      if (!(s = bool_arg("rest", &t->rest)).ok()) return s;
      if (!(s = bool_arg("sse", &t->sse)).ok()) return s;
      return bool_arg("ws", &t->ws);
    }
    if (d.name == "policy") {
      if (!(s = only({"read", "write"})).ok()) return s;
      t->policy_line = at.line;
      if (!(s = string_arg("read", &t->policy_read)).ok()) return s;
      return string_arg("write", &t->policy_write);
    }
    return Error(at,
                 "unknown type directive @" + d.name + " (supported: @table, @export, @policy)");
  }

  std::string_view text_;
  std::string file_;
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
  Token tok_;
};

}  // namespace

std::string_view ScalarName(Scalar s) {
  switch (s) {
    case Scalar::kID:
      return "ID";
    case Scalar::kString:
      return "String";
    case Scalar::kInt:
      return "Int";
    case Scalar::kFloat:
      return "Float";
    case Scalar::kBoolean:
      return "Boolean";
    case Scalar::kJSON:
      return "JSON";
  }
  return "?";
}

const Field* Table::FindField(std::string_view field_name) const {
  for (const Field& f : fields) {
    if (f.name == field_name) return &f;
  }
  return nullptr;
}

const Table* Schema::FindByExportName(std::string_view url_name) const {
  for (const Table& t : tables) {
    if (t.exported && EqualsIgnoreCase(t.export_name, url_name)) return &t;
  }
  for (const Table& t : tables) {
    if (EqualsIgnoreCase(t.export_name, url_name)) return &t;
  }
  return nullptr;
}

const Table* Schema::FindByName(std::string_view type_name) const {
  for (const Table& t : tables) {
    if (t.name == type_name) return &t;
  }
  return nullptr;
}

Status ParseSchema(std::string_view text, std::string_view file, Schema* out) {
  Parser p(text, file);
  return p.Parse(out);
}

}  // namespace eventide::schema
