// Tokens at the door (SPEC section 8, issue 5 item 1) against the real
// binary: an app with `auth: required`, one with `optional`, tokens from the
// Authorization header, the query and the WebSocket subprotocol, and every
// refusal's code, before any stream starts.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <string>

#include "src/auth/jwt_mint.h"
#include "tests/server/harness.h"
#include "tests/server/stream_clients.h"

namespace eventide::testing {
namespace {

const std::string kSecret = "test-secret-of-some-length";

std::string ErrorCode(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (!d.IsObject() || !d.HasMember("error")) return "<no error body: " + body + ">";
  return d["error"]["code"].GetString();
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Token(const std::string& sub, int64_t exp_offset_s = 3600) {
  return auth::MintHs256(
      kSecret, R"({"sub":")" + sub + R"(","exp":)" + std::to_string(Now() + exp_offset_s) + "}");
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string schema =
        "type Note @table @export(rest: true, sse: true, ws: true) {\n"
        "  id: ID! @primaryKey\n  text: String\n}\n";
    server_.WriteFile("apps/locked/config.yaml",
                      "app_id: locked\nauth: required\nschemas:\n  - s.graphql\n");
    server_.WriteFile("apps/locked/s.graphql", schema);
    server_.WriteFile("apps/locked/web/index.html", "<p>public</p>");
    server_.WriteFile("apps/strict/config.yaml",
                      "app_id: strict\nauth: required\nallow_query_token: false\n"
                      "schemas:\n  - s.graphql\n");
    server_.WriteFile("apps/strict/s.graphql", schema);
    server_.WriteFile("apps/open/config.yaml",
                      "app_id: open\nauth: optional\nschemas:\n  - s.graphql\n");
    server_.WriteFile("apps/open/s.graphql", schema);
    server_.WriteFile("server.yaml", "jwt_secret: " + kSecret + "\n");
    ASSERT_GT(server_.Start({"--config", server_.dir() + "/server.yaml"}), 0) << server_.log();
  }
  ServerProcess server_;
};

TEST_F(AuthTest, RequiredAppsRefuseMissingBadAndExpiredTokens) {
  HttpResponse none = server_.Call("GET", "/locked/Note");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(ErrorCode(none.body), "token_missing");
  EXPECT_EQ(none.Header("www-authenticate"), "Bearer");

  HttpResponse bad = server_.Call("GET", "/locked/Note", "", {"Authorization: Bearer a.b.c"});
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(ErrorCode(bad.body), "token_invalid");
  EXPECT_EQ(bad.Header("www-authenticate"), "Bearer error=\"invalid_token\"");

  HttpResponse other_key = server_.Call(
      "GET", "/locked/Note", "",
      {"Authorization: Bearer " + auth::MintHs256("another-secret", R"({"sub":"x"})")});
  EXPECT_EQ(ErrorCode(other_key.body), "token_invalid");

  HttpResponse expired =
      server_.Call("GET", "/locked/Note", "", {"Authorization: Bearer " + Token("ann", -3600)});
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(ErrorCode(expired.body), "token_expired");

  HttpResponse ok = server_.Call("POST", "/locked/Note", R"({"id":"n1","text":"hi"})",
                                 {"Authorization: Bearer " + Token("ann")});
  EXPECT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(server_.Call("GET", "/locked/Note/n1?token=" + Token("ann")).status, 200);
  // Static files are public: the page loads before anyone signs in.
  EXPECT_EQ(server_.Call("GET", "/locked/").status, 200);
}

TEST_F(AuthTest, OptionalAppsTakeAnonymousButNotBadTokens) {
  EXPECT_EQ(server_.Call("GET", "/open/Note").status, 200);
  HttpResponse bad = server_.Call("GET", "/open/Note", "", {"Authorization: Bearer nope"});
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(ErrorCode(bad.body), "token_invalid");
}

TEST_F(AuthTest, QueryTokensCanBeTurnedOff) {
  HttpResponse r = server_.Call("GET", "/strict/Note?token=" + Token("ann"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorCode(r.body), "query_token_not_allowed");
  EXPECT_EQ(
      server_.Call("GET", "/strict/Note", "", {"Authorization: Bearer " + Token("ann")}).status,
      200);
  // The token never shows up in the server's log.
  EXPECT_EQ(server_.log().find(Token("ann").substr(0, 20)), std::string::npos);
}

TEST_F(AuthTest, StreamsCheckTheTokenBeforeTheyStart) {
  SseConn refused(server_.port(), "/locked/Note?stream=sse");
  EXPECT_EQ(refused.head().status, 401);
  EXPECT_EQ(ErrorCode(refused.head().body), "token_missing");
  SseConn sse(server_.port(), "/locked/Note?stream=sse", {"Authorization: Bearer " + Token("ann")});
  ASSERT_EQ(sse.head().status, 200);
  EXPECT_TRUE(sse.WaitFor([](const auto& ev) { return !ev.empty(); }));

  WsConn no_token(server_.port(), "/locked/Note");
  EXPECT_EQ(no_token.head().status, 401);
  EXPECT_LT(no_token.socket().ReadMore(std::chrono::seconds(5)), 0) << "a refused upgrade closes";
  // The browser way: the token as the offered subprotocol, echoed back.
  const std::string token = Token("ann");
  WsConn ws(server_.port(), "/locked/Note", {"Sec-WebSocket-Protocol: " + token});
  ASSERT_EQ(ws.head().status, 101);
  EXPECT_EQ(ws.head().Header("sec-websocket-protocol"), token);
  EXPECT_EQ(ws.NextText(), R"({"type":"subscribed","topic":"Note"})");
  WsConn expired(server_.port(), "/locked/Note",
                 {"Sec-WebSocket-Protocol: " + Token("ann", -3600)});
  EXPECT_EQ(expired.head().status, 401);
  EXPECT_EQ(ErrorCode(expired.head().body), "token_expired");

  HttpResponse gql =
      server_.Call("POST", "/locked/graphql", R"({"query":"subscription { Note { id } }"})",
                   {"Accept: text/event-stream"});
  EXPECT_EQ(gql.status, 401);
}

// Live expiry (SPEC section 8): tokens that run out 2 s after connecting,
// with no leeway.
class AuthExpiryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.WriteFile("apps/locked/config.yaml",
                      "app_id: locked\nauth: required\nschemas:\n  - s.graphql\n");
    server_.WriteFile("apps/locked/s.graphql",
                      "type Note @table @export(rest: true, sse: true, ws: true) {\n"
                      "  id: ID! @primaryKey\n  text: String\n}\n");
    server_.WriteFile("server.yaml", "jwt_secret: " + kSecret + "\njwt_leeway: 0s\n");
    ASSERT_GT(server_.Start({"--config", server_.dir() + "/server.yaml"}), 0) << server_.log();
  }
  ServerProcess server_;
};

TEST_F(AuthExpiryTest, SseEndsWithAnErrorEventAndResumesWithANewToken) {
  SseConn sse(server_.port(), "/locked/Note?stream=sse",
              {"Authorization: Bearer " + Token("ann", 2)});
  ASSERT_EQ(sse.head().status, 200);
  ASSERT_EQ(server_
                .Call("PUT", "/locked/Note/a", R"({"text":"1"})",
                      {"Authorization: Bearer " + Token("ann")})
                .status,
            201);
  ASSERT_TRUE(sse.WaitFor(
      [](const auto& ev) {
        for (const auto& e : ev) {
          if (e.type == "error") return true;
        }
        return false;
      },
      std::chrono::seconds(6)));
  const auto& last = sse.events().back();
  EXPECT_EQ(last.type, "error");
  EXPECT_NE(last.data.find("token_expired"), std::string::npos);
  EXPECT_EQ(last.last_event_id, "1") << "the error moves no cursor";
  sse.Drain(std::chrono::milliseconds(1000));
  EXPECT_TRUE(sse.eof());
  // Back with a new token, from where it was.
  ASSERT_EQ(server_
                .Call("PUT", "/locked/Note/b", R"({"text":"2"})",
                      {"Authorization: Bearer " + Token("ann")})
                .status,
            201);
  SseConn again(server_.port(), "/locked/Note?stream=sse",
                {"Authorization: Bearer " + Token("ann"), "Last-Event-ID: 1"});
  ASSERT_TRUE(
      again.WaitFor([](const auto& ev) { return !ev.empty() && ev.back().last_event_id == "2"; }));
  std::string metrics = server_.Call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("eventide_stream_token_expired_total 1"), std::string::npos) << metrics;
}

