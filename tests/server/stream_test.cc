// Real-time end to end (SPEC section 6) against the real binary over real
// sockets: SSE and WebSocket subscribers, resume, retained replay, slow
// consumers, the hand-over from catch-up to live while writes go on, and the
// WebSocket protocol's handshake checks, actions and close codes.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/server/harness.h"
#include "tests/server/stream_clients.h"

namespace eventide::testing {
namespace {

using stream::ClientEvent;
using Events = std::vector<ClientEvent>;

const std::string kMsg = "/realtime-demo/message";

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

std::string Record(const std::string& id, const std::string& title) {
  return R"({"id":")" + id + R"(","title":")" + title + R"(","content":"c"})";
}

// Writes a record; returns its position (0 on failure).
uint64_t Put(ServerProcess& s, const std::string& id, const std::string& title) {
  HttpResponse r = s.Call("PUT", kMsg + "/" + id, Record(id, title));
  if (r.status / 100 != 2) return 0;
  return std::stoull(r.Header("event-position"));
}

size_t Count(const Events& ev, const std::string& type) {
  size_t n = 0;
  for (const auto& e : ev) n += e.type == type;
  return n;
}

// The `id:` positions of every update/delete/publish event, in order.
std::vector<uint64_t> EventPositions(const Events& ev) {
  std::vector<uint64_t> out;
  for (const auto& e : ev) {
    if (e.type == "update" || e.type == "delete" || e.type == "publish") {
      out.push_back(std::stoull(e.last_event_id));
    }
  }
  return out;
}

std::function<bool(const Events&)> HasPosition(uint64_t p) {
  return [p](const Events& ev) {
    for (const auto& e : ev) {
      if ((e.type == "update" || e.type == "delete" || e.type == "publish") &&
          e.last_event_id == std::to_string(p)) {
        return true;
      }
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

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GT(server_.Start(), 0) << server_.log(); }
  int port() { return server_.port(); }
  ServerProcess server_;
};

// ---- SSE ----

TEST_F(StreamTest, SseConnectsWithRetryThenRetainedSyncedAndLiveEvents) {
  ASSERT_EQ(Put(server_, "m1", "one"), 1u);
  ASSERT_EQ(Put(server_, "m2", "two"), 2u);
  SseConn c(port(), kMsg + "?stream=sse&retained=true");
  ASSERT_EQ(c.head().status, 200);
  EXPECT_EQ(c.head().Header("content-type"), "text/event-stream");
  EXPECT_EQ(c.head().Header("cache-control"), "no-cache");
  ASSERT_TRUE(c.WaitFor(HasData("synced")));
  EXPECT_EQ(c.retry_ms(), 3000u);
  const Events& ev = c.events();
  ASSERT_GE(ev.size(), 4u);
  EXPECT_EQ(ev[0].type, "message");
  EXPECT_EQ(ev[0].data, R"({"type":"connected","status":"ok","position":2})");
  EXPECT_EQ(ev[0].last_event_id, "");
  rapidjson::Document r1 = Json(ev[1].data);
  EXPECT_EQ(Str(r1, "type"), "retained");
  EXPECT_EQ(Str(r1, "id"), "m1");
  EXPECT_EQ(Str(r1["data"], "title"), "one");
  EXPECT_EQ(ev[1].last_event_id, "") << "a retained record carries no position";
  EXPECT_EQ(Str(Json(ev[2].data), "id"), "m2");
  EXPECT_EQ(ev[3].data, R"({"type":"synced","position":2})");
  EXPECT_EQ(ev[3].last_event_id, "2");

  ASSERT_EQ(Put(server_, "m1", "uno"), 3u);
  ASSERT_EQ(server_.Call("DELETE", kMsg + "/m2").status, 200);
  ASSERT_TRUE(c.WaitFor(HasPosition(4)));
  Events up = c.Named("update"), del = c.Named("delete");
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].last_event_id, "3");
  EXPECT_EQ(Str(Json(up[0].data), "title"), "uno");
  ASSERT_EQ(del.size(), 1u);
  EXPECT_EQ(del[0].data, R"({"id":"m2"})");
}

TEST_F(StreamTest, SseTableWithoutRetainedStartsAtTheHead) {
  ASSERT_EQ(Put(server_, "m1", "old"), 1u);
  SseConn c(port(), kMsg, {"Accept: text/event-stream"});
  ASSERT_EQ(c.head().status, 200);
  ASSERT_TRUE(c.WaitFor(HasData("connected")));
  ASSERT_EQ(Put(server_, "m2", "new"), 2u);
  ASSERT_TRUE(c.WaitFor(HasPosition(2)));
  EXPECT_EQ(Count(c.events(), "update"), 1u);
  EXPECT_FALSE(HasData("retained")(c.events()));
  EXPECT_FALSE(HasData("synced")(c.events()));
}

TEST_F(StreamTest, SseRecordTopicFollowsOnlyItsRecord) {
  ASSERT_EQ(Put(server_, "a", "a1"), 1u);
  SseConn c(port(), kMsg + "/a?stream=sse");
  ASSERT_TRUE(c.WaitFor(HasData("synced")));
  EXPECT_TRUE(HasData(R"("type":"retained","id":"a")")(c.events()));
  Put(server_, "b", "b1");
  Put(server_, "a", "a2");
  Put(server_, "b", "b2");
  ASSERT_EQ(server_.Call("DELETE", kMsg + "/a").status, 200);
  ASSERT_TRUE(c.WaitFor(HasPosition(5)));
  EXPECT_EQ(EventPositions(c.events()), (std::vector<uint64_t>{3, 5}));
}

TEST_F(StreamTest, SseResumesExactlyFromLastEventIdHeaderOrQuery) {
  for (int i = 1; i <= 30; ++i)
    ASSERT_EQ(Put(server_, "r" + std::to_string(i % 7), "t"), uint64_t(i));
  {
    SseConn c(port(), kMsg + "?stream=sse", {"Last-Event-ID: 20"});
    ASSERT_TRUE(c.WaitFor(HasPosition(30)));
    std::vector<uint64_t> want;
    for (uint64_t p = 21; p <= 30; ++p) want.push_back(p);
    EXPECT_EQ(EventPositions(c.events()), want);
    EXPECT_FALSE(HasData("reset")(c.events()));
    Put(server_, "x", "live");
    ASSERT_TRUE(c.WaitFor(HasPosition(31)));
    want.push_back(31);
    EXPECT_EQ(EventPositions(c.events()), want);
  }
  {
    SseConn c(port(), kMsg + "?stream=sse&lastEventId=29");
    ASSERT_TRUE(c.WaitFor(HasPosition(31)));
    EXPECT_EQ(EventPositions(c.events()), (std::vector<uint64_t>{30, 31}));
  }
  {
    // The header wins over the query (an EventSource reconnecting keeps the
    // URL it first used).
    SseConn c(port(), kMsg + "?stream=sse&lastEventId=5", {"Last-Event-ID: 30"});
    ASSERT_TRUE(c.WaitFor(HasPosition(31)));
    EXPECT_EQ(EventPositions(c.events()), (std::vector<uint64_t>{31}));
  }
  {
    // Position 0 is "before everything".
    SseConn c(port(), kMsg + "?stream=sse", {"Last-Event-ID: 0"});
    ASSERT_TRUE(c.WaitFor(HasPosition(31)));
    EXPECT_EQ(EventPositions(c.events()).size(), 31u);
  }
}

TEST_F(StreamTest, SseMalformedOrUnknownIdsResetNeverFail) {
  Put(server_, "m1", "one");
  for (const char* bad : {"abc", "-1", "007", "99999", "1.5", "18446744073709551616"}) {
    SseConn c(port(), kMsg + "?stream=sse", {std::string("Last-Event-ID: ") + bad});
    ASSERT_EQ(c.head().status, 200) << bad;
    ASSERT_TRUE(c.WaitFor(HasData("synced"))) << bad;
    rapidjson::Document reset = Json(c.events()[1].data);
    EXPECT_EQ(Str(reset, "type"), "reset") << bad;
    EXPECT_EQ(Str(reset, "reason"), "unknown") << bad;
    EXPECT_EQ(Num(reset, "position"), 1u);
    EXPECT_EQ(c.events()[1].last_event_id, "") << "a reset does not move the cursor";
    // A reset continues as a fresh connection with the retained state.
    EXPECT_TRUE(HasData(R"("type":"retained","id":"m1")")(c.events())) << bad;
  }
}

TEST(StreamRetentionTest, SseResumeFromADeletedSegmentIsResetExpired) {
  ServerProcess server;
  server.WriteFile("server.yaml",
                   "segment_bytes: 4KiB\ncheckpoint_entries: 30\nretention:\n  bytes: 8KiB\n");
  ASSERT_GT(server.Start({"--config", server.dir() + "/server.yaml", "--fsync", "never"}), 0)
      << server.log();
  std::string body(300, 'x');
  for (int i = 0; i < 120; ++i) {
    ASSERT_EQ(server.Call("PUT", kMsg + "/r" + std::to_string(i % 10),
                          R"({"title":"t","content":")" + body + "\"}")
                      .status /
                  100,
              2);
  }
  // A checkpoint follows every 30 entries from the last one, so once one
  // past 90 is written there is no other to come, and retention is done.
  // (Which position it lands on depends on how writes and checkpoints
  // interleave.)
  uint64_t first = 0, checkpoint = 0;
  for (int i = 0; i < 1000 && checkpoint <= 90; ++i) {
    std::smatch m;
    std::string metrics = server.Call("GET", "/metrics").body;
    if (std::regex_search(metrics, m, std::regex(R"(eventide_checkpoint_position (\d+))"))) {
      checkpoint = std::stoull(m[1]);
    }
    if (std::regex_search(metrics, m, std::regex(R"(eventide_log_first_position (\d+))"))) {
      first = std::stoull(m[1]);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(checkpoint, 90u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  {
    std::smatch m;
    std::string metrics = server.Call("GET", "/metrics").body;
    ASSERT_TRUE(std::regex_search(metrics, m, std::regex(R"(eventide_log_first_position (\d+))")));
    first = std::stoull(m[1]);
  }
  ASSERT_GT(first, 2u) << "retention deleted nothing";
  SseConn c(server.port(), kMsg + "?stream=sse", {"Last-Event-ID: 1"});
  ASSERT_TRUE(c.WaitFor(HasData("synced")));
  EXPECT_EQ(Str(Json(c.events()[1].data), "reason"), "expired");
  EXPECT_EQ(Count(c.events(), "update"), 0u);
  // Then the table's current state, in full.
  size_t retained = 0;
  for (const auto& e : c.events()) retained += e.data.find("\"retained\"") != std::string::npos;
  EXPECT_EQ(retained, 10u);
  // A retained position still resumes exactly.
  SseConn ok(server.port(), kMsg + "?stream=sse", {"Last-Event-ID: " + std::to_string(first)});
  ASSERT_TRUE(ok.WaitFor(HasPosition(120)));
  EXPECT_EQ(EventPositions(ok.events()).size(), 120 - first);
}

TEST(StreamConfigTest, SsePingsCarryNoIdAndRetryIsConfigurable) {
  ServerProcess server;
  server.WriteFile("server.yaml", "streams:\n  sse_ping_ms: 100\n  sse_retry_ms: 1234\n");
  ASSERT_GT(server.Start({"--config", server.dir() + "/server.yaml"}), 0) << server.log();
  Put(server, "m1", "one");
  SseConn c(server.port(), kMsg + "?stream=sse", {"Last-Event-ID: 0"});
  ASSERT_TRUE(c.WaitFor([](const Events& ev) {
    size_t pings = 0;
    for (const auto& e : ev) pings += e.type == "ping";
    return pings >= 2;
  }));
  EXPECT_EQ(c.retry_ms(), 1234u);
  for (const auto& e : c.Named("ping")) {
    EXPECT_EQ(e.data, R"({"type":"ping"})");
    EXPECT_EQ(e.last_event_id, "1") << "a ping leaves the client's cursor where it was";
  }
}

TEST(StreamConfigTest, SseDisabledTableIs404) {
  ServerProcess server;
  server.WriteFile("apps/quiet/config.yaml", "app_id: quiet\nschemas:\n  - s.graphql\n");
  server.WriteFile(
      "apps/quiet/s.graphql",
      "type Note @table @export(rest: true) {\n  id: ID! @primaryKey\n  text: String\n}\n");
  ASSERT_GT(server.Start(), 0) << server.log();
  SseConn c(server.port(), "/quiet/Note?stream=sse");
  EXPECT_EQ(c.head().status, 404);
  EXPECT_NE(c.head().body.find("sse_disabled"), std::string::npos) << c.head().body;
  WsConn w(server.port(), "/quiet/Note");
  EXPECT_EQ(w.head().status, 404);
  EXPECT_NE(w.head().body.find("ws_disabled"), std::string::npos) << w.head().body;
}

// Subscribers connect, resume from random positions and catch up while a
// writer writes: each must see every entry after its position exactly once,
// in order — the hand-over from the log to the live path.
TEST_F(StreamTest, ResumeWhileWritingHasNoGapAndNoDuplicate) {
  constexpr int kWrites = 400;
  std::atomic<uint64_t> written{0};
  std::thread writer([&] {
    for (int i = 1; i <= kWrites; ++i) {
      uint64_t p = Put(server_, "w" + std::to_string(i % 13), std::to_string(i));
      if (p == 0) break;
      written = p;
    }
  });
  std::mt19937 rng(42);
  struct Sub {
    uint64_t from;
    std::unique_ptr<SseConn> conn;
  };
  std::vector<Sub> subs;
  while (written < kWrites && subs.size() < 24) {
    uint64_t head = written;
    uint64_t from = head == 0 ? 0 : rng() % (head + 1);
    subs.push_back({from, std::make_unique<SseConn>(
                              port(), kMsg + "?stream=sse",
                              std::vector<std::string>{"Last-Event-ID: " + std::to_string(from)})});
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
  }
  writer.join();
  ASSERT_EQ(written.load(), uint64_t(kWrites));
  for (Sub& s : subs) {
    ASSERT_TRUE(s.conn->WaitFor(HasPosition(kWrites), std::chrono::seconds(20)))
        << "from " << s.from << " got " << EventPositions(s.conn->events()).size();
    std::vector<uint64_t> want;
    for (uint64_t p = s.from + 1; p <= kWrites; ++p) want.push_back(p);
    EXPECT_EQ(EventPositions(s.conn->events()), want) << "from " << s.from;
  }
}

TEST(StreamSlowTest, ASlowConsumerCatchesUpFromTheLogWithNothingLost) {
  ServerProcess server;
  server.WriteFile("server.yaml", "limits:\n  output_bytes: 16KiB\n");
  ASSERT_GT(server.Start({"--config", server.dir() + "/server.yaml", "--fsync", "never"}), 0);
  // A reader with a tiny receive buffer that does not read while 4 MiB are
  // written: it goes over its output limit, stops taking live events, and
  // must then catch up from the log.
  SseConn slow(server.port(), kMsg + "?stream=sse", {}, 4096);
  ASSERT_TRUE(slow.WaitFor(HasData("connected")));
  std::string big(8000, 'z');
  constexpr int kWrites = 500;
  for (int i = 1; i <= kWrites; ++i) {
    ASSERT_EQ(server.Call("PUT", kMsg + "/s" + std::to_string(i % 5),
                          R"({"title":")" + std::to_string(i) + R"(","content":")" + big + "\"}")
                      .status /
                  100,
              2);
  }
  ASSERT_TRUE(slow.WaitFor(HasPosition(kWrites), std::chrono::seconds(30)));
  std::vector<uint64_t> want;
  for (uint64_t p = 1; p <= kWrites; ++p) want.push_back(p);
  EXPECT_EQ(EventPositions(slow.events()), want);
  std::smatch m;
  std::string metrics = server.Call("GET", "/metrics").body;
  ASSERT_TRUE(std::regex_search(metrics, m, std::regex(R"(eventide_stream_catch_ups_total (\d+))")))
      << metrics;
  EXPECT_GT(std::stoull(m[1]), 0u) << "the subscriber went over its limit and read the log";
}

TEST(StreamSlowTest, AClientThatReadsNothingIsDroppedAfterStallTimeout) {
  ServerProcess server;
  server.WriteFile("server.yaml", "limits:\n  output_bytes: 16KiB\n  stall_timeout_ms: 400\n");
  ASSERT_GT(server.Start({"--config", server.dir() + "/server.yaml", "--fsync", "never"}), 0);
  SseConn stalled(server.port(), kMsg + "?stream=sse", {}, 4096);
  ASSERT_TRUE(stalled.WaitFor(HasData("connected")));
  std::string big(60000, 'z');
  for (int i = 0; i < 80; ++i) {
    server.Call("PUT", kMsg + "/big", R"({"title":"t","content":")" + big + "\"}");
  }
  // It reads nothing; within a few stall timeouts the server drops it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stalled.Drain(std::chrono::milliseconds(3000));
  EXPECT_TRUE(stalled.eof());
  std::string metrics = server.Call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("eventide_stream_stalled_closed_total 1"), std::string::npos) << metrics;
}

