// The compatibility dialects (SPEC section 7, docs/DIALECTS.md) against the
// real binary over raw sockets: AYB's SSE endpoint, SnackBase's WebSocket and
// SSE endpoints — their exact bytes, one cursor over several tables, exact
// resume while writes go on, retained replay, the operations filter, the
// subscription limit, errors, tokens, and /metrics.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "src/auth/jwt_mint.h"
#include "tests/server/harness.h"
#include "tests/server/stream_clients.h"

namespace eventide::testing {
namespace {

using stream::ClientEvent;
using Events = std::vector<ClientEvent>;
using std::chrono::milliseconds;

const std::string kSecret = "dialects-test-secret-of-some-length";

// The compat app: posts and comments (every stream on), users (followed by
// nobody in most tests), secrets (REST only).
const char kCompatSchema[] =
    "type Post @table @export(name: \"posts\", rest: true, sse: true, ws: true) {\n"
    "  id: ID! @primaryKey\n  title: String!\n  published: Boolean\n}\n"
    "type Comment @table @export(name: \"comments\", rest: true, sse: true, ws: true) {\n"
    "  id: ID! @primaryKey\n  post_id: String\n  body: String!\n}\n"
    "type User @table @export(name: \"users\", rest: true, sse: true, ws: true) {\n"
    "  id: ID! @primaryKey\n  name: String\n}\n"
    "type Secret @table @export(name: \"secrets\", rest: true) {\n"
    "  id: ID! @primaryKey\n  value: String\n}\n";

void WriteCompatApp(ServerProcess& s, const std::string& auth = "off") {
  s.WriteFile("apps/compat/config.yaml",
              "app_id: compat\nauth: " + auth + "\nschemas:\n  - schema.graphql\n");
  s.WriteFile("apps/compat/schema.graphql", kCompatSchema);
}

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  return d;
}

std::string Str(const rapidjson::Value& v, const char* k) {
  if (!v.IsObject() || !v.HasMember(k) || !v[k].IsString()) return "<missing>";
  return v[k].GetString();
}

uint64_t Num(const rapidjson::Value& v, const char* k) {
  if (!v.IsObject() || !v.HasMember(k) || !v[k].IsUint64()) return ~0ull;
  return v[k].GetUint64();
}

std::string ErrorCode(const std::string& body) {
  rapidjson::Document d = Json(body);
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

// A write to the compat app; its position (0 on failure).
uint64_t Write(ServerProcess& s, const std::string& method, const std::string& path,
               const std::string& body = "", std::vector<std::string> headers = {}) {
  HttpResponse r = s.Call(method, "/compat/" + path, body, std::move(headers));
  if (r.status / 100 != 2) {
    ADD_FAILURE() << method << " " << path << ": " << r.status << " " << r.body;
    return 0;
  }
  return std::stoull(r.Header("event-position"));
}

uint64_t PutPost(ServerProcess& s, const std::string& id, const std::string& title) {
  return Write(s, "PUT", "posts/" + id, R"({"title":")" + title + R"(","published":true})");
}

uint64_t PutComment(ServerProcess& s, const std::string& id, const std::string& body) {
  return Write(s, "PUT", "comments/" + id, R"({"post_id":"p1","body":")" + body + "\"}");
}

uint64_t PutUser(ServerProcess& s, const std::string& id) {
  return Write(s, "PUT", "users/" + id, R"({"name":"n"})");
}

// The positions (`id:`) of data events (those with "record" for AYB,
// "seq" for SnackBase), in order.
std::vector<uint64_t> EventIds(const Events& ev) {
  std::vector<uint64_t> out;
  for (const auto& e : ev) {
    if (e.data.find("\"record\"") != std::string::npos &&
        e.data.find("\"retained\"") == std::string::npos) {
      out.push_back(std::stoull(e.last_event_id));
    } else if (e.data.find("\"seq\"") != std::string::npos &&
               e.data.find("\"synced\"") == std::string::npos) {
      out.push_back(std::stoull(e.last_event_id));
    }
  }
  return out;
}

std::function<bool(const Events&)> HasId(uint64_t p) {
  return [p](const Events& ev) {
    for (const auto& e : ev) {
      if (e.last_event_id == std::to_string(p)) return true;
    }
    return false;
  };
}

std::function<bool(const Events&)> HasData(const std::string& needle) {
  return [needle](const Events& ev) {
    for (const auto& e : ev) {
      if (e.data.find(needle) != std::string::npos) return true;
    }
    return false;
  };
}

// Reads raw bytes until they contain `needle` (the stream's bytes, unparsed).
bool ReadUntil(RawSocket& sock, const std::string& needle,
               milliseconds timeout = milliseconds(10000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (sock.buffer().find(needle) == std::string::npos) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || sock.ReadMore(left) < 0) return false;
  }
  return true;
}

class DialectsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteCompatApp(server_);
    server_.WriteFile("server.yaml", "compat_app: compat\n" + ExtraConfig());
    ASSERT_GT(server_.Start({"--config", server_.dir() + "/server.yaml"}), 0) << server_.log();
  }
  virtual std::string ExtraConfig() { return ""; }
  int port() { return server_.port(); }
  ServerProcess server_;
};

// ---- AYB ----

TEST_F(DialectsTest, AybSendsUnnamedEventsWithPositionsAsTheSeedShows) {
  ASSERT_EQ(PutPost(server_, "p0", "before"), 1u);
  RawSocket sock(port());
  ASSERT_TRUE(sock.Send("GET /api/realtime?tables=posts HTTP/1.1\r\nHost: x\r\n\r\n"));
  HttpResponse head = sock.ReadHead(milliseconds(5000));
  ASSERT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-type"), "text/event-stream");
  EXPECT_EQ(head.Header("cache-control"), "no-cache");
  EXPECT_EQ(head.Header("content-length"), "");
  const std::string connected =
      "retry: 3000\n\n"
      "data: "
      "{\"action\":\"connected\",\"type\":\"connected\",\"status\":\"ok\",\"position\":1}\n\n";
  ASSERT_TRUE(ReadUntil(sock, connected));
  EXPECT_EQ(sock.buffer(), connected) << "no retained state unless asked";
  sock.buffer().clear();

  ASSERT_EQ(Write(server_, "POST", "posts", R"({"id":"p1","title":"New Post","published":true})"),
            2u);
  ASSERT_EQ(Write(server_, "PATCH", "posts/p1", R"({"title":"Edited"})"), 3u);
  ASSERT_EQ(Write(server_, "DELETE", "posts/p1"), 4u);
  const std::string events =
      "id: 2\ndata: "
      "{\"action\":\"create\",\"table\":\"posts\",\"record\":{\"id\":\"p1\",\"title\":\"New "
      "Post\",\"published\":true}}\n\n"
      "id: 3\ndata: "
      "{\"action\":\"update\",\"table\":\"posts\",\"record\":{\"id\":\"p1\",\"title\":\"Edited\","
      "\"published\":true}}\n\n"
      "id: 4\ndata: "
      "{\"action\":\"delete\",\"table\":\"posts\",\"record\":{\"id\":\"p1\",\"title\":\"Edited\","
      "\"published\":true}}\n\n";
  ASSERT_TRUE(ReadUntil(sock, "id: 4\n"));
  ASSERT_TRUE(ReadUntil(sock, "}}\n\n", milliseconds(2000)));
  std::string got = sock.buffer();
  // Heartbeats may come in between (comments); they are not events.
  got = std::regex_replace(got, std::regex(": ping\n\n"), "");
  EXPECT_EQ(got, events);
}

TEST_F(DialectsTest, AybFollowsSeveralTablesWithOneStrictlyIncreasingIdSequence) {
  SseConn c(port(), "/api/realtime?tables=Posts,%20comments");
  ASSERT_EQ(c.head().status, 200) << c.head().body;
  ASSERT_TRUE(c.WaitFor(HasData("connected")));
  std::vector<uint64_t> want;
  for (int i = 0; i < 5; ++i) {
    want.push_back(PutPost(server_, "p" + std::to_string(i), "t"));
    PutUser(server_, "u" + std::to_string(i));  // not followed
    want.push_back(PutComment(server_, "c" + std::to_string(i), "b"));
  }
  ASSERT_TRUE(c.WaitFor(HasId(want.back())));
  c.Drain(milliseconds(200));
  EXPECT_EQ(EventIds(c.events()), want);
  size_t posts = 0, comments = 0;
  for (const auto& e : c.events()) {
    EXPECT_EQ(e.type, "message") << "every AYB event is unnamed";
    rapidjson::Document d = Json(e.data);
    posts += Str(d, "table") == "posts";
    comments += Str(d, "table") == "comments";
  }
  EXPECT_EQ(posts, 5u);
  EXPECT_EQ(comments, 5u);
}

