// Validation of a subscription against an app's schema (src/graphql/plan.h).
#include "src/graphql/plan.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

namespace eventide::graphql {
namespace {

constexpr std::string_view kSdl = R"(
type Message @table(database: "d") @export(name: "message", sse: true) {
  id: ID! @primaryKey
  title: String!
  content: String!
  author: String
  tags: [String!]
  meta: JSON
}
type ChatRoom @table(database: "d") @export(sse: true) {
  id: ID! @primaryKey
  name: String
}
type Secret @table(database: "d") @export(name: "secret") {
  id: ID! @primaryKey
}
)";

class PlanTest : public ::testing::Test {
 protected:
  PlanTest() {
    Status s = schema::ParseSchema(kSdl, "t.graphql", &schema_);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  // Compiles `query` with the JSON `variables` ("" for none).
  bool Try(std::string_view query, Plan* plan, Error* err, std::string_view op_name = "",
           std::string_view variables = "") {
    Document doc;
    if (!ParseDocument(query, ParseLimits{}, &doc, err)) {
      ADD_FAILURE() << "syntax: " << err->message;
      return false;
    }
    rapidjson::Document vars;
    if (!variables.empty()) vars.Parse(variables.data(), variables.size());
    return Compile(doc, op_name, variables.empty() ? nullptr : &vars, schema_, CompileOptions{},
                   plan, err);
  }

  Plan MustCompile(std::string_view query, std::string_view op_name = "",
                   std::string_view variables = "") {
    Plan plan;
    Error err;
    EXPECT_TRUE(Try(query, &plan, &err, op_name, variables)) << query << ": " << err.message;
    return plan;
  }

  // The error as JSON, as the server would answer it.
  std::string ErrorOf(std::string_view query, std::string_view op_name = "",
                      std::string_view variables = "") {
    Plan plan;
    Error err;
    EXPECT_FALSE(Try(query, &plan, &err, op_name, variables)) << query;
    return ErrorsJson({err});
  }

  static std::string Keys(const Plan& p) {
    std::string out;
    for (const auto& f : p.fields) out += f.response_key + "=" + f.field_name + " ";
    return out;
  }

  schema::Schema schema_;
};

TEST_F(PlanTest, TableSubscription) {
  Plan p = MustCompile("subscription { message { id title content } }");
  EXPECT_EQ(p.table, "Message");
  EXPECT_EQ(p.root_key, "message");
  EXPECT_TRUE(p.record_id.empty());
  EXPECT_EQ(Keys(p), "id=id title=title content=content ");
  EXPECT_EQ(p.key, R"(["Message","message",["id","id"],["title","title"],["content","content"]])");
}

TEST_F(PlanTest, RootFieldMatchesExportOrTypeNameCaseInsensitively) {
  EXPECT_EQ(MustCompile("subscription { MESSAGE { id } }").table, "Message");
  EXPECT_EQ(MustCompile("subscription { Message { id } }").table, "Message");
  EXPECT_EQ(MustCompile("subscription { chatroom { id name } }").table, "ChatRoom");
  EXPECT_EQ(MustCompile("subscription { ChatRoom { id } }").root_key, "ChatRoom");
}

TEST_F(PlanTest, RecordSubscriptionById) {
  Plan p = MustCompile("subscription { message(id: \"msg-1\") { id } }");
  EXPECT_EQ(p.record_id, "msg-1");
  EXPECT_EQ(MustCompile("subscription { message(id: 42) { id } }").record_id, "42");
  EXPECT_EQ(MustCompile("subscription { message(id: null) { id } }").record_id, "");
  Plan v = MustCompile("subscription S($id: ID!) { message(id: $id) { id } }", "",
                       R"({"id":"msg-7"})");
  EXPECT_EQ(v.record_id, "msg-7");
  EXPECT_EQ(MustCompile("subscription ($id: String = \"d\") { message(id: $id) { id } }")
                .record_id,
            "d");
  EXPECT_EQ(MustCompile("subscription ($id: ID) { message(id: $id) { id } }").record_id, "")
      << "an absent nullable variable is no filter";
  EXPECT_EQ(p.key, MustCompile("subscription { message { id } }").key)
      << "the filter is not part of the output key";
}

TEST_F(PlanTest, AliasesAndTypename) {
  Plan p = MustCompile("subscription { m: message { __typename t: title id t: title } }");
  EXPECT_EQ(p.root_key, "m");
  EXPECT_EQ(Keys(p), "__typename=__typename t=title id=id ") << "the same key merges";
  EXPECT_TRUE(p.fields[0].typename_field);
  EXPECT_NE(p.key, MustCompile("subscription { message { __typename t: title id } }").key);
  EXPECT_EQ(p.key, MustCompile("subscription { m: message { __typename, t: title, id } }").key);
}

TEST_F(PlanTest, FragmentsAndDirectives) {
  Plan p = MustCompile(
      "subscription { message { ...F ... on Message { author } ... { content } "
      "tags @skip(if: true) meta @include(if: false) } }\n"
      "fragment F on Message { id title ...G }\nfragment G on Message { id }");
  EXPECT_EQ(Keys(p), "id=id title=title author=author content=content ");
  Plan v = MustCompile(
      "subscription ($a: Boolean!, $b: Boolean = true) { message { id @include(if: $a) title "
      "@skip(if: $b) author } }",
      "", R"({"a":false})");
  EXPECT_EQ(Keys(v), "author=author ");
  Plan root = MustCompile(
      "subscription { ...R } fragment R on Subscription { message { id } }");
  EXPECT_EQ(root.table, "Message");
  Plan skipped = MustCompile("subscription { chatroom @skip(if: true) { id } message { id } }");
  EXPECT_EQ(skipped.table, "Message") << "a skipped root field does not count";
}

TEST_F(PlanTest, FragmentBombCostsLinearWork) {
  std::string doc = "subscription { message { ...F0 } }\n";
  for (int i = 0; i < 40; ++i) {
    doc += "fragment F" + std::to_string(i) + " on Message { id ...F" + std::to_string(i + 1) +
           " ...F" + std::to_string(i + 1) + " }\n";
  }
  doc += "fragment F40 on Message { title }";
  EXPECT_EQ(Keys(MustCompile(doc)), "id=id title=title ");
}

TEST_F(PlanTest, OperationSelection) {
  std::string doc = "subscription A { message { id } } subscription B { chatroom { id } }";
  EXPECT_EQ(MustCompile(doc, "B").table, "ChatRoom");
  EXPECT_EQ(ErrorOf(doc),
            R"({"errors":[{"message":"Must provide operation name if query contains multiple operations."}]})");
  EXPECT_EQ(ErrorOf(doc, "C"), R"({"errors":[{"message":"Unknown operation named \"C\"."}]})");
  EXPECT_EQ(MustCompile("query Q { a } subscription S { message { id } }", "S").table, "Message")
      << "other operations are not validated";
}