TEST_F(StreamTest, SseResumesAcrossKill9) {
  SseConn c(port(), kMsg + "?stream=sse");
  ASSERT_TRUE(c.WaitFor(HasData("connected")));
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(Put(server_, "k" + std::to_string(i), "t"), uint64_t(i));
  ASSERT_TRUE(c.WaitFor(HasPosition(5)));
  const std::string last = c.events().back().last_event_id;
  server_.Kill9();
  c.Drain(std::chrono::milliseconds(500));
  EXPECT_TRUE(c.eof());
  ASSERT_GT(server_.Start(), 0) << server_.log();
  for (int i = 6; i <= 9; ++i) ASSERT_EQ(Put(server_, "k" + std::to_string(i), "t"), uint64_t(i));
  SseConn again(port(), kMsg + "?stream=sse", {"Last-Event-ID: " + last});
  ASSERT_TRUE(again.WaitFor(HasPosition(9)));
  EXPECT_EQ(EventPositions(again.events()), (std::vector<uint64_t>{6, 7, 8, 9}));
}

TEST_F(StreamTest, ShutdownSendsAReconnectHintAndEndsStreams) {
  SseConn sse(port(), kMsg + "?stream=sse");
  WsConn ws(port(), kMsg);
  ASSERT_TRUE(sse.WaitFor(HasData("connected")));
  ASSERT_TRUE(ws.upgraded());
  ASSERT_NE(ws.NextText().find("subscribed"), std::string::npos);
  std::thread term([&] { EXPECT_EQ(server_.Terminate(), 0); });
  EXPECT_EQ(ws.WaitClose(), 1001);
  ws.SendFrame(8, std::string("\x03\xe9", 2));
  sse.Drain(std::chrono::milliseconds(3000));
  EXPECT_TRUE(sse.eof());
  term.join();
}