// Subscribers to two tables resume from random positions while a writer
// writes to those and to another table: each sees every matching entry
// after its position exactly once, in order.
TEST_F(DialectsTest, AybResumeWhileWritingHasNoGapAndNoDuplicate) {
  constexpr int kWrites = 300;
  std::vector<std::string> tables(kWrites + 1);
  std::atomic<uint64_t> written{0};
  std::thread writer([&] {
    for (int i = 1; i <= kWrites; ++i) {
      const std::string id = "w" + std::to_string(i % 11);
      uint64_t p = i % 3 == 0   ? PutUser(server_, id)
                   : i % 3 == 1 ? PutPost(server_, id, std::to_string(i))
                                : PutComment(server_, id, std::to_string(i));
      if (p == 0) break;
      tables[p] = i % 3 == 0 ? "users" : i % 3 == 1 ? "posts" : "comments";
      written = p;
    }
  });
  std::mt19937 rng(7);
  struct Sub {
    uint64_t from;
    std::unique_ptr<SseConn> conn;
  };
  std::vector<Sub> subs;
  while (written < kWrites && subs.size() < 16) {
    const uint64_t head = written;
    const uint64_t from = head == 0 ? 0 : rng() % (head + 1);
    subs.push_back({from, std::make_unique<SseConn>(
                              port(), "/api/realtime?tables=posts,comments",
                              std::vector<std::string>{"Last-Event-ID: " + std::to_string(from)})});
    std::this_thread::sleep_for(milliseconds(rng() % 40));
  }
  writer.join();
  ASSERT_EQ(written.load(), uint64_t(kWrites));
  uint64_t last_matching = kWrites;
  while (tables[last_matching] == "users") --last_matching;
  for (Sub& s : subs) {
    ASSERT_TRUE(s.conn->WaitFor(HasId(last_matching), std::chrono::seconds(20)))
        << "from " << s.from;
    std::vector<uint64_t> want;
    for (uint64_t p = s.from + 1; p <= kWrites; ++p) {
      if (tables[p] != "users") want.push_back(p);
    }
    EXPECT_EQ(EventIds(s.conn->events()), want) << "from " << s.from;
  }
}

TEST_F(DialectsTest, AybRetainedReplaysEveryTableThenSynced) {
  PutPost(server_, "p1", "one");
  PutComment(server_, "c1", "first");
  PutPost(server_, "p2", "two");
  PutUser(server_, "u1");
  SseConn c(port(), "/api/realtime?tables=posts,comments&retained=true");
  ASSERT_TRUE(c.WaitFor(HasData("synced")));
  const Events& ev = c.events();
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(
      ev[1].data,
      R"({"action":"create","table":"posts","record":{"title":"one","published":true,"id":"p1"},"retained":true})");
  EXPECT_EQ(ev[1].last_event_id, "") << "a retained record has no position";
  EXPECT_EQ(Str(Json(ev[2].data)["record"], "id"), "p2");
  EXPECT_EQ(
      ev[3].data,
      R"({"action":"create","table":"comments","record":{"post_id":"p1","body":"first","id":"c1"},"retained":true})");
  EXPECT_EQ(ev[4].data, R"({"action":"synced","type":"synced","position":4})");
  EXPECT_EQ(ev[4].last_event_id, "4");
  ASSERT_EQ(PutComment(server_, "c2", "live"), 5u);
  ASSERT_TRUE(c.WaitFor(HasId(5)));
}

TEST_F(DialectsTest, AybBadPositionsResetAndReplay) {
  PutPost(server_, "p1", "one");
  for (const char* bad : {"abc", "99", "007"}) {
    SseConn c(port(), "/api/realtime?tables=posts", {std::string("Last-Event-ID: ") + bad});
    ASSERT_EQ(c.head().status, 200);
    ASSERT_TRUE(c.WaitFor(HasData("synced"))) << bad;
    EXPECT_EQ(c.events()[1].data,
              R"({"action":"reset","type":"reset","reason":"unknown","position":1})");
    EXPECT_NE(c.events()[2].data.find(R"("retained":true)"), std::string::npos);
  }
  // The query parameter works too; the header wins over it.
  PutPost(server_, "p2", "two");
  PutPost(server_, "p3", "three");
  SseConn q(port(), "/api/realtime?tables=posts&lastEventId=1");
  ASSERT_TRUE(q.WaitFor(HasId(3)));
  EXPECT_EQ(EventIds(q.events()), (std::vector<uint64_t>{2, 3}));
  SseConn h(port(), "/api/realtime?tables=posts&lastEventId=0", {"Last-Event-ID: 2"});
  ASSERT_TRUE(h.WaitFor(HasId(3)));
  EXPECT_EQ(EventIds(h.events()), (std::vector<uint64_t>{3}));
}

TEST_F(DialectsTest, AybErrors) {
  SseConn unknown(port(), "/api/realtime?tables=posts,nope");
  EXPECT_EQ(unknown.head().status, 404);
  EXPECT_EQ(ErrorCode(unknown.head().body), "unknown_table");
  EXPECT_NE(unknown.head().body.find("'nope'"), std::string::npos) << unknown.head().body;
  for (const char* q : {"", "?tables=", "?tables=,", "?other=1"}) {
    SseConn none(port(), std::string("/api/realtime") + q);
    EXPECT_EQ(none.head().status, 400) << q;
    EXPECT_EQ(ErrorCode(none.head().body), "tables_required") << q;
  }
  SseConn off(port(), "/api/realtime?tables=secrets");
  EXPECT_EQ(off.head().status, 404);
  EXPECT_EQ(ErrorCode(off.head().body), "sse_disabled");
  HttpResponse post = server_.Call("POST", "/api/realtime?tables=posts", "{}");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.Header("allow"), "GET, OPTIONS");
  EXPECT_EQ(server_.Call("GET", "/api/nothing").status, 404);
}

