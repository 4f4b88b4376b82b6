// Row policies and tenants (SPEC section 8, issue 5 items 3 and 4) against
// the real binary: what each user reads over REST, SSE, WebSocket and
// GraphQL, what each may write, left_view deletes, resumes judged by the
// token presented now, and start-up errors for bad rules.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "src/auth/jwt_mint.h"
#include "tests/server/harness.h"
#include "tests/server/stream_clients.h"

namespace eventide::testing {
namespace {

using std::chrono::milliseconds;

const std::string kSecret = "policy-test-secret";

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A token for `sub` in tenant `account` ("" = no account claim).
std::string Token(const std::string& sub, const std::string& account = "") {
  std::string claims = R"({"sub":")" + sub + R"(","exp":)" + std::to_string(Now() + 3600);
  if (!account.empty()) claims += R"(,"account":")" + account + "\"";
  return auth::MintHs256(kSecret, claims + "}");
}
std::string Bearer(const std::string& token) { return "Authorization: Bearer " + token; }

std::string ErrorCode(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (!d.IsObject() || !d.HasMember("error")) return "<no error body: " + body + ">";
  return d["error"]["code"].GetString();
}

// The ids in a JSON array of records.
std::set<std::string> Ids(const std::string& body) {
  std::set<std::string> ids;
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (!d.IsArray()) return {"<not an array: " + body + ">"};
  for (auto& r : d.GetArray()) ids.insert(r["id"].GetString());
  return ids;
}

bool Has(const std::vector<stream::ClientEvent>& ev, const std::string& needle) {
  for (const auto& e : ev) {
    if (e.data.find(needle) != std::string::npos) return true;
  }
  return false;
}

// The (event type, data) pairs of the events with an id: what moved the cursor.
std::vector<std::string> Delivered(const std::vector<stream::ClientEvent>& ev) {
  std::vector<std::string> out;
  for (const auto& e : ev) {
    if (!e.last_event_id.empty() && e.data.find("synced") == std::string::npos) {
      out.push_back(e.type + " " + e.data);
    }
  }
  return out;
}

const char* kPostSchema =
    "type Post @table @export(rest: true, sse: true, ws: true)\n"
    "  @policy(read: \"published = true or author = $auth.sub\", write: \"author = $auth.sub\") {\n"
    "  id: ID! @primaryKey\n  author: String\n  published: Boolean\n  text: String\n}\n";

class RowPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.WriteFile("apps/blog/config.yaml",
                      "app_id: blog\nauth: required\nschemas:\n  - s.graphql\n");
    server_.WriteFile("apps/blog/s.graphql", kPostSchema);
    server_.WriteFile("server.yaml", "jwt_secret: " + kSecret + "\ncompat_app: blog\n");
    ASSERT_GT(server_.Start({"--config", server_.dir() + "/server.yaml"}), 0) << server_.log();
  }
  HttpResponse As(const std::string& who, const std::string& method, const std::string& path,
                  const std::string& body = "") {
    return server_.Call(method, path, body, {Bearer(Token(who))});
  }
  ServerProcess server_;
};

TEST_F(RowPolicyTest, RestReadsShowOnlyWhatTheReadRuleAdmits) {
  ASSERT_EQ(As("ann", "PUT", "/blog/Post/draft", R"({"author":"ann","published":false})").status,
            201);
  ASSERT_EQ(As("ann", "PUT", "/blog/Post/public", R"({"author":"ann","published":true})").status,
            201);
  ASSERT_EQ(As("bob", "PUT", "/blog/Post/bobs", R"({"author":"bob","published":false})").status,
            201);
  EXPECT_EQ(Ids(As("ann", "GET", "/blog/Post").body), (std::set<std::string>{"draft", "public"}));
  EXPECT_EQ(Ids(As("bob", "GET", "/blog/Post").body), (std::set<std::string>{"bobs", "public"}));
  EXPECT_EQ(Ids(As("bob", "GET", "/blog/Post?published=true").body),
            (std::set<std::string>{"public"}));
  EXPECT_EQ(As("ann", "GET", "/blog/Post/draft").status, 200);
  HttpResponse hidden = As("bob", "GET", "/blog/Post/draft");
  EXPECT_EQ(hidden.status, 404) << "a record one may not see is not there";
  EXPECT_EQ(ErrorCode(hidden.body), "not_found");
}

