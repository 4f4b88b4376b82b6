// Bad input refused where it enters (SPEC section 12, issue 13) against the
// real binary: JSON that is not UTF-8 — raw bytes, or \u escapes that decode
// to no UTF-8 — in REST bodies, URLs, native and SnackBase WebSocket
// messages is answered invalid_utf8 and nothing is logged, so no frame ever
// carries it; a fragmented control frame closes with 1002; a chunked body
// whose chunk is not followed by CRLF is a framing error (bad_request).
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "src/common/utf8.h"
#include "tests/server/harness.h"
#include "tests/server/stream_clients.h"

namespace eventide::testing {
namespace {

const std::string kMsg = "/realtime-demo/message";

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  return d;
}

// The error code of a REST error body, or what the body was instead.
std::string ErrorCode(const std::string& body) {
  rapidjson::Document d = Json(body);
  if (!d.IsObject() || !d.HasMember("error") || !d["error"].IsObject() ||
      !d["error"].HasMember("code") || !d["error"]["code"].IsString()) {
    return "<no error body: " + body + ">";
  }
  return d["error"]["code"].GetString();
}

// The "code" of a WebSocket error message, or what came instead.
std::string WsErrorCode(const std::string& text) {
  rapidjson::Document d = Json(text);
  if (!d.IsObject() || !d.HasMember("type") || std::string(d["type"].GetString()) != "error" ||
      !d.HasMember("code") || !d["code"].IsString()) {
    return "<not an error: " + text + ">";
  }
  return d["code"].GetString();
}

uint64_t Head(ServerProcess& s) {
  HttpResponse r = s.Call("GET", kMsg);
  return r.status == 200 ? std::stoull(r.Header("event-position")) : ~0ull;
}

class InputTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GT(server_.Start(), 0) << server_.log(); }
  int port() { return server_.port(); }
  ServerProcess server_;
};

TEST_F(InputTest, RestBodiesThatAreNotUtf8AreRefusedAndNothingIsLogged) {
  struct Case {
    const char* what;
    std::string title;  // spliced raw into the body's "title" string
  };
  const Case cases[] = {
      {"raw bytes FF FE", "\xff\xfe"},
      {"a truncated sequence", "ab\xc3"},
      {"an overlong '/'", "\xc0\xaf"},
      {"an encoded surrogate", "\xed\xa0\x80"},
      {"a lone low surrogate escape", "\\udc00"},
      {"a lone high surrogate escape", "x\\ud800y"},
      {"two high surrogate escapes", "\\ud800\\ud800"},
  };
  for (const Case& c : cases) {
    const std::string body = R"({"title":")" + c.title + R"(","content":"c"})";
    HttpResponse post = server_.Call("POST", kMsg, body);
    EXPECT_EQ(post.status, 400) << c.what << ": " << post.body;
    EXPECT_EQ(ErrorCode(post.body), "invalid_utf8") << c.what;
    EXPECT_TRUE(IsUtf8(post.body)) << c.what << ": the error itself is UTF-8";
    HttpResponse put = server_.Call("PUT", kMsg + "/m1", body);
    EXPECT_EQ(ErrorCode(put.body), "invalid_utf8") << c.what;
  }
  ASSERT_EQ(server_.Call("PUT", kMsg + "/m1", R"({"title":"ok","content":"c"})").status, 201);
  HttpResponse patch = server_.Call("PATCH", kMsg + "/m1", R"({"title":"\udfff"})");
  EXPECT_EQ(ErrorCode(patch.body), "invalid_utf8") << patch.body;
  EXPECT_EQ(Head(server_), 1u) << "only the valid write was logged";
  // Syntax errors keep their own code.
  EXPECT_EQ(ErrorCode(server_.Call("POST", kMsg, R"({"title":)").body), "invalid_json");
  // A surrogate pair and raw multi-byte text are UTF-8: stored as UTF-8.
  HttpResponse ok = server_.Call("PUT", kMsg + "/m2",
                                 R"({"title":"\ud83d\ude00 caf)"
                                 "\xc3\xa9"
                                 R"(","content":"c"})");
  ASSERT_EQ(ok.status, 201) << ok.body;
  HttpResponse get = server_.Call("GET", kMsg + "/m2");
  EXPECT_NE(get.body.find("\xf0\x9f\x98\x80 caf\xc3\xa9"), std::string::npos) << get.body;
}