// ---- GraphQL over SSE ----

// POSTs a GraphQL request with Accept: text/event-stream; the stream (or the
// error answer) is read like any SSE response.
SseConn Graphql(int port, const std::string& body, std::vector<std::string> headers = {}) {
  std::string req_headers;
  headers.push_back("Accept: text/event-stream");
  headers.push_back("Content-Type: application/json");
  headers.push_back("Content-Length: " + std::to_string(body.size()));
  return SseConn(port, "/realtime-demo/graphql", headers, 0, "POST", body);
}

TEST_F(StreamTest, GraphqlSubscriptionSelectsFieldsAsTheSeedShows) {
  // The seed's curl session: the subscription, then a write.
  SseConn c = Graphql(port(), R"({"query": "subscription { message { id title content } }"})");
  ASSERT_EQ(c.head().status, 200);
  EXPECT_EQ(c.head().Header("content-type"), "text/event-stream");
  ASSERT_EQ(server_
                .Call("POST", kMsg,
                      R"({"id":"test-1","title":"Live","content":"SSE is working","author":"a"})")
                .status,
            201);
  ASSERT_TRUE(c.WaitFor(HasData("Live")));
  ASSERT_EQ(c.events().size(), 1u);
  EXPECT_EQ(c.events()[0].type, "next");
  EXPECT_EQ(c.events()[0].last_event_id, "1");
  EXPECT_EQ(c.events()[0].data,
            R"({"data":{"message":{"id":"test-1","title":"Live","content":"SSE is working"}}})")
      << "only the selected fields, in selection order";
  ASSERT_EQ(server_.Call("DELETE", kMsg + "/test-1").status, 200);
  ASSERT_TRUE(c.WaitFor(HasData("delete")));
  EXPECT_EQ(
      c.events()[1].data,
      R"({"data":{"message":{"id":"test-1","title":"Live","content":"SSE is working"}},"extensions":{"op":"delete"}})");
}

