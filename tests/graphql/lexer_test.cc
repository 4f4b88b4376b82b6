// The GraphQL lexer (src/graphql/lexer.h).
#include "src/graphql/lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace eventide::graphql {
namespace {

std::vector<Token> Lex(std::string_view src) {
  Lexer lx(src);
  std::vector<Token> out;
  Error err;
  for (;;) {
    Token t;
    bool ok = lx.Next(&t, &err);
    EXPECT_TRUE(ok) << src << ": " << err.message;
    if (!ok) break;
    out.push_back(t);
    if (t.kind == TokenKind::kEof) break;
  }
  return out;
}

Token One(std::string_view src) {
  auto toks = Lex(src);
  EXPECT_EQ(toks.size(), 2u) << src;
  return toks.empty() ? Token{} : toks[0];
}

// The error and its location for the first token of `src` that fails.
Error LexError(std::string_view src) {
  Lexer lx(src);
  Error err;
  for (int i = 0; i < 1000; ++i) {
    Token t;
    if (!lx.Next(&t, &err)) return err;
    if (t.kind == TokenKind::kEof) break;
  }
  ADD_FAILURE() << "no error for " << src;
  return err;
}

TEST(LexerTest, PunctuatorsAndIgnoredTokens) {
  auto toks = Lex("\xEF\xBB\xBF! $ & ( ) ... : = @ [ ] { | },,, # comment\n\t");
  std::vector<TokenKind> kinds;
  for (const auto& t : toks) kinds.push_back(t.kind);
  EXPECT_EQ(kinds, (std::vector<TokenKind>{
                       TokenKind::kBang, TokenKind::kDollar, TokenKind::kAmp, TokenKind::kParenL,
                       TokenKind::kParenR, TokenKind::kSpread, TokenKind::kColon,
                       TokenKind::kEquals, TokenKind::kAt, TokenKind::kBracketL,
                       TokenKind::kBracketR, TokenKind::kBraceL, TokenKind::kPipe,
                       TokenKind::kBraceR, TokenKind::kEof}));
  EXPECT_EQ(toks[0].loc, (Location{1, 2})) << "the BOM is one code point";
}

TEST(LexerTest, LocationsCountLinesAndCodePoints) {
  auto toks = Lex("a\nb\r\nc\rd # x\n  \"é\" e");
  ASSERT_EQ(toks.size(), 7u);
  EXPECT_EQ(toks[0].loc, (Location{1, 1}));
  EXPECT_EQ(toks[1].loc, (Location{2, 1}));
  EXPECT_EQ(toks[2].loc, (Location{3, 1})) << "CRLF is one line terminator";
  EXPECT_EQ(toks[3].loc, (Location{4, 1})) << "CR alone ends a line";
  EXPECT_EQ(toks[4].loc, (Location{5, 3}));
  EXPECT_EQ(toks[5].loc, (Location{5, 7})) << "é is one column";
}

TEST(LexerTest, Names) {
  Token t = One("_foo_Bar9");
  EXPECT_EQ(t.kind, TokenKind::kName);
  EXPECT_EQ(t.value, "_foo_Bar9");
}

TEST(LexerTest, Numbers) {
  EXPECT_EQ(One("0").kind, TokenKind::kInt);
  EXPECT_EQ(One("-0").value, "-0");
  EXPECT_EQ(One("123").kind, TokenKind::kInt);
  EXPECT_EQ(One("-12").value, "-12");
  EXPECT_EQ(One("1.5").kind, TokenKind::kFloat);
  EXPECT_EQ(One("1e10").kind, TokenKind::kFloat);
  EXPECT_EQ(One("-1.5E-3").value, "-1.5E-3");
  EXPECT_EQ(One("0.0e+1").kind, TokenKind::kFloat);
}

TEST(LexerTest, NumberErrors) {
  Error e = LexError("00");
  EXPECT_EQ(e.message, "Syntax Error: Invalid number, unexpected digit after 0: \"0\".");
  EXPECT_EQ(e.locations[0], (Location{1, 2}));
  EXPECT_EQ(LexError("1.").message,
            "Syntax Error: Invalid number, expected digit but got: <EOF>.");
  EXPECT_EQ(LexError("1.2.3").message,
            "Syntax Error: Invalid number, expected digit but got: \".\".");
  EXPECT_EQ(LexError("0x1").message,
            "Syntax Error: Invalid number, expected digit but got: \"x\".");
  EXPECT_EQ(LexError("1e").message, "Syntax Error: Invalid number, expected digit but got: <EOF>.");
  EXPECT_EQ(LexError("-a").message, "Syntax Error: Invalid number, expected digit but got: \"a\".");
  EXPECT_EQ(LexError("  1.5a").locations[0], (Location{1, 6}));
}

TEST(LexerTest, StringsAndEscapes) {
  EXPECT_EQ(One("\"\"").value, "");
  EXPECT_EQ(One("\"a b\"").value, "a b");
  EXPECT_EQ(One(R"("\" \\ \/ \b \f \n \r \t")").value, "\" \\ / \b \f \n \r \t");
  EXPECT_EQ(One(R"("\u00e9")").value, "\xC3\xA9");
  EXPECT_EQ(One(R"("\u{1F600}")").value, "\xF0\x9F\x98\x80");
  EXPECT_EQ(One(R"("\uD83D\uDE00")").value, "\xF0\x9F\x98\x80") << "a surrogate pair";
  EXPECT_EQ(One("\"caf\xC3\xA9\"").value, "caf\xC3\xA9");
  EXPECT_EQ(One("\"\t\"").value, "\t") << "a tab is allowed in a string";
}

TEST(LexerTest, StringErrors) {
  Error e = LexError("\"abc");
  EXPECT_EQ(e.message, "Syntax Error: Unterminated string.");
  EXPECT_EQ(e.locations[0], (Location{1, 5}));
  EXPECT_EQ(LexError("\"ab\ncd\"").message, "Syntax Error: Unterminated string.");
  e = LexError(R"(  "a\x")");
  EXPECT_EQ(e.message, "Syntax Error: Invalid character escape sequence: \"\\x\".");
  EXPECT_EQ(e.locations[0], (Location{1, 5}));
  EXPECT_EQ(LexError(R"("\u12")").message,
            "Syntax Error: Invalid Unicode escape sequence: \"\\u12\".");
  EXPECT_EQ(LexError(R"("\uD800")").message,
            "Syntax Error: Invalid Unicode escape sequence: \"\\uD800\".")
      << "a lone surrogate";
  EXPECT_EQ(LexError(R"("\u{110000}")").message.rfind("Syntax Error: Invalid Unicode escape", 0),
            0u);
  EXPECT_EQ(LexError("\"a\x01\"").message,
            "Syntax Error: Invalid character within String: U+0001.");
  EXPECT_EQ(LexError("\"a\xFF\"").message,
            "Syntax Error: Invalid character within String: invalid UTF-8 byte 0xFF.");
}

TEST(LexerTest, BlockStrings) {
  Token t = One("\"\"\"\n    Hello,\n      World!\n\n    Yours,\n      GraphQL.\n  \"\"\"");
  EXPECT_EQ(t.kind, TokenKind::kBlockString);
  EXPECT_EQ(t.value, "Hello,\n  World!\n\nYours,\n  GraphQL.");
  EXPECT_EQ(One(R"("""a \""" b \n""")").value, "a \"\"\" b \\n") << "only \\\"\"\" is an escape";
  EXPECT_EQ(One("\"\"\"\"\"\"").value, "");
  // Lines inside a block string count for later locations.
  auto toks = Lex("\"\"\"a\r\nb\rc\"\"\" x");
  EXPECT_EQ(toks[0].value, "a\nb\nc");
  EXPECT_EQ(toks[1].loc, (Location{3, 6}));
  Error e = LexError("\"\"\"abc\n\"\"");
  EXPECT_EQ(e.message, "Syntax Error: Unterminated string.");
  EXPECT_EQ(e.locations[0], (Location{2, 3}));
}

TEST(LexerTest, UnexpectedCharacters) {
  Error e = LexError("a ?");
  EXPECT_EQ(e.message, "Syntax Error: Unexpected character: \"?\".");
  EXPECT_EQ(e.locations[0], (Location{1, 3}));
  EXPECT_EQ(LexError(".").message, "Syntax Error: Unexpected character: \".\".");
  EXPECT_EQ(LexError("..").message, "Syntax Error: Unexpected character: \".\".");
  EXPECT_EQ(LexError("\xC3\xA9").message, "Syntax Error: Unexpected character: U+00E9.");
  EXPECT_EQ(LexError(std::string_view("\0", 1)).message, "Syntax Error: Invalid character: U+0000.");
  EXPECT_EQ(LexError("\xFF").message,
            "Syntax Error: Invalid character: invalid UTF-8 byte 0xFF.");
  EXPECT_EQ(LexError("'a'").message,
            "Syntax Error: Unexpected single quote character ('), did you mean to use a double "
            "quote (\")?");
}

TEST(LexerTest, TokenDescriptions) {
  Token t;
  t.kind = TokenKind::kBraceR;
  EXPECT_EQ(TokenDescription(t), "\"}\"");
  t.kind = TokenKind::kName;
  t.value = "foo";
  EXPECT_EQ(TokenDescription(t), "Name \"foo\"");
  t.kind = TokenKind::kEof;
  EXPECT_EQ(TokenDescription(t), "<EOF>");
}

}  // namespace
}  // namespace eventide::graphql