TEST_F(DialectsTest, PublishesAreNotDeliveredToTheCompatDialects) {
  SseConn ayb(port(), "/api/realtime?tables=posts");
  SseConn snack(port(), "/api/v1/realtime/subscribe?collection=posts");
  ASSERT_TRUE(ayb.WaitFor(HasData("connected")));
  ASSERT_TRUE(snack.WaitFor(HasData("connected")));
  // A native WebSocket publishes to the posts table.
  WsConn native(port(), "/compat/posts");
  ASSERT_TRUE(native.upgraded());
  native.NextText();
  native.SendText(R"({"action":"publish","data":{"hello":"world"}})");
  ASSERT_NE(native.TextsUntil("\"ack\"").back().find("\"seq\":1"), std::string::npos);
  ASSERT_EQ(PutPost(server_, "p1", "after"), 2u);
  ASSERT_TRUE(ayb.WaitFor(HasId(2)));
  ASSERT_TRUE(snack.WaitFor(HasId(2)));
  EXPECT_EQ(EventIds(ayb.events()), (std::vector<uint64_t>{2}));
  EXPECT_EQ(EventIds(snack.events()), (std::vector<uint64_t>{2}));
  EXPECT_FALSE(HasData("hello")(ayb.events()));
  EXPECT_FALSE(HasData("hello")(snack.events()));
}

// ---- SnackBase WebSocket ----

TEST_F(DialectsTest, SnackbaseWsMessagesAsTheSeedShows) {
  WsConn ws(port(), "/api/v1/realtime/ws");
  ASSERT_TRUE(ws.upgraded()) << ws.head().status << " " << ws.head().body;
  ws.SendText(
      R"({"action":"subscribe","collection":"posts","operations":["create","update","delete"]})");
  EXPECT_EQ(ws.NextText(), R"({"status":"subscribed","collection":"posts"})");
  ASSERT_EQ(PutPost(server_, "p1", "New Post"), 1u);
  const std::string create = ws.NextText();
  EXPECT_TRUE(std::regex_match(
      create,
      std::regex(
          R"(\{"type":"posts\.create","timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","data":\{"title":"New Post","published":true,"id":"p1"\},"seq":1\})")))
      << create;
  ASSERT_EQ(Write(server_, "PATCH", "posts/p1", R"({"published":false})"), 2u);
  rapidjson::Document u = Json(ws.NextText());
  EXPECT_EQ(Str(u, "type"), "posts.update");
  EXPECT_EQ(Num(u, "seq"), 2u);
  EXPECT_FALSE(u["data"]["published"].GetBool());
  ASSERT_EQ(Write(server_, "DELETE", "posts/p1"), 3u);
  rapidjson::Document d = Json(ws.NextText());
  EXPECT_EQ(Str(d, "type"), "posts.delete");
  EXPECT_EQ(Str(d["data"], "title"), "New Post") << "a delete carries the record's last state";
  ws.SendText(R"({"action":"ping"})");
  EXPECT_EQ(ws.NextText(), R"({"type":"pong"})");
  ws.SendText(R"({"action":"unsubscribe","collection":"posts"})");
  EXPECT_EQ(ws.NextText(), R"({"status":"unsubscribed","collection":"posts"})");
  PutPost(server_, "p2", "unseen");
  ws.SendText(R"({"action":"ping"})");
  EXPECT_EQ(ws.NextText(), R"({"type":"pong"})") << "nothing after the unsubscribe";
}