TEST_F(StreamTest, GraphqlRecordSubscriptionResumeAndAliases) {
  Put(server_, "g1", "one");
  Put(server_, "g2", "two");
  SseConn rec = Graphql(
      port(), R"({"query":"subscription S { m: message(id: \"g1\") { t: title __typename } }"})");
  ASSERT_EQ(rec.head().status, 200);
  ASSERT_TRUE(rec.WaitFor(HasData("synced")));
  EXPECT_EQ(
      rec.events()[0].data,
      R"({"data":{"m":{"t":"one","__typename":"Message"}},"extensions":{"type":"retained"}})");
  EXPECT_EQ(rec.events()[1].last_event_id, "2");
  Put(server_, "g2", "two again");
  Put(server_, "g1", "uno");
  ASSERT_TRUE(rec.WaitFor(HasData("uno")));
  EXPECT_EQ(rec.events().back().last_event_id, "4");
  EXPECT_EQ(rec.events().size(), 3u) << "g2's write is not g1's";
  // Resume with Last-Event-ID, as an SSE client reconnects.
  SseConn resumed =
      Graphql(port(), R"({"query":"subscription { message { title } }"})", {"Last-Event-ID: 2"});
  ASSERT_TRUE(resumed.WaitFor(
      [](const Events& ev) { return !ev.empty() && ev.back().last_event_id == "4"; }));
  std::vector<std::string> ids;
  for (const auto& e : resumed.events()) ids.push_back(e.last_event_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"3", "4"}));
}

