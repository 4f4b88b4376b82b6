#include "src/policy/policy.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <set>
#include <string>

namespace eventide::policy {
namespace {

const std::set<std::string> kColumns = {"author_id", "account", "published", "score", "title"};

bool IsField(std::string_view n) { return kColumns.count(std::string(n)) != 0; }

std::shared_ptr<const Policy> MustParse(std::string_view text) {
  auto p = Policy::Parse(text, IsField);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status().ToString();
  return p.ok() ? *p : nullptr;
}

std::string ParseError(std::string_view text) {
  auto p = Policy::Parse(text, IsField);
  EXPECT_FALSE(p.ok()) << text << " parsed as " << (p.ok() ? (*p)->ToString() : "");
  return p.ok() ? "" : std::string(p.status().message());
}

// Whether `rule` admits `record` for a principal with `claims` ("" = anonymous).
bool Allows(std::string_view rule, std::string_view record, std::string_view claims) {
  auto p = MustParse(rule);
  if (!p) return false;
  rapidjson::Document r;
  r.Parse(record.data(), record.size());
  Row row;
  p->Extract(r, &row);
  return p->Bind(claims).Allows(row);
}

TEST(PolicyTest, ComparesFieldsWithClaimsAndLiterals) {
  EXPECT_TRUE(Allows("author_id = $auth.sub", R"({"author_id":"ann"})", R"({"sub":"ann"})"));
  EXPECT_FALSE(Allows("author_id = $auth.sub", R"({"author_id":"bob"})", R"({"sub":"ann"})"));
  EXPECT_TRUE(Allows("$auth.sub = author_id", R"({"author_id":"ann"})", R"({"sub":"ann"})"));
  EXPECT_TRUE(Allows("published = true", R"({"published":true})", ""));
  EXPECT_FALSE(Allows("published = true", R"({"published":false})", ""));
  EXPECT_TRUE(Allows("score = 3", R"({"score":3.0})", ""));
  EXPECT_TRUE(Allows("score != 3", R"({"score":4})", ""));
  EXPECT_TRUE(Allows(R"(title = "say \"hi\"")", R"({"title":"say \"hi\""})", ""));
  EXPECT_TRUE(Allows(R"(title = 'a\'b')", R"({"title":"a'b"})", ""));
  EXPECT_TRUE(Allows("account = $auth.account", R"({"account":7})", R"({"account":7})"));
}

TEST(PolicyTest, NoCoercionBetweenKinds) {
  EXPECT_FALSE(Allows("score = '3'", R"({"score":3})", ""));
  EXPECT_FALSE(Allows("published = 'true'", R"({"published":true})", ""));
  EXPECT_FALSE(Allows("account = $auth.account", R"({"account":"7"})", R"({"account":7})"));
}

TEST(PolicyTest, AndOrAndParentheses) {
  const char* rule = "published = true or (author_id = $auth.sub and account = $auth.account)";
  EXPECT_TRUE(Allows(rule, R"({"published":true})", ""));
  EXPECT_TRUE(Allows(rule, R"({"author_id":"a","account":"x"})", R"({"sub":"a","account":"x"})"));
  EXPECT_FALSE(Allows(rule, R"({"author_id":"a","account":"y"})", R"({"sub":"a","account":"x"})"));
  // `and` binds tighter than `or`.
  const char* flat = "published = true or author_id = $auth.sub and account = $auth.account";
  EXPECT_EQ(MustParse(flat)->ToString(), MustParse(rule)->ToString());
  EXPECT_TRUE(
      Allows("(published = true or score = 1) and title = 'x'", R"({"score":1,"title":"x"})", ""));
  EXPECT_FALSE(
      Allows("(published = true or score = 1) and title = 'x'", R"({"score":1,"title":"y"})", ""));
}

TEST(PolicyTest, MissingClaimsDenyAndMissingFieldsAreNull) {
  // Anonymous, or a token without the claim: a comparison with it is false,
  // whichever way it is written.
  EXPECT_FALSE(Allows("author_id = $auth.sub", R"({"author_id":"ann"})", ""));
  EXPECT_FALSE(Allows("author_id != $auth.sub", R"({"author_id":"ann"})", ""));
  EXPECT_FALSE(Allows("author_id = $auth.sub", R"({})", R"({"role":"x"})"));
  EXPECT_TRUE(Allows("author_id = null", R"({})", ""));
  EXPECT_TRUE(Allows("author_id = null", R"({"author_id":null})", ""));
  EXPECT_FALSE(Allows("author_id = null", R"({"author_id":"a"})", ""));
  // A record that is not an object has every field null.
  EXPECT_TRUE(Allows("title = null", R"("just a string")", ""));
  // Objects and arrays equal nothing.
  EXPECT_FALSE(Allows("title = $auth.sub", R"({"title":{"a":1}})", R"({"sub":{"a":1}})"));
}

TEST(PolicyTest, ErrorsNameTheColumnAndThePlace) {
  EXPECT_EQ(ParseError("autor = $auth.sub"), "at character 1: unknown column 'autor'");
  EXPECT_EQ(ParseError("author_id = $auth."),
            "at character 19: expected a claim name after $auth.");
  EXPECT_EQ(ParseError("author_id = $user.sub"), "at character 13: expected $auth.CLAIM");
  EXPECT_EQ(ParseError("author_id"), "at character 10: expected '=' or '!=' after an operand");
  EXPECT_EQ(ParseError("author_id = 'x"), "at character 13: unterminated string");
  EXPECT_EQ(ParseError("(published = true"), "at character 18: expected ')'");
  EXPECT_EQ(ParseError("published = true and"),
            "at character 21: expected a field, $auth.CLAIM or a literal");
  EXPECT_EQ(ParseError("published = true published = false"),
            "at character 18: expected 'and', 'or' or the end of the rule");
  EXPECT_EQ(ParseError("score = 01"), "at character 9: malformed number");
  EXPECT_EQ(ParseError("score = 1x"), "at character 9: malformed number");
  EXPECT_EQ(ParseError("score = 1e999"), "at character 9: number out of range");
  EXPECT_EQ(ParseError("score < 1"), "at character 7: expected '=' or '!=' after an operand");
  EXPECT_EQ(ParseError(""), "at character 1: expected a field, $auth.CLAIM or a literal");
  EXPECT_EQ(ParseError("score = 1 or or"),
            "at character 14: expected a field, $auth.CLAIM or a literal before 'or'");
  EXPECT_EQ(ParseError("title = 'a\\b'"),
            "at character 12: only \\\\, \\\" and \\' are escapes in a string");
  EXPECT_FALSE(
      Policy::Parse(std::string(100, '(') + "score = 1" + std::string(100, ')'), IsField).ok());
}

TEST(PolicyTest, NamesAreCollectedOnceAndPrintingRoundTrips) {
  auto p = MustParse("author_id = $auth.sub or (author_id = 'x' and $auth.sub != account)");
  EXPECT_EQ(p->fields(), (std::vector<std::string>{"author_id", "account"}));
  EXPECT_EQ(p->claims(), (std::vector<std::string>{"sub"}));
  const std::string printed = p->ToString();
  EXPECT_EQ(printed,
            R"((author_id = $auth.sub) or ((author_id = "x") and ($auth.sub != account)))");
  EXPECT_EQ(MustParse(printed)->ToString(), printed);
}

TEST(PolicyTest, AndCombinesTwoRules) {
  auto tenant = Policy::Parse("__tenant__ = $auth.account",
                              [](std::string_view n) { return n == "__tenant__"; });
  ASSERT_TRUE(tenant.ok());
  auto both = Policy::And(*tenant, MustParse("published = true or author_id = $auth.sub"));
  EXPECT_EQ(both->ToString(),
            R"((__tenant__ = $auth.account) and ((published = true) or (author_id = $auth.sub)))");
  rapidjson::Document r;
  r.Parse(R"({"__tenant__":"acme","author_id":"ann","published":false})");
  Row row;
  both->Extract(r, &row);
  EXPECT_TRUE(both->Bind(R"({"account":"acme","sub":"ann"})").Allows(row));
  EXPECT_FALSE(both->Bind(R"({"account":"other","sub":"ann"})").Allows(row));
  EXPECT_FALSE(both->Bind(R"({"account":"acme","sub":"bob"})").Allows(row));
  EXPECT_EQ(Policy::And(nullptr, *tenant), *tenant);
}

TEST(PolicyTest, AnEmptyBoundAllowsEverything) {
  Bound none;
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(none.Allows({}));
}

}  // namespace
}  // namespace eventide::policy