TEST_F(InputTest, UrlIdsAndQueryValuesThatAreNotUtf8AreRefused) {
  const std::string record = R"({"title":"t","content":"c"})";
  for (const char* id : {"%FF", "a%C3%28", "%ED%A0%80", "%F4%90%80%80"}) {
    HttpResponse put = server_.Call("PUT", kMsg + "/" + id, record);
    EXPECT_EQ(put.status, 400) << id << ": " << put.body;
    EXPECT_EQ(ErrorCode(put.body), "invalid_utf8") << id;
    EXPECT_TRUE(IsUtf8(put.body)) << id;
    HttpResponse get = server_.Call("GET", kMsg + "/" + id);
    EXPECT_EQ(ErrorCode(get.body), "invalid_utf8") << id << ": " << get.body;
  }
  HttpResponse list = server_.Call("GET", kMsg + "?title=%FF");
  EXPECT_EQ(ErrorCode(list.body), "invalid_utf8") << list.body;
  HttpResponse key = server_.Call("GET", kMsg + "?%FE=1");
  EXPECT_EQ(ErrorCode(key.body), "invalid_utf8") << key.body;
  EXPECT_EQ(Head(server_), 0u);
  // Percent-encoded UTF-8 is an id like any other.
  EXPECT_EQ(server_.Call("PUT", kMsg + "/caf%C3%A9", record).status, 201);
  EXPECT_NE(server_.Call("GET", kMsg + "/caf%C3%A9").body.find("caf\xc3\xa9"), std::string::npos);
  // A WebSocket upgrade to a topic that is not UTF-8 is refused too.
  WsConn ws(port(), kMsg + "/%FF");
  EXPECT_EQ(ws.head().status, 400);
  EXPECT_EQ(ErrorCode(ws.head().body), "invalid_utf8") << ws.head().body;
}

TEST_F(InputTest, ErrorsQuotingAHeaderThatIsNotUtf8AreUtf8) {
  HttpResponse r =
      server_.Call("POST", kMsg, R"({"title":"t","content":"c"})", {"Content-Type: text/\xff\xfe"});
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(ErrorCode(r.body), "unsupported_media_type");
  EXPECT_TRUE(IsUtf8(r.body)) << r.body;
}

TEST_F(InputTest, WsMessagesWithLoneSurrogatesAreRefusedInBand) {
  WsConn sub(port(), kMsg);
  ASSERT_TRUE(sub.upgraded());
  ASSERT_NE(sub.NextText().find("subscribed"), std::string::npos);
  WsConn ws(port(), kMsg);
  ASSERT_TRUE(ws.upgraded());
  ws.NextText();
  const std::string bad[] = {
      R"({"action":"publish","data":{"t":"\udc00"}})",
      R"({"action":"put","data":{"id":"w1","title":"\udc00","content":"c"}})",
      R"({"title":"\udc00x"})",  // a publish to the connection's topic
      R"({"action":"delete","id":"\udc00"})",
      R"({"action":"subscribe","topic":"message/\ud800"})",
  };
  for (const std::string& m : bad) {
    ASSERT_TRUE(ws.SendText(m));
    std::string answer = ws.NextText();
    EXPECT_EQ(WsErrorCode(answer), "invalid_utf8") << m << " -> " << answer;
    EXPECT_TRUE(IsUtf8(answer)) << m;
  }
  // The connection stays, and a valid publish is the first thing the
  // subscriber sees.
  ws.SendText(R"({"action":"ping"})");
  EXPECT_EQ(ws.NextText(), R"({"type":"pong"})");
  ws.SendText(R"({"action":"publish","data":{"t":"\ud83d\ude00"}})");
  EXPECT_FALSE(ws.TextsUntil(R"("type":"ack")").empty());
  const std::string event = sub.NextText();
  EXPECT_NE(event.find("\"seq\":1"), std::string::npos) << event;
  EXPECT_NE(event.find("\xf0\x9f\x98\x80"), std::string::npos) << event;
  EXPECT_TRUE(IsUtf8(event));
  EXPECT_EQ(Head(server_), 1u);
}

TEST_F(InputTest, WsFragmentedPingClosesWith1002) {
  for (uint8_t opcode : {9, 10, 8}) {  // Ping, Pong, Close without FIN
    WsConn ws(port(), kMsg);
    ASSERT_TRUE(ws.upgraded());
    ws.NextText();
    ws.SendFrame(opcode, "hi", /*fin=*/false);
    EXPECT_EQ(ws.WaitClose(), 1002) << "opcode " << int{opcode};
  }
  {
    // A control frame over 125 bytes is a protocol error too.
    WsConn ws(port(), kMsg);
    ws.NextText();
    ws.SendFrame(9, std::string(126, 'x'));
    EXPECT_EQ(ws.WaitClose(), 1002);
  }
}