TEST_F(DialectsTest, SnackbaseWsOperationsFilterPerSubscriber) {
  WsConn creates(port(), "/api/v1/realtime/ws");
  WsConn all(port(), "/api/v1/realtime/ws");
  creates.SendText(R"({"action":"subscribe","collection":"posts","operations":["create"]})");
  all.SendText(R"({"action":"subscribe","collection":"posts"})");
  ASSERT_EQ(creates.NextText(), R"({"status":"subscribed","collection":"posts"})");
  ASSERT_EQ(all.NextText(), R"({"status":"subscribed","collection":"posts"})");
  ASSERT_EQ(Write(server_, "POST", "posts", R"({"id":"a","title":"1"})"), 1u);
  ASSERT_EQ(Write(server_, "PATCH", "posts/a", R"({"title":"2"})"), 2u);
  ASSERT_EQ(Write(server_, "DELETE", "posts/a"), 3u);
  ASSERT_EQ(Write(server_, "POST", "posts", R"({"id":"b","title":"3"})"), 4u);
  std::vector<std::string> got = creates.TextsUntil("\"seq\":4");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(Str(Json(got[0]), "type"), "posts.create");
  EXPECT_EQ(Num(Json(got[0]), "seq"), 1u);
  EXPECT_EQ(Num(Json(got[1]), "seq"), 4u);
  std::vector<std::string> every = all.TextsUntil("\"seq\":4");
  ASSERT_EQ(every.size(), 4u);
  EXPECT_EQ(Str(Json(every[1]), "type"), "posts.update");
  EXPECT_EQ(Str(Json(every[2]), "type"), "posts.delete");
  // The same frame bytes for both (one encoding per event).
  EXPECT_EQ(got[1], every[3]);
  // Resume with the filter: only creates after the position.
  WsConn resumed(port(), "/api/v1/realtime/ws");
  resumed.SendText(
      R"({"action":"subscribe","collection":"posts","operations":["update","delete"],"lastEventId":1})");
  ASSERT_EQ(resumed.NextText(), R"({"status":"subscribed","collection":"posts"})");
  EXPECT_EQ(Num(Json(resumed.NextText()), "seq"), 2u);
  EXPECT_EQ(Num(Json(resumed.NextText()), "seq"), 3u);
  resumed.SendText(R"({"action":"ping"})");
  EXPECT_EQ(resumed.NextText(), R"({"type":"pong"})") << "the create at 4 is filtered out";
}

TEST_F(DialectsTest, SnackbaseWsSeveralCollectionsResumeAndRetained) {
  PutPost(server_, "p1", "one");       // 1
  PutComment(server_, "c1", "first");  // 2
  PutPost(server_, "p2", "two");       // 3
  WsConn ws(port(), "/api/v1/realtime/ws");
  ws.SendText(R"({"action":"subscribe","collection":"POSTS","lastEventId":"1"})");
  EXPECT_EQ(ws.NextText(), R"({"status":"subscribed","collection":"posts"})");
  EXPECT_EQ(Num(Json(ws.NextText()), "seq"), 3u);
  ws.SendText(R"({"action":"subscribe","collection":"comments","retained":true})");
  EXPECT_EQ(ws.NextText(), R"({"status":"subscribed","collection":"comments"})");
  EXPECT_EQ(
      ws.NextText(),
      R"({"type":"comments.create","data":{"post_id":"p1","body":"first","id":"c1"},"retained":true})");
  EXPECT_EQ(ws.NextText(), R"({"type":"synced","collection":"comments","seq":3})");
  PutComment(server_, "c2", "x");  // 4
  PutUser(server_, "u1");          // 5
  PutPost(server_, "p3", "y");     // 6
  EXPECT_EQ(Str(Json(ws.NextText()), "type"), "comments.create");
  rapidjson::Document p = Json(ws.NextText());
  EXPECT_EQ(Str(p, "type"), "posts.create");
  EXPECT_EQ(Num(p, "seq"), 6u);
  // A malformed position resets, never fails.
  ws.SendText(R"({"action":"subscribe","collection":"users","lastEventId":"x"})");
  std::vector<std::string> reset = ws.TextsUntil("synced");
  ASSERT_EQ(reset.size(), 4u);
  EXPECT_EQ(reset[1], R"({"type":"reset","collection":"users","reason":"unknown","position":6})");
  EXPECT_EQ(reset[3], R"({"type":"synced","collection":"users","seq":6})");
}

TEST_F(DialectsTest, SnackbaseWsErrorsAreInBandAndTheConnectionStays) {
  WsConn ws(port(), "/api/v1/realtime/ws");
  auto code = [&](const std::string& msg) {
    ws.SendText(msg);
    rapidjson::Document d = Json(ws.NextText());
    EXPECT_EQ(Str(d, "type"), "error") << msg;
    return Str(d, "code");
  };
  EXPECT_EQ(code("not json"), "invalid_json");
  EXPECT_EQ(code("[1]"), "invalid_message");
  EXPECT_EQ(code(R"({"collection":"posts"})"), "invalid_message");
  EXPECT_EQ(code(R"({"action":"publish"})"), "unknown_action");
  EXPECT_EQ(code(R"({"action":"subscribe"})"), "invalid_message");
  EXPECT_EQ(code(R"({"action":"subscribe","collection":"nope"})"), "unknown_collection");
  EXPECT_EQ(code(R"({"action":"subscribe","collection":"secrets"})"), "ws_disabled");
  EXPECT_EQ(code(R"({"action":"subscribe","collection":"posts","operations":["read"]})"),
            "invalid_message");
  EXPECT_EQ(code(R"({"action":"subscribe","collection":"posts","operations":[]})"),
            "invalid_message");
  EXPECT_EQ(code(R"({"action":"unsubscribe","collection":"posts"})"), "not_subscribed");
  ws.SendText(R"({"action":"subscribe","collection":"nope"})");
  EXPECT_EQ(
      ws.NextText(),
      R"({"type":"error","code":"unknown_collection","message":"no collection 'nope'","action":"subscribe","collection":"nope"})");
  ws.SendText(R"({"action":"ping"})");
  EXPECT_EQ(ws.NextText(), R"({"type":"pong"})");
}

