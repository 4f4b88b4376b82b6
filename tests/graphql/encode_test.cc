// The graphql-sse encoder (src/graphql/encode.h).
#include "src/graphql/encode.h"

#include <gtest/gtest.h>

#include <string>

namespace eventide::graphql {
namespace {

class EncodeTest : public ::testing::Test {
 protected:
  EncodeTest() {
    Status s = schema::ParseSchema(
        "type Message @table(database: \"d\") @export(name: \"message\", sse: true) {\n"
        "  id: ID! @primaryKey\n  title: String!\n  content: String!\n  author: String\n"
        "  tags: [String!]\n  meta: JSON\n}\n",
        "t.graphql", &schema_);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  Plan MustCompile(std::string_view query) {
    Document doc;
    Error err;
    Plan plan;
    EXPECT_TRUE(ParseDocument(query, ParseLimits{}, &doc, &err)) << err.message;
    EXPECT_TRUE(Compile(doc, "", nullptr, schema_, CompileOptions{}, &plan, &err)) << err.message;
    return plan;
  }

  static event::Event Ev(event::Op op, std::string_view id, std::string_view data) {
    event::Event e;
    e.op = op;
    e.app = "realtime-demo";
    e.table = "Message";
    e.id = id;
    e.data = data;
    return e;
  }

  // The "next" event, or "<skipped>" when the plan does not deliver it.
  static std::string Next(const Plan& p, uint64_t position, const event::Event& e) {
    std::string out;
    if (!AppendNextEvent(p, wal::Position(position), e, &out)) {
      EXPECT_TRUE(out.empty());
      return "<skipped>";
    }
    return out;
  }

  schema::Schema schema_;
};

TEST_F(EncodeTest, TheSpecExample) {
  Plan p = MustCompile("subscription { message { id title content } }");
  EXPECT_EQ(Next(p, 42, Ev(event::Op::kCreate, "msg-1",
                           R"({"id":"msg-1","title":"Hello","content":"World","author":"a"})")),
            "event: next\nid: 42\n"
            "data: {\"data\":{\"message\":{\"id\":\"msg-1\",\"title\":\"Hello\",\"content\":\"World\"}}}"
            "\n\n");
}

TEST_F(EncodeTest, SelectionOrderAliasesTypenameAndMissingFields) {
  Plan p = MustCompile("subscription { m: message { who: author __typename id t: title } }");
  EXPECT_EQ(Next(p, 7, Ev(event::Op::kUpdate, "msg-1", R"({"title":"Hi","id":"msg-1"})")),
            "event: next\nid: 7\n"
            "data: {\"data\":{\"m\":{\"who\":null,\"__typename\":\"Message\",\"id\":\"msg-1\",\"t\":"
            "\"Hi\"}}}\n\n");
}

TEST_F(EncodeTest, ValuesAreReserializedCompactly) {
  Plan p = MustCompile("subscription { message { tags meta title } }");
  EXPECT_EQ(Next(p, 1, Ev(event::Op::kCreate, "x",
                          "{ \"tags\" : [ \"a\" ,\n \"b\" ], \"meta\": {\"n\": 1.5, \"s\": "
                          "\"line\\nbreak \\u00e9\"}, \"title\": \"\\\"q\\\"\" }")),
            "event: next\nid: 1\n"
            "data: {\"data\":{\"message\":{\"tags\":[\"a\",\"b\"],\"meta\":{\"n\":1.5,\"s\":\"line\\n"
            "break \xC3\xA9\"},\"title\":\"\\\"q\\\"\"}}}\n\n")
      << "no raw newline reaches the data: line";
}

TEST_F(EncodeTest, DeleteCarriesTheLastStateAndAnOpExtension) {
  Plan p = MustCompile("subscription { message { id title } }");
  EXPECT_EQ(Next(p, 43, Ev(event::Op::kDelete, "msg-1", R"({"id":"msg-1","title":"Bye"})")),
            "event: next\nid: 43\n"
            "data: {\"data\":{\"message\":{\"id\":\"msg-1\",\"title\":\"Bye\"}},\"extensions\":{"
            "\"op\":\"delete\"}}\n\n");
}

TEST_F(EncodeTest, PublishesAreNotDelivered) {
  Plan p = MustCompile("subscription { message { id } }");
  EXPECT_EQ(Next(p, 44, Ev(event::Op::kPublish, "", R"({"hello":"world"})")), "<skipped>");
}

TEST_F(EncodeTest, RecordPlansFilterByIdAndTable) {
  Plan p = MustCompile("subscription { message(id: \"msg-1\") { id } }");
  EXPECT_EQ(Next(p, 5, Ev(event::Op::kUpdate, "msg-2", R"({"id":"msg-2"})")), "<skipped>");
  EXPECT_NE(Next(p, 6, Ev(event::Op::kUpdate, "msg-1", R"({"id":"msg-1"})")), "<skipped>");
  event::Event other = Ev(event::Op::kUpdate, "msg-1", R"({"id":"msg-1"})");
  other.table = "Other";
  EXPECT_EQ(Next(p, 7, other), "<skipped>");
}

TEST_F(EncodeTest, DataThatIsNotAnObjectGivesNulls) {
  Plan p = MustCompile("subscription { message { __typename id } }");
  EXPECT_EQ(Next(p, 8, Ev(event::Op::kUpdate, "x", "not json")),
            "event: next\nid: 8\ndata: {\"data\":{\"message\":{\"__typename\":\"Message\",\"id\":"
            "null}}}\n\n");
  EXPECT_EQ(Next(p, 9, Ev(event::Op::kUpdate, "x", "")),
            "event: next\nid: 9\ndata: {\"data\":{\"message\":{\"__typename\":\"Message\",\"id\":"
            "null}}}\n\n");
}

TEST_F(EncodeTest, PreParsedRecordGivesTheSameBytes) {
  Plan p = MustCompile("subscription { message { id title } }");
  event::Event e = Ev(event::Op::kUpdate, "msg-1", R"({"id":"msg-1","title":"T"})");
  rapidjson::Document record;
  record.Parse(e.data.data(), e.data.size());
  std::string out;
  ASSERT_TRUE(AppendNextEvent(p, wal::Position(3), e, &record, &out));
  EXPECT_EQ(out, Next(p, 3, e));
}

TEST_F(EncodeTest, Complete) {
  std::string out;
  AppendCompleteEvent(&out);
  EXPECT_EQ(out, "event: complete\ndata: \n\n");
}

}  // namespace
}  // namespace eventide::graphql
