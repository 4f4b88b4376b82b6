// What one record may hold (docs/HTTP.md "Limits", issue 13) against the real
// binary: an id, the record as logged, one field, object members and nesting
// each have a limit, refused with a specific code before anything is logged,
// over REST (a PATCH judged on its merged result) and in-band over WebSocket.
// A record at each limit is taken, one byte (member, level) past it is not.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "tests/server/harness.h"
#include "tests/server/stream_clients.h"

namespace eventide::testing {
namespace {

const std::string kMsg = "/realtime-demo/message";
const std::string kDoc = "/limits/doc";

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  return d;
}

std::string ErrorCode(const std::string& body) {
  rapidjson::Document d = Json(body);
  if (!d.IsObject() || !d.HasMember("error") || !d["error"].IsObject() ||
      !d["error"].HasMember("code") || !d["error"]["code"].IsString()) {
    return "<no error body: " + body.substr(0, 200) + ">";
  }
  return d["error"]["code"].GetString();
}

std::string ErrorField(const std::string& body) {
  rapidjson::Document d = Json(body);
  if (!d.IsObject() || !d.HasMember("error") || !d["error"].HasMember("field")) return "";
  return d["error"]["field"].GetString();
}

std::string WsErrorCode(const std::string& text) {
  rapidjson::Document d = Json(text);
  if (!d.IsObject() || !d.HasMember("type") || std::string(d["type"].GetString()) != "error" ||
      !d.HasMember("code") || !d["code"].IsString()) {
    return "<not an error: " + text.substr(0, 200) + ">";
  }
  return d["code"].GetString();
}

// The log's head as /healthz reports it.
uint64_t Position(ServerProcess& s) {
  HttpResponse r = s.Call("GET", "/healthz");
  rapidjson::Document d = Json(r.body);
  if (r.status != 200 || !d.IsObject() || !d.HasMember("position")) return ~0ull;
  return d["position"].GetUint64();
}

std::string PercentEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// A server with the demo app and `limits`, an app whose `doc` table has a
// JSON field, and the server config `config` (YAML, may be empty).
class LimitsTest : public ::testing::Test {
 protected:
  int Start(const std::string& config) {
    server_.WriteFile("apps/limits/config.yaml",
                      "app_id: \"limits\"\nrest: true\nsse: true\nws: true\n"
                      "schemas:\n  - schema.graphql\n");
    server_.WriteFile("apps/limits/schema.graphql",
                      "type Doc @export(name: \"doc\", rest: true, sse: true, ws: true) "
                      "{ id: ID! @primaryKey title: String body: JSON }\n");
    if (config.empty()) return server_.Start();
    server_.WriteFile("server.yaml", config);
    return server_.Start({"--config", server_.dir() + "/server.yaml"});
  }
  ServerProcess server_;
};

TEST_F(LimitsTest, AMegabyteIdIsRefusedAndNothingIsLogged) {
  // The issue's reproduction: this was 201 with a 1 MB Location header, and
  // the record could never be addressed again (431).
  ASSERT_GT(Start(""), 0) << server_.log();
  const std::string id(1040000, 'x');
  HttpResponse post =
      server_.Call("POST", kMsg, R"({"id":")" + id + R"(","title":"t","content":"c"})");
  EXPECT_EQ(post.status, 400) << post.body.substr(0, 200);
  EXPECT_EQ(ErrorCode(post.body), "id_too_long");
  EXPECT_EQ(post.Header("location"), "");
  EXPECT_NE(post.body.find("limits.id_bytes is 256"), std::string::npos) << post.body;
  EXPECT_EQ(Position(server_), 0u) << "nothing was logged";
  // One byte past the limit in a URL, for every method.
  const std::string url = kMsg + "/" + std::string(257, 'u');
  for (const char* m : {"PUT", "PATCH", "GET", "DELETE"}) {
    HttpResponse r = server_.Call(m, url,
                                  std::string(m) == "PUT" || std::string(m) == "PATCH"
                                      ? R"({"title":"t","content":"c"})"
                                      : "");
    EXPECT_EQ(r.status, 400) << m << ": " << r.body;
    EXPECT_EQ(ErrorCode(r.body), "id_too_long") << m;
  }
  EXPECT_EQ(Position(server_), 0u);
}

TEST_F(LimitsTest, TheLongestIdIsAddressableEndToEnd) {
  ASSERT_GT(Start(""), 0) << server_.log();
  // 256 bytes of 2-byte characters, every byte percent-encoded: 768 bytes of
  // URL, well inside the 16 KiB header limit.
  std::string id;
  while (id.size() < 256) id += "\xc3\xa9";
  const std::string url = kMsg + "/" + PercentEncode(id);
  HttpResponse put = server_.Call("PUT", url, R"({"title":"t","content":"c"})");
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_FALSE(put.Header("location").empty());
  HttpResponse get = server_.Call("GET", url);
  EXPECT_EQ(get.status, 200);
  EXPECT_NE(get.body.find(id), std::string::npos);
  EXPECT_EQ(server_.Call("PATCH", url, R"({"title":"t2"})").status, 200);
  EXPECT_EQ(server_.Call("GET", put.Header("location")).status, 200)
      << "the Location header addresses it";
  EXPECT_EQ(server_.Call("DELETE", url).status, 200);
  // The same id one byte longer is refused; in a body too.
  EXPECT_EQ(ErrorCode(server_.Call("PUT", url + "x", R"({"title":"t","content":"c"})").body),
            "id_too_long");
  const std::string at(256, 'b');
  EXPECT_EQ(
      server_.Call("POST", kMsg, R"({"id":")" + at + R"(","title":"t","content":"c"})").status,
      201);
  HttpResponse past =
      server_.Call("POST", kMsg, R"({"id":")" + at + R"(b","title":"t","content":"c"})");
  EXPECT_EQ(ErrorCode(past.body), "id_too_long") << past.body;
  EXPECT_EQ(Position(server_), 4u);
}

TEST_F(LimitsTest, TheLocationOfAnyIdAddressesItAndCannotSplitTheHeader) {
  ASSERT_GT(Start(""), 0) << server_.log();
  // An id from a body may hold any character but '/' and NUL; its Location
  // is %-encoded, so a CR LF in it cannot start a header of its own.
  HttpResponse post =
      server_.Call("POST", kMsg, R"({"id":"a b\r\nx-evil: 1?#%\u00e9","title":"t","content":"c"})");
  ASSERT_EQ(post.status, 201) << post.body;
  EXPECT_EQ(post.Header("x-evil"), "");
  EXPECT_EQ(post.Header("location"), kMsg + "/a%20b%0D%0Ax-evil%3A%201%3F%23%25%C3%A9");
  EXPECT_EQ(server_.Call("GET", post.Header("location")).status, 200);
  HttpResponse nul = server_.Call("POST", kMsg, R"({"id":"a\u0000b","title":"t","content":"c"})");
  EXPECT_EQ(nul.status, 400) << "a URL cannot carry a NUL, so no id holds one";
}

TEST_F(LimitsTest, RecordBytesBindTheRecordAsLoggedIncludingAMergedPatch) {
  ASSERT_GT(Start("limits:\n  record_bytes: 4KiB\n"), 0) << server_.log();
  // The stored record's size for a given title length: the server adds
  // nothing of variable length to this table (no timestamps, no tenant).
  ASSERT_EQ(server_.Call("PUT", kDoc + "/p", R"({"title":""})").status, 201);
  const size_t empty = server_.Call("GET", kDoc + "/p").body.size();
  const std::string at(4096 - empty, 't');
  HttpResponse ok = server_.Call("PUT", kDoc + "/p", R"({"title":")" + at + R"("})");
  EXPECT_EQ(ok.status, 200) << ok.body.substr(0, 200);
  EXPECT_EQ(server_.Call("GET", kDoc + "/p").body.size(), 4096u) << "exactly at the limit";
  HttpResponse past = server_.Call("PUT", kDoc + "/p", R"({"title":")" + at + R"(t"})");
  EXPECT_EQ(past.status, 413);
  EXPECT_EQ(ErrorCode(past.body), "record_too_large") << past.body;
  const uint64_t head = Position(server_);
  // A PATCH whose body is small but whose merged record is not.
  ASSERT_EQ(
      server_.Call("PUT", kDoc + "/q", R"({"title":")" + std::string(3000, 'a') + R"("})").status,
      201);
  HttpResponse merged =
      server_.Call("PATCH", kDoc + "/q", R"({"body":")" + std::string(1500, 'b') + R"("})");
  EXPECT_EQ(merged.status, 413) << merged.body;
  EXPECT_EQ(ErrorCode(merged.body), "record_too_large");
  EXPECT_EQ(Position(server_), head + 1) << "only the PUT of q was logged";
  EXPECT_EQ(server_.Call("GET", kDoc + "/q").body.find("bbb"), std::string::npos);
}

TEST_F(LimitsTest, FieldBytesFieldsAndDepthEachHaveTheirCode) {
  ASSERT_GT(Start("limits:\n  field_bytes: 200\n  fields: 20\n  json_depth: 8\n"), 0)
      << server_.log();
  // A field's JSON value: a 198-character string is 200 bytes with its quotes.
  EXPECT_EQ(
      server_.Call("PUT", kDoc + "/f", R"({"title":")" + std::string(198, 'x') + R"("})").status,
      201);
  HttpResponse big =
      server_.Call("PUT", kDoc + "/f", R"({"title":")" + std::string(199, 'x') + R"("})");
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(ErrorCode(big.body), "field_too_large") << big.body;
  EXPECT_EQ(ErrorField(big.body), "title");
  // Members at every depth: id, title, body and body's own n members.
  auto members = [](int n) {
    std::string o = "{";
    for (int i = 0; i < n; ++i) o += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
    return o + "}";
  };
  EXPECT_EQ(server_.Call("PUT", kDoc + "/m", R"({"title":"t","body":)" + members(17) + "}").status,
            201);
  HttpResponse many =
      server_.Call("PUT", kDoc + "/m", R"({"title":"t","body":)" + members(18) + "}");
  EXPECT_EQ(many.status, 400);
  EXPECT_EQ(ErrorCode(many.body), "too_many_fields") << many.body;
  // Nesting: the record is level 1, so body may nest 7 more.
  auto nested = [](int n) { return std::string(n, '[') + "1" + std::string(n, ']'); };
  EXPECT_EQ(server_.Call("PUT", kDoc + "/d", R"({"body":)" + nested(7) + "}").status, 201);
  HttpResponse deep = server_.Call("PUT", kDoc + "/d", R"({"body":)" + nested(8) + "}");
  EXPECT_EQ(deep.status, 400);
  EXPECT_EQ(ErrorCode(deep.body), "json_too_deep") << deep.body;
  EXPECT_EQ(Position(server_), 3u) << "only the three writes at the limits were logged";
}

TEST_F(LimitsTest, AMillionBracketsAreRefusedNotAStackOverflow) {
  ASSERT_GT(Start(""), 0) << server_.log();
  const std::string deep(1000000, '[');
  HttpResponse post = server_.Call("POST", kMsg, deep);
  EXPECT_EQ(post.status, 400);
  EXPECT_EQ(ErrorCode(post.body), "json_too_deep") << post.body;
  WsConn ws(server_.port(), kMsg);
  ASSERT_TRUE(ws.upgraded());
  ws.NextText();
  ASSERT_TRUE(ws.SendText(deep));
  EXPECT_EQ(WsErrorCode(ws.NextText()), "json_too_deep");
  ASSERT_TRUE(ws.SendText(R"({"action":"put","data":{"id":"w","title":)" + std::string(65, '[') +
                          std::string(65, ']') + "}}"));
  EXPECT_EQ(WsErrorCode(ws.NextText()), "json_too_deep") << "a message may nest one level more";
  ws.SendText(R"({"action":"ping"})");
  EXPECT_EQ(ws.NextText(), R"({"type":"pong"})") << "the connection stays";
  EXPECT_EQ(server_.Call("GET", "/healthz").status, 200) << "the server is alive";
  EXPECT_EQ(Position(server_), 0u);
}

TEST_F(LimitsTest, WebSocketWritesAreRefusedInBand) {
  ASSERT_GT(Start("limits:\n  record_bytes: 4KiB\n  id_bytes: 64\n"), 0) << server_.log();
  WsConn ws(server_.port(), kMsg);
  ASSERT_TRUE(ws.upgraded());
  ws.NextText();
  struct Case {
    std::string message;
    std::string code;
  };
  const std::string long_id(65, 'i');
  const std::string big(5000, 'z');
  const Case cases[] = {
      {R"({"action":"put","data":{"id":")" + long_id + R"(","title":"t","content":"c"}})",
       "id_too_long"},
      {R"({"action":"delete","id":")" + long_id + R"("})", "id_too_long"},
      {R"({"action":"put","data":{"id":"w","title":")" + big + R"(","content":"c"}})",
       "record_too_large"},
      {R"({"action":"publish","data":{"t":")" + big + R"("}})", "record_too_large"},
      {R"({"t":")" + big + R"("})", "record_too_large"},  // to the connection's own topic
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(ws.SendText(c.message));
    EXPECT_EQ(WsErrorCode(ws.NextText()), c.code) << c.message.substr(0, 80);
  }
  ws.SendText(R"({"action":"put","data":{"id":")" + std::string(64, 'i') +
              R"(","title":"t","content":"c"}})");
  EXPECT_FALSE(ws.TextsUntil(R"("type":"ack")").empty()) << "an id at the limit is taken";
  EXPECT_EQ(Position(server_), 1u);
}

TEST_F(LimitsTest, LimitsThatCannotWorkStopStartUp) {
  EXPECT_EQ(Start("limits:\n  id_bytes: 8000\n"), 0);
  EXPECT_NE(server_.log().find("raise header_bytes or lower id_bytes"), std::string::npos)
      << server_.log();
}

}  // namespace
}  // namespace eventide::testing