TEST_F(PlanTest, UnknownFieldsAndTables) {
  EXPECT_EQ(ErrorOf("subscription { message { id x } }"),
            R"({"errors":[{"message":"Cannot query field \"x\" on type \"Message\".","locations":[{"line":1,"column":29}]}]})");
  EXPECT_EQ(ErrorOf("subscription {\n  nope { id }\n}"),
            R"({"errors":[{"message":"Cannot query field \"nope\" on type \"Subscription\".","locations":[{"line":2,"column":3}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { Title } }"),
            R"({"errors":[{"message":"Cannot query field \"Title\" on type \"Message\".","locations":[{"line":1,"column":26}]}]})")
      << "field names are case-sensitive";
  EXPECT_EQ(ErrorOf("subscription { secret { id } }"),
            R"({"errors":[{"message":"Subscriptions are not enabled for table \"Secret\": its @export does not turn on sse.","locations":[{"line":1,"column":16}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message @skip(if: true) { nope } chatroom { id } }"),
            R"({"errors":[{"message":"Cannot query field \"nope\" on type \"Message\".","locations":[{"line":1,"column":42}]}]})")
      << "a skipped root field's selection is validated too";
  EXPECT_EQ(ErrorOf("subscription { nope @skip(if: true) { id } }"),
            R"({"errors":[{"message":"Cannot query field \"nope\" on type \"Subscription\".","locations":[{"line":1,"column":16}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message @skip(if: true) { id } chatroom { nope } }"),
            R"({"errors":[{"message":"Cannot query field \"nope\" on type \"ChatRoom\".","locations":[{"line":1,"column":58}]}]})");
}