TEST_F(InputTest, ACloseReasonThatIsNotUtf8IsNotEchoed) {
  // Close 1000 with the reason 00 8D 09, masked with a zero key (the bytes
  // stay as they are), sent in two writes so the server reads it in two
  // pieces: wslay then checks only the last piece, and echoed the reason.
  const std::string head("\x88\x85\x00\x00\x00\x00", 6);
  const std::string payload("\x03\xe8\x00\x8d\x09", 5);
  for (size_t cut : {size_t{2}, size_t{3}, size_t{5}}) {
    WsConn ws(port(), kMsg);
    ASSERT_TRUE(ws.upgraded());
    ws.NextText();
    ws.socket().Send(head + payload.substr(0, cut));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ws.socket().Send(payload.substr(cut));
    std::optional<WsMessage> m;
    do {
      m = ws.Next();
    } while (m && m->opcode != 8);
    ASSERT_TRUE(m) << "cut " << cut << ": no Close";
    EXPECT_EQ(m->close_code, 1007) << "cut " << cut;
    EXPECT_TRUE(m->payload.size() < 2 || IsUtf8(m->payload.substr(2))) << "cut " << cut;
  }
}

TEST_F(InputTest, ChunkWithoutCrlfAfterItsDataIsAFramingError) {
  const std::string body = R"({"title":"t","content":"c"})";
  ASSERT_EQ(body.size(), 27u);  // 0x1b
  // The 2 bytes after a chunk's data must be CRLF: not other bytes, and not
  // missing (the next chunk's size line right after the data).
  for (const char* tail : {"XY0\r\n\r\n", "0\r\n\r\n", "\n0\r\n\r\n"}) {
    RawSocket sock(port());
    ASSERT_TRUE(sock.connected());
    sock.Send("POST " + kMsg +
              " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              "Transfer-Encoding: chunked\r\n\r\n1b\r\n" +
              body + tail);
    HttpResponse r = sock.ReadHead(std::chrono::seconds(10));
    EXPECT_EQ(r.status, 400) << tail;
    while (sock.ReadMore(std::chrono::milliseconds(300)) > 0) {
    }
    EXPECT_NE(sock.buffer().find("\"bad_request\""), std::string::npos) << tail << sock.buffer();
  }
  EXPECT_EQ(Head(server_), 0u) << "nothing was written";
}

// ---- SnackBase ----

class SnackbaseInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.WriteFile("apps/compat/config.yaml",
                      "app_id: compat\nauth: off\nschemas:\n  - schema.graphql\n");
    server_.WriteFile("apps/compat/schema.graphql",
                      "type Post @table @export(name: \"posts\", rest: true, sse: true, ws: true) "
                      "{\n  id: ID! @primaryKey\n  title: String!\n}\n");
    server_.WriteFile("server.yaml", "compat_app: compat\n");
    ASSERT_GT(server_.Start({"--config", server_.dir() + "/server.yaml"}), 0) << server_.log();
  }
  ServerProcess server_;
};

TEST_F(SnackbaseInputTest, MessagesWithLoneSurrogatesAreRefusedInBand) {
  WsConn ws(server_.port(), "/api/v1/realtime/ws");
  ASSERT_TRUE(ws.upgraded()) << ws.head().status << " " << ws.head().body;
  ws.SendText(R"({"action":"subscribe","collection":"posts\udc00"})");
  const std::string answer = ws.NextText();
  EXPECT_EQ(WsErrorCode(answer), "invalid_utf8") << answer;
  EXPECT_TRUE(IsUtf8(answer)) << answer;
  ws.SendText(R"({"action":"ping"})");
  EXPECT_EQ(ws.NextText(), R"({"type":"pong"})") << "the connection stays";
  // Raw bytes that are not UTF-8 fail the frame itself (RFC 6455 section 8.1).
  ws.SendText("{\"action\":\"ping\",\"x\":\"\xff\"}");
  EXPECT_EQ(ws.WaitClose(), 1007);
}

TEST_F(SnackbaseInputTest, FragmentedPingClosesWith1002) {
  WsConn ws(server_.port(), "/api/v1/realtime/ws");
  ASSERT_TRUE(ws.upgraded());
  ws.SendFrame(9, "hi", /*fin=*/false);
  EXPECT_EQ(ws.WaitClose(), 1002);
}

}  // namespace
}  // namespace eventide::testing
