// The one-pass shape of JSON text that input limits are judged on
// (src/common/json_shape.h), and ParseJsonInput's nesting limit.
#include "src/common/json_shape.h"

#include <gtest/gtest.h>

#include <string>

#include "src/common/utf8.h"

namespace eventide {
namespace {

constexpr size_t kAny = 1 << 30;

TEST(JsonShapeTest, DepthCountsArraysAndObjects) {
  EXPECT_EQ(ScanJsonShape("1", kAny, kAny).depth, 0u);
  EXPECT_EQ(ScanJsonShape("\"[[[\"", kAny, kAny).depth, 0u) << "brackets in a string";
  EXPECT_EQ(ScanJsonShape("{}", kAny, kAny).depth, 1u);
  EXPECT_EQ(ScanJsonShape(R"({"a":[1,{"b":[]}],"c":{}})", kAny, kAny).depth, 4u);
  EXPECT_EQ(ScanJsonShape(R"({"a\"[":"\\","b":[[]]})", kAny, kAny).depth, 3u)
      << "escaped quote and backslash inside strings";
}

TEST(JsonShapeTest, StopsOncePastTheLimit) {
  const std::string deep(1000000, '[');
  const JsonShape s = ScanJsonShape(deep, 64, kAny);
  EXPECT_EQ(s.depth, 65u);
  EXPECT_TRUE(s.too_deep(64));
  EXPECT_FALSE(ScanJsonShape(std::string(64, '[') + std::string(64, ']'), 64, kAny).too_deep(64));
  EXPECT_TRUE(ScanJsonShape(std::string(65, '[') + std::string(65, ']'), 64, kAny).too_deep(64));
}

TEST(JsonShapeTest, MembersAreCountedAtEveryDepth) {
  EXPECT_EQ(ScanJsonShape(R"({"a":1,"b":{"c":2,"d":[{"e":3}]},"f:g":"h:i"})", kAny, kAny).members,
            6u)
      << "colons inside strings are not members";
  EXPECT_EQ(ScanJsonShape("[1,2,3]", kAny, kAny).members, 0u);
}

TEST(JsonShapeTest, FindsTheFirstTopLevelFieldOverItsSize) {
  const std::string text = R"({"a":"xx","big":"0123456789","nested":{"x":"01234567890123"}})";
  JsonShape s = ScanJsonShape(text, kAny, 12);
  EXPECT_EQ(s.big_field, "nested") << "big is 12 bytes of JSON: at the limit, not past it";
  EXPECT_EQ(s.big_field_bytes, std::string(R"({"x":"01234567890123"})").size());
  s = ScanJsonShape(text, kAny, 11);
  EXPECT_EQ(s.big_field, "big");
  EXPECT_EQ(s.big_field_bytes, 12u);
  EXPECT_FALSE(ScanJsonShape(text, kAny, 100).has_big_field());
  EXPECT_FALSE(ScanJsonShape(R"(["0123456789"])", kAny, 2).has_big_field())
      << "only an object has fields";
  s = ScanJsonShape(R"({"a":1,"":"0123456789"})", kAny, 2);
  EXPECT_TRUE(s.has_big_field()) << "a member may be named \"\" (found by validate_fuzzer)";
  EXPECT_EQ(s.big_field, "");
  EXPECT_EQ(ScanJsonShape(R"({"last":"0123456789"})", kAny, 2).big_field, "last")
      << "the last member ends at the closing brace";
}

TEST(JsonShapeTest, MalformedTextGetsSomeShapeWithoutReadingPastTheEnd) {
  for (const char* t : {"\"", "\"\\", "{\"a\":", "{\"a", "]]]}", "{\"a\":\"\\\"}", ":::"}) {
    const JsonShape s = ScanJsonShape(t, 4, 1);
    EXPECT_LE(s.depth, 5u) << t;
  }
}

TEST(JsonShapeTest, ParseJsonInputRefusesDeepNestingBeforeParsing) {
  rapidjson::Document d;
  // A million '[' would overflow RapidJSON's recursive parse.
  JsonInputResult r = ParseJsonInput(std::string(1000000, '['), &d, "the body", 64);
  EXPECT_EQ(r.error, JsonInputError::kTooDeep);
  EXPECT_EQ(r.code(), "json_too_deep");
  EXPECT_EQ(r.message,
            "the body nests arrays and objects deeper than 64 levels (limits.json_depth)");
  const std::string at_limit = std::string(64, '[') + std::string(64, ']');
  EXPECT_TRUE(ParseJsonInput(at_limit, &d, "the body", 64).ok());
  EXPECT_EQ(ParseJsonInput(at_limit, &d, "the body", 63).code(), "json_too_deep");
  EXPECT_EQ(ParseJsonInput(std::string(100000, '{'), &d, "x").code(), "json_too_deep")
      << "the default limit applies where no configured one does";
}

TEST(JsonShapeTest, ParseJsonInputRefusesARawNul) {
  // RapidJSON stops at a NUL: "2\0[1]" parsed as 2, the rest unread (found
  // by validate_fuzzer when the scan and the DOM disagreed on its depth).
  rapidjson::Document d;
  JsonInputResult r = ParseJsonInput(std::string("{\"a\":1}\0{\"b\":", 13), &d, "the body");
  EXPECT_EQ(r.code(), "invalid_json");
  EXPECT_EQ(r.message, "the body is not valid JSON: a NUL byte at byte 7");
  EXPECT_TRUE(ParseJsonInput(R"({"a":"\u0000"})", &d, "the body").ok()) << "escaped, it is text";
}

}  // namespace
}  // namespace eventide