TEST_F(PlanTest, SingleRootFieldAndSelections) {
  EXPECT_EQ(ErrorOf("subscription { message { id } chatroom { id } }"),
            R"({"errors":[{"message":"Anonymous Subscription must select only one top level field.","locations":[{"line":1,"column":31}]}]})");
  EXPECT_EQ(ErrorOf("subscription S { message { id } m2: message { id } }"),
            R"({"errors":[{"message":"Subscription \"S\" must select only one top level field.","locations":[{"line":1,"column":33}]}]})");
  EXPECT_EQ(ErrorOf("subscription { __typename }"),
            R"({"errors":[{"message":"Anonymous Subscription must not select an introspection top level field.","locations":[{"line":1,"column":16}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message @skip(if: true) { id } }"),
            R"({"errors":[{"message":"Anonymous Subscription must select exactly one top level field: every one is skipped by @skip or @include.","locations":[{"line":1,"column":16}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message }"),
            R"({"errors":[{"message":"Field \"message\" of type \"Message\" must have a selection of subfields. Did you mean \"message { ... }\"?","locations":[{"line":1,"column":16}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { title { x } } }"),
            R"({"errors":[{"message":"Field \"title\" must not have a selection since type \"String!\" has no subfields.","locations":[{"line":1,"column":34}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { tags { x } } }"),
            R"({"errors":[{"message":"Field \"tags\" must not have a selection since type \"[String!]\" has no subfields.","locations":[{"line":1,"column":33}]}]})");
}

TEST_F(PlanTest, NotASubscription) {
  EXPECT_EQ(ErrorOf("{ message { id } }"),
            R"({"errors":[{"message":"An anonymous query cannot be served here: this endpoint streams subscriptions only; send a \"subscription\" operation.","locations":[{"line":1,"column":1}]}]})");
  EXPECT_EQ(ErrorOf("query Q { message { id } }"),
            R"({"errors":[{"message":"A query operation cannot be served here: this endpoint streams subscriptions only; send a \"subscription\" operation.","locations":[{"line":1,"column":1}]}]})");
  EXPECT_NE(ErrorOf("mutation { message { id } }").find("A mutation operation cannot"),
            std::string::npos);
}

TEST_F(PlanTest, ArgumentErrors) {
  EXPECT_EQ(ErrorOf("subscription { message(where: 1) { id } }"),
            R"({"errors":[{"message":"Unknown argument \"where\" on field \"Subscription.message\".","locations":[{"line":1,"column":24}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message(id: true) { id } }"),
            R"({"errors":[{"message":"ID cannot represent a non-string and non-integer value: true","locations":[{"line":1,"column":28}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message(id: \"a\", id: \"b\") { id } }"),
            R"({"errors":[{"message":"There can be only one argument named \"id\".","locations":[{"line":1,"column":24},{"line":1,"column":33}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message(id: \"\") { id } }"),
            R"({"errors":[{"message":"Argument \"id\" must not be an empty string.","locations":[{"line":1,"column":28}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { id(x: 1) } }"),
            R"({"errors":[{"message":"Unknown argument \"x\" on field \"Message.id\".","locations":[{"line":1,"column":29}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message(id: \"a\") { id } message(id: \"b\") { title } }"),
            R"({"errors":[{"message":"Fields \"message\" conflict because they have differing arguments. Use different aliases on the fields to fetch both if this was intentional.","locations":[{"line":1,"column":16},{"line":1,"column":40}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { a: id a: title } }"),
            R"({"errors":[{"message":"Fields \"a\" conflict because \"id\" and \"title\" are different fields. Use different aliases on the fields to fetch both if this was intentional.","locations":[{"line":1,"column":26},{"line":1,"column":32}]}]})");
}

