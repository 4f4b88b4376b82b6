// The GraphQL lexer (spec October 2021, section 2.1): punctuators, names,
// numbers, strings and block strings. Ignored tokens are skipped: the UTF-8
// byte order mark, spaces and tabs, line terminators, comments and commas.
//
// Error messages follow graphql-js 16 ("Syntax Error: Unterminated string.")
// so that clients see what a reference server would say.
#ifndef EVENTIDE_SRC_GRAPHQL_LEXER_H_
#define EVENTIDE_SRC_GRAPHQL_LEXER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "src/graphql/document.h"

namespace eventide::graphql {

enum class TokenKind : uint8_t {
  kEof,
  kBang,      // !
  kDollar,    // $
  kAmp,       // &
  kParenL,    // (
  kParenR,    // )
  kSpread,    // ...
  kColon,     // :
  kEquals,    // =
  kAt,        // @
  kBracketL,  // [
  kBracketR,  // ]
  kBraceL,    // {
  kPipe,      // |
  kBraceR,    // }
  kName,
  kInt,
  kFloat,
  kString,
  kBlockString,
};

struct Token {
  TokenKind kind = TokenKind::kEof;
  // kName, kInt, kFloat: the text as written; kString, kBlockString: the
  // decoded value; empty for punctuators and the end.
  std::string value;
  Location loc;
};

// How graphql-js names a kind in "Expected X": `"{"`, `Name`, `<EOF>`.
std::string TokenKindDescription(TokenKind kind);
// How graphql-js names a token in "found X": `"{"`, `Name "foo"`, `<EOF>`.
std::string TokenDescription(const Token& t);

class Lexer {
 public:
  // "source" must remain live while this Lexer is in use.
  explicit Lexer(std::string_view source);

  // Reads the next token into *t (the end repeats kEof). On a lexical error
  // returns false and fills *error (message and the error's location).
  [[nodiscard]] bool Next(Token* t, Error* error);

 private:
  Location LocationAt(size_t offset) const;
  void SkipIgnored();
  bool Fail(size_t offset, std::string message, Error* error) const;
  bool ReadNumber(Token* t, Error* error);
  bool ReadString(Token* t, Error* error);
  bool ReadBlockString(Token* t, Error* error);
  // `"c"` for printable ASCII, `U+XXXX` otherwise, `<EOF>` at the end.
  std::string DescribeCharAt(size_t offset) const;
  // Decodes one UTF-8 scalar value at offset: its length, or 0 when the
  // bytes there are not well-formed UTF-8.
  size_t Utf8LengthAt(size_t offset, uint32_t* code_point) const;

  std::string_view src_;
  size_t pos_ = 0;
  int line_ = 1;
  size_t line_start_ = 0;  // offset of the current line's first byte
  // LocationAt's memo: the column at column_offset_ on the line starting at
  // column_line_start_.
  mutable size_t column_line_start_ = 0;
  mutable size_t column_offset_ = 0;
  mutable int column_ = 1;
};

}  // namespace eventide::graphql

#endif  // EVENTIDE_SRC_GRAPHQL_LEXER_H_