TEST_F(RowPolicyTest, WritesMustPassTheWriteRuleBeforeAndAfter) {
  ASSERT_EQ(As("ann", "PUT", "/blog/Post/p", R"({"author":"ann","published":true})").status, 201);
  // Creating a record as someone else.
  HttpResponse r = As("bob", "POST", "/blog/Post", R"({"author":"ann","text":"forged"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r.body), "policy_denied");
  // Changing a record bob can see but may not write.
  r = As("bob", "PATCH", "/blog/Post/p", R"({"text":"defaced"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r.body), "policy_denied");
  r = As("bob", "PUT", "/blog/Post/p", R"({"author":"bob","published":true})");
  EXPECT_EQ(r.status, 403) << "taking over a record is a write to it";
  r = As("bob", "DELETE", "/blog/Post/p");
  EXPECT_EQ(r.status, 403);
  // Handing one's own record to someone else fails the rule after the write.
  r = As("ann", "PATCH", "/blog/Post/p", R"({"author":"bob"})");
  EXPECT_EQ(r.status, 403);
  // Ann's own writes go through; nothing of bob's attempts was written.
  EXPECT_EQ(As("ann", "PATCH", "/blog/Post/p", R"({"text":"mine"})").status, 200);
  HttpResponse got = As("ann", "GET", "/blog/Post/p");
  EXPECT_NE(got.body.find(R"("text":"mine")"), std::string::npos) << got.body;
  EXPECT_NE(got.body.find(R"("author":"ann")"), std::string::npos) << got.body;
  EXPECT_EQ(As("ann", "DELETE", "/blog/Post/p").status, 200);
  // A record bob cannot see does not exist for his writes either.
  ASSERT_EQ(As("ann", "PUT", "/blog/Post/d", R"({"author":"ann","published":false})").status, 201);
  EXPECT_EQ(As("bob", "DELETE", "/blog/Post/d").status, 404);
  EXPECT_EQ(As("bob", "PATCH", "/blog/Post/d", R"({"text":"x"})").status, 404);
}

TEST_F(RowPolicyTest, SseEventsAreJudgedPerSubscriberWithLeftViewDeletes) {
  SseConn bob(server_.port(), "/blog/Post?stream=sse&retained=true", {Bearer(Token("bob"))});
  SseConn ann(server_.port(), "/blog/Post?stream=sse&retained=true", {Bearer(Token("ann"))});
  SseConn bob_ayb(server_.port(), "/api/realtime?tables=post&token=" + Token("bob"));
  ASSERT_TRUE(bob.WaitFor([](const auto& ev) { return Has(ev, "synced"); }));
  ASSERT_TRUE(ann.WaitFor([](const auto& ev) { return Has(ev, "synced"); }));
  // 1 a draft; 2 published; 3 unpublished again; 4 deleted as a draft;
  // 5 bob's published marker.
  ASSERT_EQ(As("ann", "PUT", "/blog/Post/a", R"({"author":"ann","published":false})").status, 201);
  ASSERT_EQ(As("ann", "PATCH", "/blog/Post/a", R"({"published":true})").status, 200);
  ASSERT_EQ(As("ann", "PATCH", "/blog/Post/a", R"({"published":false})").status, 200);
  ASSERT_EQ(As("ann", "DELETE", "/blog/Post/a").status, 200);
  ASSERT_EQ(As("bob", "PUT", "/blog/Post/end", R"({"author":"bob","published":true})").status, 201);
  ASSERT_TRUE(ann.WaitFor([](const auto& ev) { return Has(ev, R"("id":"end")"); }));
  ASSERT_TRUE(bob.WaitFor([](const auto& ev) { return Has(ev, R"("id":"end")"); }));
  // Ann (the author) sees every change of her post, and bob's marker.
  std::vector<std::string> a = Delivered(ann.events());
  ASSERT_EQ(a.size(), 5u) << ::testing::PrintToString(a);
  EXPECT_EQ(a[3], R"(delete {"id":"a"})");
  // Bob sees the post appear when published (an update), then leave his view
  // (a delete with reason left_view), and not its deletion as a draft.
  std::vector<std::string> b = Delivered(bob.events());
  ASSERT_EQ(b.size(), 3u) << ::testing::PrintToString(b);
  EXPECT_EQ(b[0].substr(0, 7), "update ");
  EXPECT_NE(b[0].find(R"("published":true)"), std::string::npos);
  EXPECT_EQ(b[1], R"(delete {"id":"a","reason":"left_view"})");
  EXPECT_NE(b[2].find(R"("id":"end")"), std::string::npos);
  EXPECT_EQ(bob.events()[bob.events().size() - 1].last_event_id, "5");
  // The AYB dialect says the same with its own shapes.
  ASSERT_TRUE(bob_ayb.WaitFor([](const auto& ev) { return Has(ev, R"("id":"end")"); }));
  std::vector<std::string> ayb = Delivered(bob_ayb.events());
  ASSERT_EQ(ayb.size(), 3u) << ::testing::PrintToString(ayb);
  EXPECT_NE(ayb[1].find(R"("action":"delete")"), std::string::npos) << ayb[1];
  EXPECT_NE(ayb[1].find(R"("published":true)"), std::string::npos) << "the last state bob saw";
  EXPECT_NE(ayb[1].find(R"("reason":"left_view")"), std::string::npos) << ayb[1];

  // Resuming from the start is judged against the token presented now: bob
  // gets the same three from the log, ann her five.
  SseConn bob_again(server_.port(), "/blog/Post?stream=sse",
                    {Bearer(Token("bob")), "Last-Event-ID: 0"});
  ASSERT_TRUE(bob_again.WaitFor([](const auto& ev) { return Has(ev, R"("id":"end")"); }));
  EXPECT_EQ(Delivered(bob_again.events()), b);
  SseConn as_ann(server_.port(), "/blog/Post?stream=sse",
                 {Bearer(Token("ann")), "Last-Event-ID: 0"});
  ASSERT_TRUE(as_ann.WaitFor([](const auto& ev) { return Has(ev, R"("id":"end")"); }));
  EXPECT_EQ(Delivered(as_ann.events()), a);
}

TEST_F(RowPolicyTest, RetainedReplayAndRecordStreamsAreFiltered) {
  ASSERT_EQ(As("ann", "PUT", "/blog/Post/draft", R"({"author":"ann","published":false})").status,
            201);
  ASSERT_EQ(As("ann", "PUT", "/blog/Post/pub", R"({"author":"ann","published":true})").status, 201);
  SseConn bob(server_.port(), "/blog/Post?stream=sse&retained=true", {Bearer(Token("bob"))});
  ASSERT_TRUE(bob.WaitFor([](const auto& ev) { return Has(ev, "synced"); }));
  EXPECT_TRUE(Has(bob.events(), R"("id":"pub")"));
  EXPECT_FALSE(Has(bob.events(), R"("id":"draft")"));
  SseConn one(server_.port(), "/blog/Post/draft?stream=sse", {Bearer(Token("bob"))});
  ASSERT_TRUE(one.WaitFor([](const auto& ev) { return Has(ev, "synced"); }));
  EXPECT_FALSE(Has(one.events(), "retained")) << "a hidden record has no retained state";
}

TEST_F(RowPolicyTest, WebSocketAndGraphqlSubscribersAreJudgedToo) {
  WsConn bob(server_.port(), "/blog/Post", {"Sec-WebSocket-Protocol: " + Token("bob")});
  ASSERT_TRUE(bob.upgraded());
  bob.NextText();  // subscribed
  const std::string query = R"({"query":"subscription { Post { id published } }"})";
  SseConn gql(server_.port(), "/blog/graphql",
              {"Accept: text/event-stream", "Content-Type: application/json",
               "Content-Length: " + std::to_string(query.size()), Bearer(Token("bob"))},
              0, "POST", query);
  ASSERT_EQ(gql.head().status, 200) << gql.head().body;
  ASSERT_EQ(As("ann", "PUT", "/blog/Post/a", R"({"author":"ann","published":false})").status, 201);
  ASSERT_EQ(As("ann", "PATCH", "/blog/Post/a", R"({"published":true})").status, 200);
  ASSERT_EQ(As("ann", "PATCH", "/blog/Post/a", R"({"published":false})").status, 200);
  std::vector<std::string> texts = bob.TextsUntil("left_view");
  ASSERT_EQ(texts.size(), 2u) << ::testing::PrintToString(texts);
  EXPECT_NE(texts[0].find(R"("message_type":"Update")"), std::string::npos) << texts[0];
  EXPECT_NE(texts[0].find(R"("seq":2)"), std::string::npos) << texts[0];
  EXPECT_NE(texts[1].find(R"("message_type":"Delete","data":{"id":"a","reason":"left_view"})"),
            std::string::npos)
      << texts[1];
  ASSERT_TRUE(gql.WaitFor([](const auto& ev) { return Has(ev, "left_view"); }));
  std::vector<std::string> g = Delivered(gql.events());
  ASSERT_EQ(g.size(), 2u) << ::testing::PrintToString(g);
  EXPECT_EQ(g[1], R"(next {"data":{"Post":{"id":"a","published":true}},)"
                  R"("extensions":{"op":"delete","reason":"left_view"}})");
  // A write over WebSocket meets the same rule.
  bob.SendText(R"({"action":"put","data":{"id":"a","author":"bob"},"ref":1})");
  const std::string denied = bob.NextText();
  EXPECT_NE(denied.find(R"("code":"policy_denied")"), std::string::npos) << denied;
}

// Tenants (SPEC section 8): two companies, a user each, the same app. Each
// endpoint shows a user only their company's records and events, and no
// write reaches across.
class TenantTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.WriteFile("apps/crm/config.yaml",
                      "app_id: crm\nauth: required\ntenant_claim: account\n"
                      "schemas:\n  - s.graphql\n");
    server_.WriteFile("apps/crm/s.graphql",
                      "type Deal @table @export(rest: true, sse: true, ws: true) {\n"
                      "  id: ID! @primaryKey\n  name: String\n}\n");
    // The compatibility dialects serve this app too.
    server_.WriteFile("server.yaml", "jwt_secret: " + kSecret + "\ncompat_app: crm\n");
    ASSERT_GT(server_.Start({"--config", server_.dir() + "/server.yaml"}), 0) << server_.log();
  }
  HttpResponse As(const std::string& token, const std::string& method, const std::string& path,
                  const std::string& body = "") {
    return server_.Call(method, path, body, {Bearer(token)});
  }
  const std::string acme_ = Token("ann", "acme");
  const std::string globex_ = Token("gus", "globex");
  ServerProcess server_;
};