TEST_F(PlanTest, VariableErrors) {
  EXPECT_EQ(ErrorOf("subscription { message(id: $id) { id } }"),
            R"({"errors":[{"message":"Variable \"$id\" is not defined.","locations":[{"line":1,"column":28},{"line":1,"column":1}]}]})");
  EXPECT_EQ(ErrorOf("subscription S { message(id: $id) { id } }"),
            R"({"errors":[{"message":"Variable \"$id\" is not defined by operation \"S\".","locations":[{"line":1,"column":30},{"line":1,"column":1}]}]})");
  EXPECT_EQ(ErrorOf("subscription ($id: ID!) { message(id: $id) { id } }"),
            R"({"errors":[{"message":"Variable \"$id\" of required type \"ID!\" was not provided.","locations":[{"line":1,"column":15}]}]})");
  EXPECT_EQ(ErrorOf("subscription ($id: ID!) { message(id: $id) { id } }", "", R"({"id":true})"),
            R"({"errors":[{"message":"Variable \"$id\" got invalid value true; ID cannot represent a non-string and non-integer value: true","locations":[{"line":1,"column":15}]}]})");
  EXPECT_EQ(ErrorOf("subscription ($id: Int) { message(id: $id) { id } }"),
            R"({"errors":[{"message":"Variable \"$id\" of type \"Int\" used in position expecting type \"ID\".","locations":[{"line":1,"column":15},{"line":1,"column":39}]}]})");
  EXPECT_EQ(ErrorOf("subscription ($id: Foo) { message { id } }"),
            R"({"errors":[{"message":"Unknown type \"Foo\".","locations":[{"line":1,"column":20}]}]})");
  EXPECT_EQ(ErrorOf("subscription ($m: Message) { message { id } }"),
            R"({"errors":[{"message":"Variable \"$m\" cannot be non-input type \"Message\".","locations":[{"line":1,"column":19}]}]})");
  EXPECT_EQ(ErrorOf("subscription ($a: ID, $a: ID) { message { id } }"),
            R"({"errors":[{"message":"There can be only one variable named \"$a\".","locations":[{"line":1,"column":15},{"line":1,"column":23}]}]})");
  EXPECT_EQ(ErrorOf("subscription ($n: Int = \"x\") { message { id } }"),
            R"({"errors":[{"message":"Int cannot represent non-integer or non 32-bit value: \"x\"","locations":[{"line":1,"column":25}]}]})");
}

TEST_F(PlanTest, DirectiveErrors) {
  EXPECT_EQ(ErrorOf("subscription { message { id @foo } }"),
            R"({"errors":[{"message":"Unknown directive \"@foo\".","locations":[{"line":1,"column":29}]}]})");
  EXPECT_EQ(ErrorOf("subscription @skip(if: true) { message { id } }"),
            R"({"errors":[{"message":"Directive \"@skip\" may not be used on SUBSCRIPTION.","locations":[{"line":1,"column":14}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { id @skip } }"),
            R"({"errors":[{"message":"Directive \"@skip\" argument \"if\" of type \"Boolean!\" is required, but it was not provided.","locations":[{"line":1,"column":29}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { id @skip(if: 1) } }"),
            R"({"errors":[{"message":"Boolean cannot represent a non boolean value: 1","locations":[{"line":1,"column":39}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { id @skip(if: null) } }"),
            R"({"errors":[{"message":"Expected value of type \"Boolean!\", found null.","locations":[{"line":1,"column":39}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { id @skip(if: true) @skip(if: true) } }"),
            R"({"errors":[{"message":"The directive \"@skip\" can only be used once at this location.","locations":[{"line":1,"column":29},{"line":1,"column":45}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { id @skip(if: true, x: 1) } }"),
            R"({"errors":[{"message":"Unknown argument \"x\" on directive \"@skip\".","locations":[{"line":1,"column":45}]}]})");
  EXPECT_EQ(ErrorOf("subscription ($b: Boolean) { message { id @skip(if: $b) } }"),
            R"({"errors":[{"message":"Argument \"if\" of non-null type \"Boolean!\" must not be null.","locations":[{"line":1,"column":53}]}]})");
}