TEST_F(AuthExpiryTest, WebSocketClosesWith4001UnlessExtendedInBand) {
  WsConn expiring(server_.port(), "/locked/Note", {"Sec-WebSocket-Protocol: " + Token("ann", 2)});
  WsConn extended(server_.port(), "/locked/Note", {"Sec-WebSocket-Protocol: " + Token("ann", 2)});
  ASSERT_TRUE(expiring.upgraded() && extended.upgraded());
  expiring.NextText();
  extended.NextText();
  extended.SendText(R"({"action":"auth","token":")" + Token("ann", 60) + R"(","ref":"a"})");
  const std::string reply = extended.NextText();
  EXPECT_NE(reply.find(R"("type":"authenticated")"), std::string::npos) << reply;
  EXPECT_NE(reply.find(R"("ref":"a")"), std::string::npos) << reply;
  // Someone else's token does not take over the connection.
  extended.SendText(R"({"action":"auth","token":")" + Token("bob", 60) + R"("})");
  EXPECT_NE(extended.NextText().find("subject_mismatch"), std::string::npos);
  extended.SendText(R"({"action":"auth","token":"nope"})");
  EXPECT_NE(extended.NextText().find("token_invalid"), std::string::npos);

  EXPECT_EQ(expiring.WaitClose(std::chrono::seconds(6)), 4001);
  // The extended one is still there after the first token's end.
  ASSERT_EQ(server_
                .Call("PUT", "/locked/Note/x", R"({"text":"still"})",
                      {"Authorization: Bearer " + Token("ann")})
                .status,
            201);
  EXPECT_NE(extended.NextText().find(R"("message_type":"Update")"), std::string::npos);
}

TEST(AuthStartupTest, AnAppThatNeedsTokensNeedsAKey) {
  ServerProcess server;
  server.WriteFile("apps/locked/config.yaml",
                   "app_id: locked\nauth: required\nschemas:\n  - s.graphql\n");
  server.WriteFile("apps/locked/s.graphql",
                   "type Note @table @export {\n  id: ID! @primaryKey\n}\n");
  EXPECT_EQ(server.Start(), 0);
  EXPECT_NE(server.log().find("no jwt_secret or jwt_public_key"), std::string::npos)
      << server.log();
}

}  // namespace
}  // namespace eventide::testing
