// The GraphQL document parser (src/graphql/parser.h).
#include "src/graphql/parser.h"

#include <gtest/gtest.h>

#include <string>

#include "src/graphql/plan.h"

namespace eventide::graphql {
namespace {

Document MustParse(std::string_view src) {
  Document doc;
  Error err;
  EXPECT_TRUE(ParseDocument(src, ParseLimits{}, &doc, &err)) << src << ": " << err.message;
  return doc;
}

// The error as the server would answer it.
std::string ErrorOf(std::string_view src, const ParseLimits& limits = ParseLimits{}) {
  Document doc;
  Error err;
  EXPECT_FALSE(ParseDocument(src, limits, &doc, &err)) << src;
  EXPECT_EQ(err.locations.size(), 1u);
  return ErrorsJson({err});
}

TEST(ParserTest, TheSpecExample) {
  Document doc = MustParse("subscription { message { id title content } }");
  ASSERT_EQ(doc.operations.size(), 1u);
  const Operation& op = doc.operations[0];
  EXPECT_EQ(op.type, Operation::Type::kSubscription);
  EXPECT_TRUE(op.name.empty());
  ASSERT_EQ(op.selection_set.size(), 1u);
  const Selection& root = op.selection_set[0];
  EXPECT_EQ(root.name, "message");
  EXPECT_EQ(root.loc, (Location{1, 16}));
  ASSERT_EQ(root.selection_set.size(), 3u);
  EXPECT_EQ(root.selection_set[2].name, "content");
}

TEST(ParserTest, OperationsNamesVariablesDirectives) {
  Document doc = MustParse(
      "query Q { a }\n"
      "mutation M { b }\n"
      "subscription S($id: ID! = \"x\", $f: [Int!]! @dir, $o: In = {a: [1, 2.5, \"s\", true, "
      "null, E]}) @op { m(id: $id) @include(if: true) { id } }\n"
      "{ shorthand }\n");
  ASSERT_EQ(doc.operations.size(), 4u);
  EXPECT_EQ(doc.operations[0].type, Operation::Type::kQuery);
  EXPECT_EQ(doc.operations[1].type, Operation::Type::kMutation);
  const Operation& s = doc.operations[2];
  EXPECT_EQ(s.name, "S");
  ASSERT_EQ(s.variables.size(), 3u);
  EXPECT_EQ(s.variables[0].type.ToString(), "ID!");
  EXPECT_TRUE(s.variables[0].has_default);
  EXPECT_EQ(s.variables[0].default_value.text, "x");
  EXPECT_EQ(s.variables[1].type.ToString(), "[Int!]!");
  EXPECT_EQ(s.variables[1].directives[0].name, "dir");
  const Value& o = s.variables[2].default_value;
  ASSERT_EQ(o.kind, Value::Kind::kObject);
  ASSERT_EQ(o.fields[0].value.items.size(), 6u);
  EXPECT_EQ(o.fields[0].value.items[0].kind, Value::Kind::kInt);
  EXPECT_EQ(o.fields[0].value.items[1].kind, Value::Kind::kFloat);
  EXPECT_EQ(o.fields[0].value.items[2].kind, Value::Kind::kString);
  EXPECT_EQ(o.fields[0].value.items[3].kind, Value::Kind::kBoolean);
  EXPECT_EQ(o.fields[0].value.items[4].kind, Value::Kind::kNull);
  EXPECT_EQ(o.fields[0].value.items[5].kind, Value::Kind::kEnum);
  EXPECT_EQ(s.directives[0].name, "op");
  const Selection& m = s.selection_set[0];
  EXPECT_EQ(m.arguments[0].value.kind, Value::Kind::kVariable);
  EXPECT_EQ(m.arguments[0].value.text, "id");
  EXPECT_EQ(m.directives[0].name, "include");
  EXPECT_TRUE(doc.operations[3].shorthand);
}

TEST(ParserTest, AliasesFragmentsAndInlineFragments) {
  Document doc = MustParse(
      "subscription { m: message { t: title ...F ... on Message { id } ... @skip(if: false) { "
      "author } } }\n"
      "fragment F on Message { content }");
  const Selection& root = doc.operations[0].selection_set[0];
  EXPECT_EQ(root.alias, "m");
  EXPECT_EQ(root.name, "message");
  EXPECT_EQ(root.ResponseKey(), "m");
  ASSERT_EQ(root.selection_set.size(), 4u);
  EXPECT_EQ(root.selection_set[0].ResponseKey(), "t");
  EXPECT_EQ(root.selection_set[1].kind, Selection::Kind::kFragmentSpread);
  EXPECT_EQ(root.selection_set[1].name, "F");
  EXPECT_EQ(root.selection_set[2].kind, Selection::Kind::kInlineFragment);
  EXPECT_EQ(root.selection_set[2].type_condition, "Message");
  EXPECT_TRUE(root.selection_set[3].type_condition.empty());
  ASSERT_EQ(doc.fragments.size(), 1u);
  EXPECT_EQ(doc.fragments[0].type_condition, "Message");
}

TEST(ParserTest, CommasAndCommentsAreIgnored) {
  Document doc = MustParse("# hi\nsubscription,{,message(id:\"1\",),{id,,title}}# end");
  EXPECT_EQ(doc.operations[0].selection_set[0].selection_set.size(), 2u);
}

TEST(ParserTest, SyntaxErrorsHaveLocations) {
  EXPECT_EQ(ErrorOf("subscription { message { }"),
            R"({"errors":[{"message":"Syntax Error: Expected Name, found \"}\".","locations":[{"line":1,"column":26}]}]})");
  EXPECT_EQ(ErrorOf(""),
            R"({"errors":[{"message":"Syntax Error: Unexpected <EOF>.","locations":[{"line":1,"column":1}]}]})");
  EXPECT_EQ(ErrorOf("subscription {\n  message {\n    id\n"),
            R"({"errors":[{"message":"Syntax Error: Expected Name, found <EOF>.","locations":[{"line":4,"column":1}]}]})");
  EXPECT_EQ(ErrorOf("subscription"),
            R"({"errors":[{"message":"Syntax Error: Expected \"{\", found <EOF>.","locations":[{"line":1,"column":13}]}]})");
  EXPECT_EQ(ErrorOf("type Foo { a: Int }"),
            R"({"errors":[{"message":"Syntax Error: Unexpected Name \"type\".","locations":[{"line":1,"column":1}]}]})");
  EXPECT_EQ(ErrorOf("{ a(x: ) }"),
            R"({"errors":[{"message":"Syntax Error: Unexpected \")\".","locations":[{"line":1,"column":8}]}]})");
  EXPECT_EQ(ErrorOf("{ a() }"),
            R"({"errors":[{"message":"Syntax Error: Expected Name, found \")\".","locations":[{"line":1,"column":5}]}]})");
  EXPECT_EQ(ErrorOf("fragment on on X { a }"),
            R"({"errors":[{"message":"Syntax Error: Unexpected Name \"on\".","locations":[{"line":1,"column":10}]}]})");
  EXPECT_EQ(ErrorOf("fragment F X { a }"),
            R"({"errors":[{"message":"Syntax Error: Expected \"on\", found Name \"X\".","locations":[{"line":1,"column":12}]}]})");
  EXPECT_EQ(ErrorOf("query ($a: Int = $b) { a }"),
            R"({"errors":[{"message":"Syntax Error: Unexpected variable \"$b\" in constant value.","locations":[{"line":1,"column":18}]}]})");
  EXPECT_EQ(ErrorOf("query ($a) { a }"),
            R"({"errors":[{"message":"Syntax Error: Expected \":\", found \")\".","locations":[{"line":1,"column":10}]}]})");
  EXPECT_EQ(ErrorOf("{ a }}"),
            R"({"errors":[{"message":"Syntax Error: Unexpected \"}\".","locations":[{"line":1,"column":6}]}]})");
  EXPECT_EQ(ErrorOf("{ a @ }"),
            R"({"errors":[{"message":"Syntax Error: Expected Name, found \"}\".","locations":[{"line":1,"column":7}]}]})");
  EXPECT_EQ(ErrorOf("{ ... }"),
            R"({"errors":[{"message":"Syntax Error: Expected \"{\", found \"}\".","locations":[{"line":1,"column":7}]}]})");
  EXPECT_EQ(ErrorOf("{ a(x: \"unterminated) }"),
            R"({"errors":[{"message":"Syntax Error: Unterminated string.","locations":[{"line":1,"column":24}]}]})");
}