TEST_F(TenantTest, NoReadEventOrWriteCrossesTenants) {
  // Streams of both, open before anything is written: SSE on the table and
  // on a record, WebSocket, GraphQL.
  SseConn acme_sse(server_.port(), "/crm/Deal?stream=sse", {Bearer(acme_)});
  SseConn globex_sse(server_.port(), "/crm/Deal?stream=sse", {Bearer(globex_)});
  SseConn globex_record(server_.port(), "/crm/Deal/a1?stream=sse", {Bearer(globex_)});
  WsConn globex_ws(server_.port(), "/crm/Deal", {"Sec-WebSocket-Protocol: " + globex_});
  ASSERT_TRUE(globex_ws.upgraded());
  globex_ws.NextText();
  const std::string query = R"({"query":"subscription { Deal { id name } }"})";
  SseConn globex_gql(server_.port(), "/crm/graphql",
                     {"Accept: text/event-stream", "Content-Type: application/json",
                      "Content-Length: " + std::to_string(query.size()), Bearer(globex_)},
                     0, "POST", query);
  ASSERT_EQ(globex_gql.head().status, 200);
  // The dialects: AYB SSE, SnackBase SSE and WebSocket.
  SseConn globex_ayb(server_.port(), "/api/realtime?tables=deal&token=" + globex_);
  ASSERT_EQ(globex_ayb.head().status, 200) << globex_ayb.head().body;
  SseConn globex_snack_sse(server_.port(), "/api/v1/realtime/subscribe?collection=deal",
                           {Bearer(globex_)});
  ASSERT_EQ(globex_snack_sse.head().status, 200) << globex_snack_sse.head().body;
  WsConn globex_snack_ws(server_.port(), "/api/v1/realtime/ws?token=" + globex_);
  ASSERT_TRUE(globex_snack_ws.upgraded());
  globex_snack_ws.SendText(R"({"action":"subscribe","collection":"deal"})");
  ASSERT_NE(globex_snack_ws.NextText().find("subscribed"), std::string::npos);

  // Acme writes a record; it is stamped with acme's tenant.
  HttpResponse made = As(acme_, "PUT", "/crm/Deal/a1", R"({"name":"acme deal"})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_NE(made.body.find(R"("__tenant__":"acme")"), std::string::npos) << made.body;
  // A client cannot pick its tenant.
  EXPECT_EQ(As(globex_, "PUT", "/crm/Deal/g0", R"({"name":"x","__tenant__":"acme"})").status, 400);
  // Globex's own record, then its marker event for the streams.
  ASSERT_EQ(As(globex_, "PUT", "/crm/Deal/g1", R"({"name":"globex deal"})").status, 201);

  // REST reads.
  EXPECT_EQ(Ids(As(acme_, "GET", "/crm/Deal").body), (std::set<std::string>{"a1"}));
  EXPECT_EQ(Ids(As(globex_, "GET", "/crm/Deal").body), (std::set<std::string>{"g1"}));
  EXPECT_EQ(As(globex_, "GET", "/crm/Deal/a1").status, 404);
  // REST writes at another tenant's record.
  EXPECT_EQ(As(globex_, "PATCH", "/crm/Deal/a1", R"({"name":"stolen"})").status, 404);
  EXPECT_EQ(As(globex_, "DELETE", "/crm/Deal/a1").status, 404);
  EXPECT_EQ(As(globex_, "PUT", "/crm/Deal/a1", R"({"name":"stolen"})").status, 403);
  EXPECT_EQ(As(globex_, "POST", "/crm/Deal", R"({"id":"a1","name":"stolen"})").status, 409);
  // A token without the tenant claim reads nothing and writes nothing.
  const std::string nobody = Token("nobody");
  EXPECT_EQ(Ids(As(nobody, "GET", "/crm/Deal").body), (std::set<std::string>{}));
  HttpResponse denied = As(nobody, "POST", "/crm/Deal", R"({"name":"x"})");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(ErrorCode(denied.body), "policy_denied");
  // WebSocket writes and publishes.
  globex_ws.SendText(R"({"action":"delete","id":"a1","ref":1})");
  std::vector<std::string> texts = globex_ws.TextsUntil(R"("ref":1)");
  ASSERT_FALSE(texts.empty());
  EXPECT_NE(texts.back().find(R"("code":"not_found")"), std::string::npos) << texts.back();
  WsConn acme_ws(server_.port(), "/crm/Deal", {"Sec-WebSocket-Protocol: " + acme_});
  ASSERT_TRUE(acme_ws.upgraded());
  acme_ws.NextText();
  acme_ws.SendText(R"({"action":"publish","data":{"note":"acme only"},"ref":2})");
  EXPECT_FALSE(acme_ws.TextsUntil(R"("ref":2)").empty());
  // Acme's record unchanged.
  HttpResponse a1 = As(acme_, "GET", "/crm/Deal/a1");
  EXPECT_NE(a1.body.find("acme deal"), std::string::npos) << a1.body;
  // A last globex write, so every globex stream has something to wait for.
  ASSERT_EQ(As(globex_, "PUT", "/crm/Deal/g2", R"({"name":"last"})").status, 201);

  // Streams: globex's see only g1 and g2; acme's only a1 (and its publish).
  auto until_g2 = [](const auto& ev) { return Has(ev, R"("id":"g2")"); };
  ASSERT_TRUE(globex_sse.WaitFor(until_g2));
  EXPECT_FALSE(Has(globex_sse.events(), "acme"));
  ASSERT_TRUE(globex_gql.WaitFor(until_g2));
  EXPECT_FALSE(Has(globex_gql.events(), "a1"));
  std::vector<std::string> ws = globex_ws.TextsUntil(R"("id":"g2")");
  for (const std::string& t : ws) EXPECT_EQ(t.find("acme"), std::string::npos) << t;
  ASSERT_TRUE(globex_ayb.WaitFor(until_g2));
  EXPECT_FALSE(Has(globex_ayb.events(), "acme"));
  ASSERT_TRUE(globex_snack_sse.WaitFor(until_g2));
  EXPECT_FALSE(Has(globex_snack_sse.events(), "acme"));
  for (const std::string& t : globex_snack_ws.TextsUntil(R"("id":"g2")")) {
    EXPECT_EQ(t.find("acme"), std::string::npos) << t;
  }
  // Resumes in the dialects are judged the same way.
  SseConn ayb_again(server_.port(), "/api/realtime?tables=deal&token=" + globex_,
                    {"Last-Event-ID: 0"});
  ASSERT_TRUE(ayb_again.WaitFor(until_g2));
  EXPECT_FALSE(Has(ayb_again.events(), "acme"));
  globex_record.Drain(milliseconds(300));
  EXPECT_FALSE(Has(globex_record.events(), "acme")) << "a record topic is judged too";
  ASSERT_TRUE(acme_sse.WaitFor([](const auto& ev) { return Has(ev, "acme only"); }));
  EXPECT_FALSE(Has(acme_sse.events(), "globex"));
  // A resume from the start, judged the same way.
  SseConn globex_again(server_.port(), "/crm/Deal?stream=sse",
                       {Bearer(globex_), "Last-Event-ID: 0"});
  ASSERT_TRUE(globex_again.WaitFor(until_g2));
  EXPECT_FALSE(Has(globex_again.events(), "acme"));
}

TEST_F(RowPolicyTest, SnackbaseSubscribersGetLeftViewUnlessTheyTakeNoDeletes) {
  WsConn all(server_.port(), "/api/v1/realtime/ws?token=" + Token("bob"));
  WsConn no_deletes(server_.port(), "/api/v1/realtime/ws?token=" + Token("bob"));
  ASSERT_TRUE(all.upgraded() && no_deletes.upgraded());
  all.SendText(R"({"action":"subscribe","collection":"post"})");
  no_deletes.SendText(
      R"({"action":"subscribe","collection":"post","operations":["create","update"]})");
  ASSERT_NE(all.NextText().find("subscribed"), std::string::npos);
  ASSERT_NE(no_deletes.NextText().find("subscribed"), std::string::npos);
  ASSERT_EQ(As("ann", "PUT", "/blog/Post/a", R"({"author":"ann","published":true})").status, 201);
  ASSERT_EQ(As("ann", "PATCH", "/blog/Post/a", R"({"published":false})").status, 200);
  ASSERT_EQ(As("bob", "PUT", "/blog/Post/end", R"({"author":"bob"})").status, 201);
  std::vector<std::string> a = all.TextsUntil(R"("id":"end")");
  ASSERT_EQ(a.size(), 3u) << ::testing::PrintToString(a);
  EXPECT_NE(a[1].find(R"("type":"Post.delete")"), std::string::npos) << a[1];
  EXPECT_NE(a[1].find(R"("reason":"left_view")"), std::string::npos) << a[1];
  std::vector<std::string> n = no_deletes.TextsUntil(R"("id":"end")");
  ASSERT_EQ(n.size(), 2u) << ::testing::PrintToString(n);
  EXPECT_EQ(n[1].find("left_view"), std::string::npos) << n[1];
}

TEST(RowPolicyStartupTest, ABadRuleStopsStartUpNamingTheTypeAndColumn) {
  ServerProcess server;
  server.WriteFile("apps/blog/config.yaml", "app_id: blog\nschemas:\n  - s.graphql\n");
  server.WriteFile("apps/blog/s.graphql",
                   "type Post @table @export\n"
                   "  @policy(read: \"autor = $auth.sub\") {\n"
                   "  id: ID! @primaryKey\n  author: String\n}\n");
  EXPECT_EQ(server.Start(), 0);
  EXPECT_NE(server.log().find("s.graphql:2: type Post: @policy(read: \\\"autor = $auth.sub\\\") "
                              "at character 1: unknown column 'autor'"),
            std::string::npos)
      << server.log();
}

}  // namespace
}  // namespace eventide::testing
