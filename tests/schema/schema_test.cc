// The GraphQL-SDL subset parser (src/schema/schema.h) and record validation
// (src/schema/validate.h).
#include "src/schema/schema.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <iterator>
#include <string>

#include "src/schema/validate.h"

namespace eventide::schema {
namespace {

Schema MustParse(std::string_view text) {
  Schema s;
  Status st = ParseSchema(text, "s.graphql", &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

std::string ErrorOf(std::string_view text) {
  Schema s;
  Status st = ParseSchema(text, "s.graphql", &s);
  EXPECT_FALSE(st.ok()) << text;
  EXPECT_TRUE(s.tables.empty());
  return st.message();
}

TEST(SchemaTest, ParsesTheDemoSchema) {
  std::ifstream in(EVENTIDE_SOURCE_DIR "/apps/realtime-demo/schema.graphql");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Schema s = MustParse(text);
  ASSERT_EQ(s.tables.size(), 1u);
  const Table& t = s.tables[0];
  EXPECT_EQ(t.name, "Message");
  EXPECT_EQ(t.export_name, "message");
  EXPECT_EQ(t.database, "realtime-demo");
  EXPECT_TRUE(t.exported && t.rest && t.sse && t.ws);
  ASSERT_EQ(t.fields.size(), 6u);
  EXPECT_EQ(t.fields[t.primary_key].name, "id");
  EXPECT_EQ(t.fields[0].type.scalar, Scalar::kID);
  EXPECT_TRUE(t.fields[0].type.required);
  EXPECT_TRUE(t.FindField("title")->type.required);
  EXPECT_FALSE(t.FindField("author")->type.required);
  EXPECT_TRUE(t.FindField("__createdAt__")->server_set);
  EXPECT_EQ(s.FindByExportName("MESSAGE"), &t);
  EXPECT_EQ(s.FindByName("Message"), &t);
  EXPECT_EQ(s.FindByName("message"), nullptr);
}

TEST(SchemaTest, SeedStyleMultilineExportWithoutCommas) {
  Schema s = MustParse(
      "type Message @table(database: \"d\") @export(\n    rest: true\n    sse: true\n) {\n"
      "  id: ID! @primaryKey\n}\n");
  EXPECT_TRUE(s.tables[0].rest && s.tables[0].sse);
  EXPECT_FALSE(s.tables[0].ws) << "streams are opt-in";
  EXPECT_EQ(s.tables[0].export_name, "Message");
}

TEST(SchemaTest, ExportDefaultsAndNoExport) {
  Schema s = MustParse("type A @export { id: ID }\ntype B { id: ID }\n");
  EXPECT_TRUE(s.tables[0].exported && s.tables[0].rest);
  EXPECT_FALSE(s.tables[0].sse || s.tables[0].ws);
  EXPECT_FALSE(s.tables[1].exported || s.tables[1].rest);
}

TEST(SchemaTest, PrimaryKeyByDirectiveOrByName) {
  Schema s = MustParse(
      "type A { name: String  key: Int! @primaryKey }\n"
      "type B { x: String id: ID! }\n");
  EXPECT_EQ(s.tables[0].fields[s.tables[0].primary_key].name, "key");
  EXPECT_EQ(s.tables[1].fields[s.tables[1].primary_key].name, "id");
  EXPECT_TRUE(s.tables[1].fields[1].primary_key);
}

TEST(SchemaTest, ListsNonNullCommentsAndPolicy) {
  Schema s = MustParse(
      "# a comment\n"
      "type A @policy(read: \"owner = $auth.sub\", write: \"owner = $auth.sub\") {\n"
      "  id: ID!, tags: [String!]!, scores: [Float], meta: JSON # trailing\n}\n");
  const Table& t = s.tables[0];
  EXPECT_EQ(t.policy_read, "owner = $auth.sub");
  EXPECT_EQ(t.policy_write, "owner = $auth.sub");
  const Field* tags = t.FindField("tags");
  EXPECT_TRUE(tags->type.list && tags->type.required && tags->type.item_required);
  const Field* scores = t.FindField("scores");
  EXPECT_TRUE(scores->type.list && !scores->type.required && !scores->type.item_required);
  EXPECT_EQ(t.FindField("meta")->type.scalar, Scalar::kJSON);
}

TEST(SchemaTest, ErrorsNameFileLineAndColumn) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"type A {\n  id: ID!\n  x: Strin\n}", "s.graphql:3:6: unknown type 'Strin'"},
      {"type A @tabel { id: ID }", "s.graphql:1:8: unknown type directive @tabel"},
      {"type A {\n  id: ID\n  id: String\n}", "s.graphql:3:3: field 'id' is declared twice"},
      {"type A { a: ID @primaryKey b: ID @primaryKey }",
       "s.graphql:1:34: type A has two @primaryKey"},
      {"type A { name: String }", "s.graphql:1:6: type A has no primary key"},
      {"type A @export(name: \"a) { id: ID }", "s.graphql:1:22: unterminated string"},
      {"type A @table(database: 1.2.3) { id: ID }", "s.graphql:1:25: malformed number"},
      {"type A @export(name: \"x\") { id: ID }\ntype B @export(name: \"X\") { id: ID }",
       "s.graphql:2:1: type B (URL name 'X') clashes with type A"},
      {"type A { id: ID", "s.graphql:1:16: type A is not closed"},
      {"type A { id: [[ID]] }", "s.graphql:1:15: lists of lists are not supported"},
      {"type A { id: ID @unique }", "s.graphql:1:17: unknown field directive @unique"},
      {"type A @export(rest: \"yes\") { id: ID }",
       "s.graphql:1:22: @export(rest:) must be true or false"},
      {"type A @export(colour: red) { id: ID }", "s.graphql:1:24: unknown argument 'colour'"},
      {"input A { id: ID }", "s.graphql:1:1: expected 'type'"},
      {"type A { id: Float }", "primary key 'id' of type A must be an ID, String or Int"},
      {"type A { id: ID __createdAt__: Int }", "__createdAt__ is set by the server"},
      {"type A {}", "type A has no fields"},
  };
  for (const Case& c : cases) {
    std::string e = ErrorOf(c.text);
    EXPECT_NE(e.find(c.error), std::string::npos) << "input: " << c.text << "\nerror: " << e;
  }
}

TEST(SchemaTest, ClashWithAnEarlierFileIsAnError) {
  Schema s;
  ASSERT_TRUE(ParseSchema("type A { id: ID }", "one.graphql", &s).ok());
  Status st = ParseSchema("type A { id: ID }", "two.graphql", &s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("one.graphql:1"), std::string::npos) << st.ToString();
  EXPECT_EQ(s.tables.size(), 1u);
}

// ---- Validation ----

class ValidateTest : public ::testing::Test {
 protected:
  ValidateTest() {
    EXPECT_TRUE(ParseSchema("type T { id: ID! title: String! n: Int f: Float b: Boolean "
                            "tags: [String!] any: JSON __createdAt__: String }",
                            "t.graphql", &schema_)
                    .ok());
  }
  std::optional<Violation> Check(const char* json, WriteMode mode = WriteMode::kCreate) {
    rapidjson::Document d;
    d.Parse(json);
    EXPECT_FALSE(d.HasParseError()) << json;
    return Validate(schema_.tables[0], d, mode);
  }
  Schema schema_;
};

TEST_F(ValidateTest, AValidRecordPasses) {
  EXPECT_FALSE(Check(R"({"title":"t","n":3,"f":1.5,"b":true,"tags":["a"],"any":{"x":[1]}})"));
  EXPECT_FALSE(Check(R"({"id":"x","title":"t","f":2})")) << "an integer is a Float";
  EXPECT_FALSE(Check(R"({"id":7,"title":"t"})")) << "an integer is an ID";
}

TEST_F(ValidateTest, MissingRequiredFieldOnCreateAndReplace) {
  for (WriteMode m : {WriteMode::kCreate, WriteMode::kReplace}) {
    auto v = Check(R"({"n":1})", m);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->field, "title");
    EXPECT_EQ(v->message, "field 'title' is required");
  }
  EXPECT_FALSE(Check(R"({"n":1})", WriteMode::kMerge)) << "merge checks only what is present";
}

