// Webhooks (SPEC section 9, issue 5 item 7) against the real binary and real
// receivers on 127.0.0.1: what each hook's POST carries, and that a hook
// target that never answers delays no client.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/hooks/receiver.h"
#include "tests/server/harness.h"
#include "tests/server/stream_clients.h"

namespace eventide::testing {
namespace {

using hooks::testing::Eventually;
using hooks::testing::ReceivedRequest;
using hooks::testing::Receiver;
using hooks::testing::StatusResponse;

// The received bodies of one hook (in the order they arrived: deliveries
// run concurrently, so not necessarily the order they were made in).
std::vector<std::string> Bodies(const Receiver& r, const std::string& hook) {
  std::vector<std::string> out;
  for (const ReceivedRequest& q : r.requests()) {
    auto it = q.headers.find("x-eventide-hook");
    if (it != q.headers.end() && it->second == hook) out.push_back(q.body);
  }
  return out;
}

std::string Schema() {
  return "type Note @table @export(rest: true, sse: true, ws: true) {\n"
         "  id: ID! @primaryKey\n  text: String\n}\n";
}

TEST(HooksTest, EveryHookPostsItsEventToTheReceiver) {
  Receiver ok([](size_t) { return StatusResponse(204); });
  ServerProcess server;
  std::string hooks = "hooks:\n";
  for (const char* h : {"on_realtime_connect", "on_realtime_disconnect", "on_realtime_subscribe",
                        "on_realtime_unsubscribe", "on_realtime_message", "on_write"}) {
    hooks += std::string("  ") + h + ": " + ok.Url("/" + std::string(h)) + "\n";
  }
  server.WriteFile("apps/notes/config.yaml", "app_id: notes\nschemas:\n  - s.graphql\n" + hooks);
  server.WriteFile("apps/notes/s.graphql", Schema());
  ASSERT_GT(server.Start(), 0) << server.log();

  ASSERT_EQ(server.Call("PUT", "/notes/Note/n1", R"({"text":"hello"})").status, 201);
  ASSERT_TRUE(Eventually([&] { return !Bodies(ok, "on_write").empty(); }));
  const std::string write = Bodies(ok, "on_write")[0];
  rapidjson::Document d;
  d.Parse(write.c_str());
  ASSERT_TRUE(d.IsObject()) << write;
  EXPECT_STREQ(d["hook"].GetString(), "on_write");
  EXPECT_STREQ(d["app"].GetString(), "notes");
  EXPECT_STREQ(d["data"]["op"].GetString(), "create");
  EXPECT_STREQ(d["data"]["table"].GetString(), "Note");
  EXPECT_STREQ(d["data"]["id"].GetString(), "n1");
  EXPECT_EQ(d["data"]["position"].GetUint64(), 1u);
  EXPECT_STREQ(d["data"]["record"]["text"].GetString(), "hello");

  {
    WsConn ws(server.port(), "/notes/Note");
    ASSERT_TRUE(ws.upgraded());
    ws.NextText();  // subscribed
    ws.SendText(R"({"action":"subscribe","topic":"Note/n1"})");
    ws.NextText();
    ws.SendText(R"({"action":"ping"})");
    ws.NextText();
    ws.SendText(R"({"hello":"everyone"})");  // a publish to the own topic
    ws.TextsUntil(R"("type":"ack")");
  }  // closes
  ASSERT_TRUE(Eventually([&] { return !Bodies(ok, "on_realtime_disconnect").empty(); }));
  const std::vector<std::string> connects = Bodies(ok, "on_realtime_connect");
  ASSERT_EQ(connects.size(), 1u);
  EXPECT_NE(connects[0].find(R"("dialect":"ws")"), std::string::npos) << connects[0];
  EXPECT_NE(connects[0].find(R"("remote":"127.0.0.1:)"), std::string::npos) << connects[0];
  auto any = [](const std::vector<std::string>& bodies, const std::string& needle) {
    for (const std::string& b : bodies) {
      if (b.find(needle) != std::string::npos) return true;
    }
    return false;
  };
  const std::vector<std::string> subs = Bodies(ok, "on_realtime_subscribe");
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_TRUE(any(subs, R"("topic":"Note")")) << ::testing::PrintToString(subs);
  EXPECT_TRUE(any(subs, R"("topic":"Note/n1")")) << ::testing::PrintToString(subs);
  // The ping is not a message; the subscribe and the publish are.
  const std::vector<std::string> msgs = Bodies(ok, "on_realtime_message");
  ASSERT_EQ(msgs.size(), 2u) << ::testing::PrintToString(msgs);
  EXPECT_TRUE(any(msgs, R"("message":{"hello":"everyone"})")) << ::testing::PrintToString(msgs);
  EXPECT_EQ(Bodies(ok, "on_realtime_unsubscribe").size(), 2u) << "closing ends both";
  // The publish was a write too.
  ASSERT_TRUE(Eventually([&] { return Bodies(ok, "on_write").size() == 2; }));
  EXPECT_TRUE(any(Bodies(ok, "on_write"), R"("op":"publish")"));

  // An SSE stream says so in its connect.
  {
    SseConn sse(server.port(), "/notes/Note?stream=sse");
    ASSERT_TRUE(sse.WaitFor([](const auto& ev) { return !ev.empty(); }));
  }
  ASSERT_TRUE(Eventually([&] { return Bodies(ok, "on_realtime_disconnect").size() == 2; }));
  EXPECT_TRUE(any(Bodies(ok, "on_realtime_connect"), R"("dialect":"sse")"));
  std::string metrics = server.Call("GET", "/metrics").body;
  EXPECT_EQ(metrics.find("eventide_hook_deliveries_total 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("eventide_hook_dropped_total 0\n"), std::string::npos) << metrics;
}

TEST(HooksTest, ATargetThatNeverAnswersDelaysNoClient) {
  // Holds every connection open without a word.
  Receiver silent([](size_t) { return std::nullopt; });
  ServerProcess server;
  server.WriteFile("apps/notes/config.yaml",
                   "app_id: notes\nschemas:\n  - s.graphql\n"
                   "hooks:\n  on_write: " +
                       silent.Url() + "\n");
  server.WriteFile("apps/notes/s.graphql", Schema());
  ASSERT_GT(server.Start(), 0) << server.log();
  SseConn sse(server.port(), "/notes/Note?stream=sse");
  // Far more writes than the dispatcher has slots (4): each is answered and
  // streamed while the hook's attempts hang.
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(server.Call("PUT", "/notes/Note/n" + std::to_string(i), R"({"text":"x"})").status,
              201);
  }
  ASSERT_TRUE(
      sse.WaitFor([](const auto& ev) { return !ev.empty() && ev.back().last_event_id == "50"; }));
  EXPECT_GE(silent.request_count(), 1u) << "the hook was tried (and never answered)";
  std::string metrics = server.Call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("eventide_hook_deliveries_total 0\n"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("eventide_hook_in_flight 0\n"), std::string::npos) << metrics;
  EXPECT_EQ(server.Call("GET", "/healthz").status, 200);
}

TEST(HooksTest, BadHookConfigStopsStartUp) {
  ServerProcess server;
  server.WriteFile("apps/notes/config.yaml",
                   "app_id: notes\nschemas:\n  - s.graphql\n"
                   "hooks:\n  on_wirte: http://127.0.0.1:1/x\n");
  server.WriteFile("apps/notes/s.graphql", Schema());
  EXPECT_EQ(server.Start(), 0);
  EXPECT_NE(server.log().find("config.yaml:5: unknown hook 'on_wirte'"), std::string::npos)
      << server.log();
  ServerProcess bad_url;
  bad_url.WriteFile("apps/notes/config.yaml",
                    "app_id: notes\nschemas:\n  - s.graphql\n"
                    "hooks:\n  on_write: ftp://example/x\n");
  bad_url.WriteFile("apps/notes/s.graphql", Schema());
  EXPECT_EQ(bad_url.Start(), 0);
  EXPECT_NE(bad_url.log().find("config.yaml:5: hook 'on_write' must be an http(s) URL"),
            std::string::npos)
      << bad_url.log();
}

}  // namespace
}  // namespace eventide::testing
