// The UTF-8 validator and the one parser of client JSON (src/common/utf8.h).
#include "src/common/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace eventide {
namespace {

TEST(Utf8Test, WellFormedSequencesPass) {
  EXPECT_TRUE(IsUtf8(""));
  EXPECT_TRUE(IsUtf8("plain ASCII, longer than one eight-byte word"));
  EXPECT_TRUE(IsUtf8("caf\xc3\xa9"));                     // U+00E9
  EXPECT_TRUE(IsUtf8("\xe2\x82\xac"));                    // U+20AC
  EXPECT_TRUE(IsUtf8("\xed\x9f\xbf"));                    // U+D7FF, below the surrogates
  EXPECT_TRUE(IsUtf8("\xee\x80\x80"));                    // U+E000, above them
  EXPECT_TRUE(IsUtf8("\xf0\x9f\x98\x80"));                // U+1F600
  EXPECT_TRUE(IsUtf8("\xf4\x8f\xbf\xbf"));                // U+10FFFF, the last
  EXPECT_TRUE(IsUtf8(std::string("nul \0 inside", 12)));  // U+0000 is a character
  EXPECT_TRUE(
      IsUtf8("12345678\xc3\xa9"
             "12345678\xf0\x9f\x98\x80"));  // around the fast path
}

TEST(Utf8Test, IllFormedSequencesAreFoundAtTheirFirstByte) {
  struct Case {
    std::string bytes;
    size_t at;
  };
  const Case cases[] = {
      {"\xff", 0},
      {"ab\xfe", 2},
      {"\x80", 0},              // a continuation byte first
      {"\xc0\xaf", 0},          // overlong '/'
      {"\xc1\xbf", 0},          // overlong
      {"\xe0\x9f\xbf", 0},      // overlong three-byte form
      {"\xf0\x8f\xbf\xbf", 0},  // overlong four-byte form
      {"\xed\xa0\x80", 0},      // U+D800, a surrogate
      {"\xed\xbf\xbf", 0},      // U+DFFF
      {"\xf4\x90\x80\x80", 0},  // U+110000
      {"\xf5\x80\x80\x80", 0},  // no such lead byte
      {"x\xc3", 1},             // truncated at the end
      {"\xe2\x82", 0},          // truncated
      {"\xc3\x28", 0},          // a bad continuation
      {"\xe2\x28\xa1", 0},
      {"0123456789abcdef\xf0\x9f\x98", 16},  // truncated after the fast path
  };
  for (const Case& c : cases) {
    EXPECT_EQ(FindInvalidUtf8(c.bytes), c.at) << c.bytes.size();
    EXPECT_FALSE(IsUtf8(c.bytes));
  }
}

TEST(Utf8Test, EveryTwoByteStringAgreesWithADecoder) {
  // Exhaustive over two bytes (and one trailing ASCII byte): the validator
  // accepts exactly what a straightforward decoder accepts.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      const std::string s{static_cast<char>(a), static_cast<char>(b)};
      bool want;
      if (a < 0x80) {
        want = b < 0x80;
      } else {
        want = a >= 0xc2 && a <= 0xdf && (b & 0xc0) == 0x80;
      }
      ASSERT_EQ(IsUtf8(s), want) << a << " " << b;
    }
  }
}

TEST(Utf8Test, LossyReplacesEachBadByte) {
  EXPECT_EQ(ToUtf8Lossy("ok caf\xc3\xa9"), "ok caf\xc3\xa9");
  EXPECT_EQ(ToUtf8Lossy("a\xff\xfe"
                        "b"),
            "a\xef\xbf\xbd\xef\xbf\xbd"
            "b");
  EXPECT_EQ(ToUtf8Lossy("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_TRUE(IsUtf8(ToUtf8Lossy("x\xc3")));
}

TEST(ParseJsonInputTest, Utf8JsonParses) {
  rapidjson::Document d;
  JsonInputResult r = ParseJsonInput(R"({"t":"caf\u00e9 \ud83d\ude00 \\udc00 \"q\""})", &d, "x");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(std::string(d["t"].GetString()), "caf\xc3\xa9 \xf0\x9f\x98\x80 \\udc00 \"q\"")
      << "an escaped backslash before 'udc00' is text, not an escape";
}

TEST(ParseJsonInputTest, InvalidUtf8AndLoneSurrogatesAreEncodingErrors) {
  const std::string cases[] = {
      "{\"t\":\"\xff\xfe\"}",
      "{\"t\":\"\xed\xa0\x80\"}",
      "{\"\xc3\x28\":1}",  // in a member name
      R"({"t":"\udc00"})",
      R"({"t":"a\uDFFFb"})",
      R"({"t":"\ud83d\ude00\ude00"})",  // a pair, then a lone low one
      R"({"t":"\ud800"})",
      R"({"t":"\ud800\u0041"})",
      R"(["\ud800\ud800"])",
  };
  for (const std::string& c : cases) {
    rapidjson::Document d;
    JsonInputResult r = ParseJsonInput(c, &d, "the body");
    EXPECT_EQ(r.error, JsonInputError::kEncoding) << c << ": " << r.message;
    EXPECT_EQ(r.code(), "invalid_utf8");
    EXPECT_EQ(r.message.rfind("the body is not valid UTF-8: ", 0), 0u) << r.message;
    EXPECT_TRUE(IsUtf8(r.message));
  }
}

TEST(ParseJsonInputTest, SyntaxErrorsKeepTheirCodeAndMessage) {
  rapidjson::Document d;
  JsonInputResult r = ParseJsonInput(R"({"t":)", &d, "the body");
  EXPECT_EQ(r.error, JsonInputError::kSyntax);
  EXPECT_EQ(r.code(), "invalid_json");
  EXPECT_EQ(r.message, "the body is not valid JSON: Invalid value. at byte 5");
}

}  // namespace
}  // namespace eventide