TEST_F(ValidateTest, UnknownFieldIsRefused) {
  auto v = Check(R"({"title":"t","colour":"red"})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->field, "colour");
  EXPECT_NE(v->message.find("unknown field 'colour'"), std::string::npos);
}

TEST_F(ValidateTest, WrongTypesAreNamed) {
  struct Case {
    const char* json;
    const char* field;
    const char* message;
  };
  const Case cases[] = {
      {R"({"title":5})", "title", "field 'title' must be String, got integer"},
      {R"({"title":"t","n":1.5})", "n", "field 'n' must be Int, got number"},
      {R"({"title":"t","n":"1"})", "n", "field 'n' must be Int, got string"},
      {R"({"title":"t","b":"true"})", "b", "field 'b' must be Boolean, got string"},
      {R"({"title":"t","f":"1"})", "f", "field 'f' must be Float, got string"},
      {R"({"title":"t","tags":"a"})", "tags", "must be a list [String!], got string"},
      {R"({"title":"t","tags":["a",1]})", "tags", "item 1 must be String, got integer"},
      {R"({"title":"t","tags":["a",null]})", "tags", "item 1 cannot be null"},
      {R"({"id":"","title":"t"})", "id", "field 'id' must not be empty"},
      {R"({"id":true,"title":"t"})", "id", "field 'id' must be ID, got boolean"},
  };
  for (const Case& c : cases) {
    auto v = Check(c.json);
    ASSERT_TRUE(v) << c.json;
    EXPECT_EQ(v->field, c.field) << c.json;
    EXPECT_NE(v->message.find(c.message), std::string::npos) << c.json << ": " << v->message;
  }
}

TEST_F(ValidateTest, NullIsAllowedOnlyForOptionalFields) {
  EXPECT_FALSE(Check(R"({"title":"t","n":null,"tags":null})"));
  auto v = Check(R"({"title":null})", WriteMode::kMerge);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->message, "field 'title' is required and cannot be null");
}

TEST_F(ValidateTest, ServerSetFieldsAreAcceptedAndIgnored) {
  EXPECT_FALSE(Check(R"({"title":"t","__createdAt__":12345})"));
}

TEST_F(ValidateTest, BodyMustBeAnObject) {
  auto v = Check("[1]");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->field, "");
}

}  // namespace
}  // namespace eventide::schema