TEST_F(PlanTest, FragmentErrors) {
  EXPECT_EQ(ErrorOf("subscription { message { ...F } }"),
            R"({"errors":[{"message":"Unknown fragment \"F\".","locations":[{"line":1,"column":26}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { ...F } } fragment F on Message { ...G } fragment G "
                    "on Message { ...F }"),
            R"({"errors":[{"message":"Cannot spread fragment \"F\" within itself.","locations":[{"line":1,"column":90}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { ...F } } fragment F on ChatRoom { id }"),
            R"({"errors":[{"message":"Fragment \"F\" cannot be spread here as objects of type \"Message\" can never be of type \"ChatRoom\".","locations":[{"line":1,"column":49}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { ... on Nope { id } } }"),
            R"({"errors":[{"message":"Unknown type \"Nope\".","locations":[{"line":1,"column":26}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { ... on String { id } } }"),
            R"({"errors":[{"message":"Fragment cannot condition on non composite type \"String\".","locations":[{"line":1,"column":26}]}]})");
  EXPECT_EQ(ErrorOf("subscription { message { id } } fragment F on Message { id } fragment F on "
                    "Message { id }"),
            R"({"errors":[{"message":"There can be only one fragment named \"F\".","locations":[{"line":1,"column":33},{"line":1,"column":62}]}]})");
}

TEST_F(PlanTest, DocumentRules) {
  EXPECT_EQ(ErrorOf("subscription { message { id } } { a }"),
            R"({"errors":[{"message":"This anonymous operation must be the only defined operation.","locations":[{"line":1,"column":1}]}]})");
  EXPECT_EQ(ErrorOf("subscription A { message { id } } subscription A { message { id } }", "A"),
            R"({"errors":[{"message":"There can be only one operation named \"A\".","locations":[{"line":1,"column":1},{"line":1,"column":35}]}]})");
}

TEST_F(PlanTest, CompileRequestBody) {
  Plan p;
  Error err;
  ASSERT_TRUE(CompileRequest(
      R"({"query":"subscription S($id: ID) { message(id: $id) { id title } }","operationName":"S","variables":{"id":"msg-1"},"extensions":{}})",
      schema_, CompileOptions{}, ParseLimits{}, &p, &err))
      << err.message;
  EXPECT_EQ(p.record_id, "msg-1");
  EXPECT_EQ(p.operation_name, "S");
  auto error_of = [&](std::string_view body) {
    Plan plan;
    Error e;
    EXPECT_FALSE(CompileRequest(body, schema_, CompileOptions{}, ParseLimits{}, &plan, &e)) << body;
    return ErrorsJson({e});
  };
  EXPECT_EQ(error_of("{"), R"({"errors":[{"message":"Request body is not valid JSON."}]})");
  EXPECT_EQ(error_of("[]"), R"({"errors":[{"message":"Request body must be a JSON object."}]})");
  EXPECT_EQ(error_of("{}"), R"({"errors":[{"message":"Request body has no \"query\" member."}]})");
  EXPECT_EQ(error_of(R"({"query":1})"), R"({"errors":[{"message":"\"query\" must be a string."}]})");
  EXPECT_EQ(error_of(R"({"query":"{a}","variables":[]})"),
            R"({"errors":[{"message":"\"variables\" must be an object or null."}]})");
  EXPECT_EQ(error_of(R"({"query":"subscription { message { nope } }","variables":null})"),
            R"({"errors":[{"message":"Cannot query field \"nope\" on type \"Message\".","locations":[{"line":1,"column":26}]}]})");
  EXPECT_EQ(error_of(R"({"query":"subscription {"})"),
            R"({"errors":[{"message":"Syntax Error: Expected Name, found <EOF>.","locations":[{"line":1,"column":15}]}]})");
}

TEST_F(PlanTest, RequireSseCanBeTurnedOff) {
  Document doc;
  Error err;
  ASSERT_TRUE(ParseDocument("subscription { secret { id } }", ParseLimits{}, &doc, &err));
  Plan p;
  CompileOptions options;
  options.require_sse = false;
  EXPECT_TRUE(Compile(doc, "", nullptr, schema_, options, &p, &err)) << err.message;
  EXPECT_EQ(p.table, "Secret");
}

}  // namespace
}  // namespace eventide::graphql