TEST_F(StreamTest, GraphqlErrorsForUnknownTablesAndFields) {
  struct Case {
    std::string body, message;
  } cases[] = {
      {R"({"query":"subscription { nosuch { id } }"})",
       R"(Cannot query field \"nosuch\" on type \"Subscription\".)"},
      {R"({"query":"subscription { message { id bogus } }"})",
       R"(Cannot query field \"bogus\" on type \"Message\".)"},
      {R"({"query":"subscription { message { id "})", "Syntax Error"},
      {R"({"query":"query { message { id } }"})", "subscriptions only"},
      {R"(not json)", ""},
  };
  for (const Case& c : cases) {
    SseConn r = Graphql(port(), c.body);
    EXPECT_EQ(r.head().status, 400) << c.body;
    rapidjson::Document d = Json(r.head().body);
    ASSERT_TRUE(d.IsObject() && d.HasMember("errors") && d["errors"].IsArray()) << r.head().body;
    EXPECT_NE(
        std::string(d["errors"][0]["message"].GetString())
            .find(std::string(c.message).empty() ? "" : Json("\"" + c.message + "\"").GetString()),
        std::string::npos)
        << r.head().body;
  }
  HttpResponse get = server_.Call("GET", "/realtime-demo/graphql");
  EXPECT_EQ(get.status, 405);
  HttpResponse no_accept = server_.Call("POST", "/realtime-demo/graphql",
                                        R"({"query":"subscription { message { id } }"})");
  EXPECT_EQ(no_accept.status, 406);
}

// ---- WebSocket ----

TEST_F(StreamTest, WsHandshakeFollowsRfc6455) {
  WsConn ok(port(), kMsg);
  ASSERT_EQ(ok.head().status, 101);
  // The RFC's own example key and answer (section 1.3).
  EXPECT_EQ(ok.head().Header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(ok.head().Header("upgrade"), "websocket");

  WsConn bad_key(port(), kMsg, {}, "c2hvcnQ=");
  EXPECT_EQ(bad_key.head().status, 400);
  EXPECT_NE(bad_key.head().body.find("bad_websocket_key"), std::string::npos);
  WsConn no_key(port(), kMsg, {}, "");
  EXPECT_EQ(no_key.head().status, 400);
  WsConn junk_key(port(), kMsg, {}, "!!!!!!!!!!!!!!!!!!!!!!==");
  EXPECT_EQ(junk_key.head().status, 400);

  for (const char* v : {"", "8"}) {
    WsConn bad_version(port(), kMsg, {}, "dGhlIHNhbXBsZSBub25jZQ==", v);
    EXPECT_EQ(bad_version.head().status, 400) << v;
    EXPECT_EQ(bad_version.head().Header("sec-websocket-version"), "13") << v;
    EXPECT_NE(bad_version.head().body.find("bad_websocket_version"), std::string::npos);
    EXPECT_TRUE(bad_version.socket().ReadMore(std::chrono::seconds(5)) < 0)
        << "a refused upgrade closes";
  }
  WsConn unknown(port(), "/realtime-demo/nosuch");
  EXPECT_EQ(unknown.head().status, 404);
  WsConn app(port(), "/nosuch/message");
  EXPECT_EQ(app.head().status, 404);
}

TEST_F(StreamTest, WsMessagesCarrySeqAndTheSeedShapes) {
  WsConn ws(port(), kMsg);
  ASSERT_TRUE(ws.upgraded());
  EXPECT_EQ(ws.NextText(), R"({"type":"subscribed","topic":"message"})");
  ASSERT_EQ(Put(server_, "msg-1", "Hello"), 1u);
  rapidjson::Document u = Json(ws.NextText());
  EXPECT_EQ(Str(u, "message_type"), "Update");
  EXPECT_EQ(Str(u, "id"), "msg-1");
  EXPECT_EQ(Num(u, "seq"), 1u);
  EXPECT_EQ(Str(u["data"], "title"), "Hello");
  EXPECT_TRUE(std::regex_match(Str(u, "timestamp"),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  ASSERT_EQ(server_.Call("DELETE", kMsg + "/msg-1").status, 200);
  rapidjson::Document d = Json(ws.NextText());
  EXPECT_EQ(Str(d, "message_type"), "Delete");
  EXPECT_EQ(Str(d["data"], "id"), "msg-1");
  EXPECT_EQ(Num(d, "seq"), 2u);
}

TEST_F(StreamTest, WsRecordUrlReplaysRetainedThenSynced) {
  Put(server_, "msg-1", "Hello");
  Put(server_, "other", "x");
  WsConn ws(port(), kMsg + "/msg-1");
  ASSERT_TRUE(ws.upgraded());
  EXPECT_EQ(ws.NextText(), R"({"type":"subscribed","topic":"message/msg-1"})");
  rapidjson::Document r = Json(ws.NextText());
  EXPECT_EQ(Str(r, "message_type"), "Retained");
  EXPECT_EQ(Str(r, "id"), "msg-1");
  EXPECT_EQ(Str(r["data"], "title"), "Hello");
  EXPECT_FALSE(r.HasMember("seq"));
  EXPECT_EQ(ws.NextText(), R"({"message_type":"Synced","seq":2,"topic":"message/msg-1"})");
  Put(server_, "other", "y");
  Put(server_, "msg-1", "Again");
  rapidjson::Document u = Json(ws.NextText());
  EXPECT_EQ(Num(u, "seq"), 4u);
}

TEST_F(StreamTest, WsSubscribeResumeRetainedAndUnsubscribe) {
  for (int i = 1; i <= 6; ++i) Put(server_, "r" + std::to_string(i), "t");
  WsConn ws(port(), kMsg);
  ASSERT_TRUE(ws.upgraded());
  ws.NextText();  // subscribed to its own topic
  // Subscribing again to the same topic with nothing new is a no-op
  // (the seed's client does exactly this on open).
  ws.SendText(R"({"action":"subscribe","topic":"message"})");
  EXPECT_EQ(ws.NextText(), R"({"type":"subscribed","topic":"message"})");
  // With a position it starts over from there: exact replay.
  ws.SendText(R"({"action":"subscribe","topic":"message","lastEventId":"4"})");
  EXPECT_EQ(ws.NextText(), R"({"type":"subscribed","topic":"message"})");
  EXPECT_EQ(Num(Json(ws.NextText()), "seq"), 5u);
  EXPECT_EQ(Num(Json(ws.NextText()), "seq"), 6u);
  // A number is accepted as well as a string.
  ws.SendText(R"({"action":"subscribe","topic":"message/r2","lastEventId":1,"ref":7})");
  EXPECT_EQ(ws.NextText(), R"({"type":"subscribed","topic":"message/r2","ref":7})");
  rapidjson::Document r2 = Json(ws.NextText());
  EXPECT_EQ(Str(r2, "message_type"), "Update");
  EXPECT_EQ(Num(r2, "seq"), 2u);
  // Retained on a table topic.
  ws.SendText(R"({"action":"subscribe","topic":"message","retained":true})");
  std::vector<std::string> snap = ws.TextsUntil("Synced");
  ASSERT_EQ(snap.size(), 8u);  // subscribed, 6 retained, synced
  EXPECT_EQ(snap.back(), R"({"message_type":"Synced","seq":6,"topic":"message"})");
  // A malformed position is a reset, never an error.
  ws.SendText(R"({"action":"subscribe","topic":"message/r3","lastEventId":"x"})");
  std::vector<std::string> reset = ws.TextsUntil("Synced");
  ASSERT_EQ(reset.size(), 4u);
  EXPECT_EQ(reset[1],
            R"({"message_type":"Reset","reason":"unknown","position":6,"topic":"message/r3"})");
  EXPECT_EQ(Str(Json(reset[2]), "message_type"), "Retained");
  ws.SendText(R"({"action":"unsubscribe","topic":"message/r2"})");
  EXPECT_EQ(ws.NextText(), R"({"type":"unsubscribed","topic":"message/r2"})");
  ws.SendText(R"({"action":"unsubscribe","topic":"message/r2"})");
  EXPECT_EQ(Str(Json(ws.NextText()), "code"), "not_subscribed");
  // Still one event per write on the table topic, none for r2.
  uint64_t p = Put(server_, "r2", "after");
  std::vector<std::string> after = ws.TextsUntil("\"seq\":" + std::to_string(p));
  size_t updates = 0;
  for (const auto& t : after) updates += t.find("\"Update\"") != std::string::npos;
  EXPECT_EQ(updates, 1u) << "only the table topic: r2 was left, r3 is another record";
}

TEST_F(StreamTest, WsWritesAreAcknowledgedWithTheirPosition) {
  WsConn ws(port(), kMsg);
  ASSERT_TRUE(ws.upgraded());
  ws.NextText();
  ws.SendText(R"({"action":"put","data":{"id":"w1","title":"t","content":"c"},"ref":"a"})");
  std::vector<std::string> put = ws.TextsUntil("\"ack\"");
  ASSERT_EQ(put.size(), 2u);
  EXPECT_EQ(Str(Json(put[0]), "message_type"), "Update") << "the event comes first";
  EXPECT_EQ(put[1], R"({"type":"ack","action":"put","id":"w1","seq":1,"ref":"a"})");
  EXPECT_EQ(server_.Call("GET", kMsg + "/w1").status, 200);

  ws.SendText(R"({"action":"put","data":{"title":"generated","content":"c"}})");
  rapidjson::Document gen = Json(ws.TextsUntil("\"ack\"").back());
  EXPECT_EQ(Num(gen, "seq"), 2u);
  EXPECT_EQ(Str(gen, "id").size(), 36u) << "a UUID";

  ws.SendText(R"({"action":"delete","id":"w1"})");
  EXPECT_EQ(ws.TextsUntil("\"ack\"").back(),
            R"({"type":"ack","action":"delete","id":"w1","seq":3})");
  EXPECT_EQ(server_.Call("GET", kMsg + "/w1").status, 404);
}

TEST_F(StreamTest, WsErrorsAreAnsweredInBandAndTheConnectionStays) {
  WsConn ws(port(), kMsg);
  ASSERT_TRUE(ws.upgraded());
  ws.NextText();
  struct Case {
    std::string send, code;
  } cases[] = {
      {"not json", "invalid_json"},
      {"[1,2]", "invalid_message"},
      {R"({"action":5})", "invalid_message"},
      {R"({"action":"fly"})", "unknown_action"},
      {R"({"action":"subscribe","topic":"nosuch"})", "unknown_table"},
      {R"({"action":"subscribe","topic":"message/"})", "invalid_topic"},
      {R"({"action":"subscribe","topic":"message/a/b"})", "invalid_topic"},
      {R"({"action":"put","data":{"id":"a/b","title":"t","content":"c"}})", "validation_failed"},
      {R"({"action":"subscribe","retained":"yes"})", "invalid_message"},
      {R"({"action":"put","data":{"id":"x","title":5,"content":"c"}})", "validation_failed"},
      {R"({"action":"put","data":[1]})", "invalid_message"},
      {R"({"action":"put","data":{"id":"x","bogus":1}})", "validation_failed"},
      {R"({"action":"delete","id":"nope"})", "not_found"},
      {R"({"action":"delete"})", "invalid_message"},
      {R"({"action":"publish"})", "invalid_message"},
  };
  for (const Case& c : cases) {
    ws.SendText(c.send);
    rapidjson::Document e = Json(ws.NextText());
    EXPECT_EQ(Str(e, "type"), "error") << c.send;
    EXPECT_EQ(Str(e, "code"), c.code) << c.send;
    EXPECT_NE(Str(e, "message"), "<missing>") << c.send;
  }
  ws.SendText(R"({"action":"ping","ref":"p"})");
  EXPECT_EQ(ws.NextText(), R"({"type":"pong","ref":"p"})");
  ASSERT_EQ(Put(server_, "still", "here"), 1u);
  EXPECT_EQ(Num(Json(ws.NextText()), "seq"), 1u);
}

TEST_F(StreamTest, PublishIsALoggedResumableEventThatChangesNoRecord) {
  Put(server_, "msg-1", "Hello");
  WsConn ws(port(), kMsg + "/msg-1");
  ASSERT_TRUE(ws.upgraded());
  ws.TextsUntil("Synced");
  SseConn table(port(), kMsg + "?stream=sse");
  ASSERT_TRUE(table.WaitFor(HasData("connected")));
  // An object without an action: a publish to the connection's own topic.
  ws.SendText(R"({"typing":true})");
  std::vector<std::string> got = ws.TextsUntil("\"ack\"");
  ASSERT_EQ(got.size(), 2u);
  rapidjson::Document p = Json(got[0]);
  EXPECT_EQ(Str(p, "message_type"), "Publish");
  EXPECT_EQ(Str(p, "id"), "msg-1");
  EXPECT_EQ(Num(p, "seq"), 2u);
  EXPECT_TRUE(p["data"]["typing"].GetBool());
  ws.SendText(R"({"action":"publish","topic":"message","data":"to the table"})");
  EXPECT_EQ(ws.NextText(), R"({"type":"ack","action":"publish","seq":3})")
      << "a table publish does not reach a record topic";
  // The table topic got both; the record is unchanged.
  ASSERT_TRUE(table.WaitFor(HasPosition(3)));
  Events pubs = table.Named("publish");
  ASSERT_EQ(pubs.size(), 2u);
  EXPECT_EQ(pubs[0].data, R"({"typing":true})");
  EXPECT_EQ(pubs[1].data, R"("to the table")");
  EXPECT_EQ(Str(Json(server_.Call("GET", kMsg + "/msg-1").body), "title"), "Hello");
  // Resumable like any entry.
  SseConn resumed(port(), kMsg + "?stream=sse", {"Last-Event-ID: 1"});
  ASSERT_TRUE(resumed.WaitFor(HasPosition(3)));
  EXPECT_EQ(EventPositions(resumed.events()), (std::vector<uint64_t>{2, 3}));
}

TEST_F(StreamTest, WsFragmentedMessagesWithAPingBetween) {
  WsConn ws(port(), kMsg);
  ASSERT_TRUE(ws.upgraded());
  ws.NextText();
  ws.SendFrame(1, R"({"action":)", false);
  ws.SendFrame(9, "hi");  // a control frame may come between fragments
  ws.SendFrame(0, R"("pi)", false);
  ws.SendFrame(0, R"(ng"})", true);
  // The Pong to the Ping and the answer to the reassembled message, in
  // either order.
  std::optional<WsMessage> a = ws.Next(), b = ws.Next();
  ASSERT_TRUE(a && b);
  if (a->opcode != 10) std::swap(a, b);
  EXPECT_EQ(a->opcode, 10);
  EXPECT_EQ(a->payload, "hi");
  EXPECT_EQ(b->opcode, 1);
  EXPECT_EQ(b->payload, R"({"type":"pong"})");
}

TEST_F(StreamTest, WsBinaryInvalidUtf8AndProtocolErrorsCloseWithTheRfcCodes) {
  {
    WsConn ws(port(), kMsg);
    ws.NextText();
    ws.SendFrame(2, "\x01\x02");
    EXPECT_EQ(ws.WaitClose(), 1003);
  }
  {
    WsConn ws(port(), kMsg);
    ws.NextText();
    ws.SendText("{\"a\":\"\xc3\x28\"}");
    EXPECT_EQ(ws.WaitClose(), 1007);
  }
  {
    WsConn ws(port(), kMsg);
    ws.NextText();
    ws.SendFrame(1, R"({"action":"ping"})", true, /*masked=*/false);
    EXPECT_EQ(ws.WaitClose(), 1002);
  }
  {
    // A client's Close is answered with the same code, then the end.
    WsConn ws(port(), kMsg);
    ws.NextText();
    ws.SendFrame(8, std::string("\x03\xe8", 2));
    EXPECT_EQ(ws.WaitClose(), 1000);
    EXPECT_LT(ws.socket().ReadMore(std::chrono::seconds(5)), 0);
  }
  std::string metrics = server_.Call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("eventide_ws_protocol_closes_total 3"), std::string::npos) << metrics;
}

TEST(StreamConfigTest, WsOversizeMessagesClose1009AndLimitsApply) {
  ServerProcess server;
  server.WriteFile("server.yaml",
                   "streams:\n  ws_max_message_bytes: 1KiB\n"
                   "limits:\n  subscriptions_per_connection: 2\n");
  ASSERT_GT(server.Start({"--config", server.dir() + "/server.yaml"}), 0) << server.log();
  {
    WsConn ws(server.port(), kMsg);
    ws.NextText();
    ws.SendText(R"({"action":"subscribe","topic":"message/a"})");
    EXPECT_EQ(Str(Json(ws.TextsUntil("Synced")[0]), "type"), "subscribed");
    ws.SendText(R"({"action":"subscribe","topic":"message/b"})");
    EXPECT_EQ(Str(Json(ws.NextText()), "code"), "too_many_subscriptions");
    // Under the limit in pieces is fine; over it in pieces is not.
    ws.SendFrame(1, std::string(600, ' '), false);
    ws.SendFrame(0, std::string(600, ' '), true);
    EXPECT_EQ(ws.WaitClose(), 1009);
  }
}

TEST(StreamSlowTest, AWebSocketClientThatSendsWithoutReadingIsNoLongerRead) {
  ServerProcess server;
  server.WriteFile("server.yaml", "limits:\n  output_bytes: 16KiB\n");
  ASSERT_GT(server.Start({"--config", server.dir() + "/server.yaml"}), 0) << server.log();
  WsConn ws(server.port(), kMsg, {}, "dGhlIHNhbXBsZSBub25jZQ==", "13", /*rcvbuf=*/4096);
  ASSERT_TRUE(ws.upgraded());
  // One masked {"action":"ping"} frame (mask 0), sent over and over: each
  // earns a {"type":"pong"} the client never reads.
  std::string frame = "\x81\x91";
  frame.append(4, '\0');
  frame += R"({"action":"ping"})";
  const size_t offered = size_t{96} << 20;
  const size_t sent = ws.socket().SendUntilBlocked(frame, offered, std::chrono::seconds(1));
  // The server stopped reading once its unsent output passed the limit;
  // what went out is what the kernel buffers in both directions hold (a
  // few MiB each on loopback), not the 96 MiB offered.
  EXPECT_LT(sent, size_t{40} << 20);
  HttpResponse health = server.Call("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
}

TEST(StreamConfigTest, WsPingsAndClosesAClientThatNeverPongs) {
  ServerProcess server;
  server.WriteFile("server.yaml", "streams:\n  ws_ping_ms: 100\n  ws_pong_timeout_ms: 400\n");
  ASSERT_GT(server.Start({"--config", server.dir() + "/server.yaml"}), 0) << server.log();
  WsConn alive(server.port(), kMsg);
  WsConn dead(server.port(), kMsg);
  dead.auto_pong = false;
  auto start = std::chrono::steady_clock::now();
  // Both are read at once; only `alive` answers the Pings.
  uint16_t dead_code = 0;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5) && dead_code == 0) {
    alive.Next(std::chrono::milliseconds(10));
    std::optional<WsMessage> m = dead.Next(std::chrono::milliseconds(10));
    if (m && m->opcode == 8) dead_code = m->close_code;
  }
  EXPECT_EQ(dead_code, 1001);
  EXPECT_GE(dead.pings_seen, 2);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(400));
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(900)) {
    alive.Next(std::chrono::milliseconds(50));
  }
  EXPECT_GE(alive.pings_seen, 5);
  ASSERT_EQ(Put(server, "m", "t"), 1u);
  EXPECT_EQ(Num(Json(alive.NextText()), "seq"), 1u);
  std::string metrics = server.Call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("eventide_ws_pong_timeouts_total 1"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace eventide::testing