TEST(ParserTest, DocumentSizeLimit) {
  ParseLimits limits;
  limits.max_document_bytes = 16;
  EXPECT_EQ(ErrorOf("subscription { message { id } }", limits),
            R"({"errors":[{"message":"Syntax Error: Document is larger than 16 bytes.","locations":[{"line":1,"column":1}]}]})");
}

TEST(ParserTest, NestingLimit) {
  std::string deep = "{ a ";
  for (int i = 0; i < 40; ++i) deep += "{ a ";
  EXPECT_EQ(ErrorOf(deep),
            R"({"errors":[{"message":"Syntax Error: Document nesting exceeds 32 levels.","locations":[{"line":1,"column":129}]}]})");
  std::string list = "{ a(x: " + std::string(100000 / 2, '[') + ") }";
  ParseLimits big;
  big.max_document_bytes = 1 << 20;
  EXPECT_NE(ErrorOf(list, big).find("Document nesting exceeds 32 levels."), std::string::npos);
  std::string type = "query ($a: " + std::string(40, '[') + "Int" + std::string(40, ']') + ") { a }";
  EXPECT_NE(ErrorOf(type).find("Document nesting exceeds 32 levels."), std::string::npos);
}

TEST(ParserTest, TokenLimit) {
  ParseLimits limits;
  limits.max_tokens = 10;
  EXPECT_TRUE([&] {
    Document doc;
    Error err;
    return ParseDocument("{ a b c d e f g }", limits, &doc, &err);
  }());
  EXPECT_NE(ErrorOf("{ a b c d e f g h i }", limits)
                .find("Syntax Error: Document contains more than 10 tokens. Parsing aborted."),
            std::string::npos);
}

TEST(ParserTest, BlockStringArgument) {
  Document doc = MustParse("{ a(x: \"\"\"\n  one\n  two\n\"\"\") }");
  const Value& v = doc.operations[0].selection_set[0].arguments[0].value;
  EXPECT_TRUE(v.block);
  EXPECT_EQ(v.text, "one\ntwo");
}

}  // namespace
}  // namespace eventide::graphql