TEST_F(DialectsTest, SnackbaseSseEventsResumeAndSeveralCollections) {
  PutPost(server_, "p0", "before");  // 1
  RawSocket sock(port());
  ASSERT_TRUE(sock.Send(
      "GET /api/v1/realtime/subscribe?collection=posts&collection=comments HTTP/1.1\r\nHost: "
      "x\r\n\r\n"));
  HttpResponse head = sock.ReadHead(milliseconds(5000));
  ASSERT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-type"), "text/event-stream");
  ASSERT_TRUE(ReadUntil(sock, "\"position\":1}\n\n"));
  EXPECT_EQ(sock.buffer(),
            "retry: 3000\n\ndata: {\"type\":\"connected\",\"status\":\"ok\",\"position\":1}\n\n");
  sock.buffer().clear();
  ASSERT_EQ(PutComment(server_, "c1", "hi"), 2u);
  ASSERT_TRUE(ReadUntil(sock, "\"seq\":2}\n\n"));
  EXPECT_TRUE(std::regex_match(
      sock.buffer(),
      std::regex(
          R"(id: 2\ndata: \{"type":"comments\.create","timestamp":"[0-9T:.Z-]{24}","data":\{"post_id":"p1","body":"hi","id":"c1"\},"seq":2\}\n\n)")))
      << sock.buffer();
  sock.Close();
  PutUser(server_, "u");        // 3
  PutPost(server_, "p1", "x");  // 4
  SseConn again(port(), "/api/v1/realtime/subscribe?collection=posts&collection=comments",
                {"Last-Event-ID: 2"});
  ASSERT_TRUE(again.WaitFor(HasId(4)));
  EXPECT_EQ(EventIds(again.events()), (std::vector<uint64_t>{4}));
  // Without a collection: every collection with SSE on.
  SseConn every(port(), "/api/v1/realtime/subscribe", {"Last-Event-ID: 0"});
  ASSERT_TRUE(every.WaitFor(HasId(4)));
  EXPECT_EQ(EventIds(every.events()), (std::vector<uint64_t>{1, 2, 3, 4}));
  SseConn unknown(port(), "/api/v1/realtime/subscribe?collection=nope");
  EXPECT_EQ(unknown.head().status, 404);
  EXPECT_EQ(ErrorCode(unknown.head().body), "unknown_collection");
  SseConn retained(port(), "/api/v1/realtime/subscribe?collection=comments&retained=true");
  ASSERT_TRUE(retained.WaitFor(HasData("synced")));
  EXPECT_EQ(
      retained.events()[1].data,
      R"({"type":"comments.create","data":{"post_id":"p1","body":"hi","id":"c1"},"retained":true})");
  EXPECT_EQ(retained.events()[2].data, R"({"type":"synced","seq":4})");
  EXPECT_EQ(retained.events()[2].last_event_id, "4");
}

TEST_F(DialectsTest, MetricsCountSubscribersByDialect) {
  SseConn ayb(port(), "/api/realtime?tables=posts");
  SseConn snack_sse(port(), "/api/v1/realtime/subscribe?collection=posts");
  WsConn snack_ws(port(), "/api/v1/realtime/ws");
  SseConn native(port(), "/compat/posts?stream=sse");
  ASSERT_TRUE(ayb.WaitFor(HasData("connected")));
  ASSERT_TRUE(snack_sse.WaitFor(HasData("connected")));
  ASSERT_TRUE(native.WaitFor(HasData("connected")));
  ASSERT_TRUE(snack_ws.upgraded());
  snack_ws.SendText(R"({"action":"ping"})");
  snack_ws.NextText();
  const std::string m = server_.Call("GET", "/metrics").body;
  EXPECT_NE(m.find("eventide_subscribers{dialect=\"sse\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("eventide_subscribers{dialect=\"ws\"} 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("eventide_subscribers{dialect=\"ayb\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("eventide_subscribers{dialect=\"snackbase\"} 2\n"), std::string::npos) << m;
}

class DialectsHeartbeatTest : public DialectsTest {
  std::string ExtraConfig() override {
    return "streams:\n  snackbase_heartbeat_ms: 150\n  sse_ping_ms: 150\n";
  }
};

TEST_F(DialectsHeartbeatTest, HeartbeatsCarryNoPosition) {
  PutPost(server_, "p", "x");
  WsConn ws(port(), "/api/v1/realtime/ws");
  std::vector<std::string> beats = ws.TextsUntil("heartbeat", milliseconds(3000));
  ASSERT_FALSE(beats.empty());
  EXPECT_TRUE(std::regex_match(
      beats.back(), std::regex(R"(\{"type":"heartbeat","timestamp":"[0-9T:.Z-]{24}"\})")))
      << beats.back();
  SseConn sse(port(), "/api/v1/realtime/subscribe?collection=posts", {"Last-Event-ID: 0"});
  ASSERT_TRUE(sse.WaitFor(HasData("heartbeat")));
  for (const auto& e : sse.events()) {
    if (e.data.find("heartbeat") == std::string::npos) continue;
    EXPECT_EQ(e.type, "message");
    EXPECT_TRUE(std::regex_match(
        e.data,
        std::regex(R"(\{"type":"heartbeat","event":"heartbeat","timestamp":"[0-9T:.Z-]{24}"\})")))
        << e.data;
    EXPECT_EQ(e.last_event_id, "1") << "a heartbeat moves no cursor";
  }
  // AYB's heartbeat is an SSE comment: no event at all.
  RawSocket ayb(port());
  ASSERT_TRUE(ayb.Send("GET /api/realtime?tables=posts HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(ayb.ReadHead(milliseconds(5000)).status, 200);
  EXPECT_TRUE(ReadUntil(ayb, ": ping\n\n", milliseconds(3000)));
}

// The 101st subscription of a connection is refused; the connection stays.
TEST(DialectsLimitTest, SnackbaseWsAllowsAHundredSubscriptions) {
  ServerProcess server;
  std::string schema;
  for (int i = 0; i <= 100; ++i) {
    schema +=
        "type T" + std::to_string(i) + " @table @export(ws: true) {\n  id: ID! @primaryKey\n}\n";
  }
  server.WriteFile("apps/many/config.yaml", "app_id: many\nschemas:\n  - s.graphql\n");
  server.WriteFile("apps/many/s.graphql", schema);
  server.WriteFile("server.yaml", "compat_app: many\n");
  ASSERT_GT(server.Start({"--config", server.dir() + "/server.yaml"}), 0) << server.log();
  WsConn ws(server.port(), "/api/v1/realtime/ws");
  ASSERT_TRUE(ws.upgraded());
  for (int i = 0; i < 100; ++i) {
    ws.SendText(R"({"action":"subscribe","collection":"t)" + std::to_string(i) + "\"}");
    ASSERT_EQ(ws.NextText(),
              R"({"status":"subscribed","collection":"T)" + std::to_string(i) + "\"}");
  }
  ws.SendText(R"({"action":"subscribe","collection":"T100"})");
  rapidjson::Document err = Json(ws.NextText());
  EXPECT_EQ(Str(err, "type"), "error");
  EXPECT_EQ(Str(err, "code"), "too_many_subscriptions");
  // Subscribing again to one it has is not a new one; leaving one makes room.
  ws.SendText(R"({"action":"subscribe","collection":"T5"})");
  EXPECT_EQ(ws.NextText(), R"({"status":"subscribed","collection":"T5"})");
  ws.SendText(R"({"action":"unsubscribe","collection":"T5"})");
  EXPECT_EQ(ws.NextText(), R"({"status":"unsubscribed","collection":"T5"})");
  ws.SendText(R"({"action":"subscribe","collection":"T100"})");
  EXPECT_EQ(ws.NextText(), R"({"status":"subscribed","collection":"T100"})");
  ASSERT_EQ(server.Call("PUT", "/many/T100/x", "{}").status, 201);
  EXPECT_EQ(Str(Json(ws.NextText()), "type"), "T100.create");
}

TEST(DialectsConfigTest, WithoutCompatAppTheEndpointsAre404) {
  ServerProcess server;
  ASSERT_GT(server.Start(), 0) << server.log();
  for (const char* path : {"/api/realtime?tables=message", "/api/v1/realtime/subscribe"}) {
    HttpResponse r = server.Call("GET", path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(ErrorCode(r.body), "compat_disabled") << path;
  }
  WsConn ws(server.port(), "/api/v1/realtime/ws");
  EXPECT_EQ(ws.head().status, 404);
  EXPECT_EQ(ErrorCode(ws.head().body), "compat_disabled");
}

TEST(DialectsConfigTest, AnUnknownCompatAppIsAStartUpError) {
  ServerProcess server;
  server.WriteFile("server.yaml", "compat_app: nowhere\n");
  EXPECT_EQ(server.Start({"--config", server.dir() + "/server.yaml"}), 0);
  EXPECT_NE(server.log().find("compat_app: there is no app 'nowhere'"), std::string::npos)
      << server.log();
}

// The compat app's auth applies as on the native routes.
class DialectsAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteCompatApp(server_, "required");
    server_.WriteFile("server.yaml",
                      "compat_app: compat\njwt_secret: " + kSecret + "\njwt_leeway: 0s\n");
    ASSERT_GT(server_.Start({"--config", server_.dir() + "/server.yaml"}), 0) << server_.log();
  }
  ServerProcess server_;
};

TEST_F(DialectsAuthTest, TokensAreCheckedBeforeAnyStreamStarts) {
  SseConn none(server_.port(), "/api/realtime?tables=posts");
  EXPECT_EQ(none.head().status, 401);
  EXPECT_EQ(ErrorCode(none.head().body), "token_missing");
  SseConn bad(server_.port(), "/api/realtime?tables=posts&token=a.b.c");
  EXPECT_EQ(bad.head().status, 401);
  EXPECT_EQ(ErrorCode(bad.head().body), "token_invalid");
  SseConn ok(server_.port(), "/api/realtime?tables=posts&token=" + Token("ann"));
  EXPECT_EQ(ok.head().status, 200);
  SseConn sb_none(server_.port(), "/api/v1/realtime/subscribe?collection=posts");
  EXPECT_EQ(sb_none.head().status, 401);
  SseConn sb_bearer(server_.port(), "/api/v1/realtime/subscribe?collection=posts",
                    {"Authorization: Bearer " + Token("ann")});
  EXPECT_EQ(sb_bearer.head().status, 200);
  SseConn sb_query(server_.port(),
                   "/api/v1/realtime/subscribe?token=" + Token("ann") + "&collection=posts");
  EXPECT_EQ(sb_query.head().status, 200);

  WsConn ws_none(server_.port(), "/api/v1/realtime/ws");
  EXPECT_EQ(ws_none.head().status, 401);
  EXPECT_LT(ws_none.socket().ReadMore(std::chrono::seconds(5)), 0) << "a refused upgrade closes";
  WsConn ws_query(server_.port(), "/api/v1/realtime/ws?token=" + Token("ann"));
  EXPECT_TRUE(ws_query.upgraded());
  const std::string token = Token("ann");
  WsConn ws_proto(server_.port(), "/api/v1/realtime/ws", {"Sec-WebSocket-Protocol: " + token});
  ASSERT_TRUE(ws_proto.upgraded());
  EXPECT_EQ(ws_proto.head().Header("sec-websocket-protocol"), token);
  ws_proto.SendText(R"({"action":"subscribe","collection":"posts"})");
  EXPECT_EQ(ws_proto.NextText(), R"({"status":"subscribed","collection":"posts"})");
}

TEST_F(DialectsAuthTest, ExpiredTokensEndStreams) {
  SseConn ayb(server_.port(), "/api/realtime?tables=posts&token=" + Token("ann", 2));
  SseConn snack(server_.port(), "/api/v1/realtime/subscribe?collection=posts",
                {"Authorization: Bearer " + Token("ann", 2)});
  WsConn ws(server_.port(), "/api/v1/realtime/ws", {"Sec-WebSocket-Protocol: " + Token("ann", 2)});
  ASSERT_EQ(ayb.head().status, 200);
  ASSERT_EQ(snack.head().status, 200);
  ASSERT_TRUE(ws.upgraded());
  ASSERT_EQ(Write(server_, "PUT", "posts/a", R"({"title":"t"})",
                  {"Authorization: Bearer " + Token("ann")}),
            1u);
  auto error = [](const Events& ev) { return !ev.empty() && ev.back().type == "error"; };
  ASSERT_TRUE(ayb.WaitFor(error, std::chrono::seconds(6)));
  EXPECT_NE(ayb.events().back().data.find("token_expired"), std::string::npos);
  EXPECT_EQ(ayb.events().back().last_event_id, "1") << "the error moves no cursor";
  ASSERT_TRUE(snack.WaitFor(error, std::chrono::seconds(6)));
  EXPECT_EQ(ws.WaitClose(std::chrono::seconds(6)), 4001);
  ayb.Drain(milliseconds(500));
  EXPECT_TRUE(ayb.eof());
  // Back with a new token, from where it was.
  ASSERT_EQ(Write(server_, "PUT", "posts/b", R"({"title":"t"})",
                  {"Authorization: Bearer " + Token("ann")}),
            2u);
  SseConn again(server_.port(), "/api/realtime?tables=posts&token=" + Token("ann"),
                {"Last-Event-ID: 1"});
  ASSERT_TRUE(again.WaitFor(HasId(2)));
  EXPECT_EQ(EventIds(again.events()), (std::vector<uint64_t>{2}));
}

}  // namespace
}  // namespace eventide::testing
