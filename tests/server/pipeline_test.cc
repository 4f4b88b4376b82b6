// Read-your-writes on one connection (SPEC section 4, issue 13): requests
// pipelined on a connection are judged in order, so a GET, a HEAD, a list or
// a subscription sent after a write sees that write, though the write is
// answered only once durable. Writes behind writes still go at once and share
// a group commit. Against the real binary, over a real socket, every request
// of a test sent in one burst.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

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

std::string Str(const rapidjson::Value& v, const char* k) {
  return v.IsObject() && v.HasMember(k) && v[k].IsString() ? v[k].GetString() : "";
}

std::string Request(const std::string& method, const std::string& path,
                    const std::string& body = "", const std::string& extra = "") {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: x\r\n" + extra;
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    r +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return r + "\r\n" + body;
}

std::string Message(const std::string& id, const std::string& title) {
  return R"({"id":")" + id + R"(","title":")" + title + R"(","content":"c"})";
}

uint64_t Position(const HttpResponse& r) {
  std::string p = r.Header("event-position");
  return p.empty() ? 0 : std::stoull(p);
}

// The next response on `s`; a HEAD's answer has no body whatever its
// Content-Length says.
HttpResponse Next(RawSocket& s, bool head_request = false) {
  HttpResponse r = s.ReadHead(std::chrono::seconds(10));
  if (r.status == 0 || head_request) return r;
  std::string cl = r.Header("content-length");
  size_t n = cl.empty() ? 0 : std::stoull(cl);
  while (s.buffer().size() < n && s.ReadMore(std::chrono::seconds(10)) > 0) {
  }
  if (s.buffer().size() < n) return HttpResponse{};
  r.body = s.buffer().substr(0, n);
  s.buffer().erase(0, n);
  return r;
}

// A counter or histogram count from /metrics.
uint64_t Metric(ServerProcess& s, const std::string& name) {
  std::string body = s.Call("GET", "/metrics").body;
  size_t at = body.find("\n" + name + " ");
  return at == std::string::npos ? ~0ull : std::stoull(body.substr(at + name.size() + 2));
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GT(server_.Start(), 0) << server_.log(); }
  int port() { return server_.port(); }
  ServerProcess server_;
};

TEST_F(PipelineTest, AGetSentAfterAPostSeesIt) {
  // The issue's reproduction: 201 then 404 before the fix.
  RawSocket c(port());
  ASSERT_TRUE(
      c.Send(Request("POST", kMsg, Message("pipe1", "t")) + Request("GET", kMsg + "/pipe1")));
  HttpResponse w = Next(c);
  HttpResponse g = Next(c);
  ASSERT_EQ(w.status, 201) << w.body;
  EXPECT_EQ(Position(w), 1u);
  ASSERT_EQ(g.status, 200) << g.body;
  EXPECT_EQ(Str(Json(g.body), "id"), "pipe1");
  EXPECT_EQ(g.Header("etag"), w.Header("etag"));
}

TEST_F(PipelineTest, EveryReadInABurstSeesTheWritesBeforeIt) {
  RawSocket c(port());
  std::string burst = Request("POST", kMsg, Message("a", "one")) +           // 1
                      Request("PATCH", kMsg + "/a", R"({"title":"two"})") +  // 2
                      Request("GET", kMsg + "/a") +                          // 3
                      Request("PUT", kMsg + "/a", Message("a", "three")) +   // 4
                      Request("HEAD", kMsg + "/a") +                         // 5
                      Request("GET", kMsg) +                                 // 6
                      Request("POST", kMsg, Message("b", "four")) +          // 7
                      Request("DELETE", kMsg + "/a") +                       // 8
                      Request("GET", kMsg + "/a") +                          // 9
                      Request("GET", kMsg + "/b");                           // 10
  ASSERT_TRUE(c.Send(burst));
  std::vector<HttpResponse> r;
  for (int i = 0; i < 10; ++i) r.push_back(Next(c, /*head_request=*/i == 4));
  EXPECT_EQ(r[0].status, 201);
  EXPECT_EQ(r[1].status, 200) << r[1].body;
  ASSERT_EQ(r[2].status, 200) << r[2].body;
  EXPECT_EQ(Str(Json(r[2].body), "title"), "two") << "the PATCH before the GET";
  EXPECT_EQ(r[3].status, 200) << r[3].body;
  EXPECT_EQ(r[4].status, 200);
  EXPECT_EQ(r[4].Header("etag"), r[3].Header("etag")) << "HEAD sees the PUT";
  ASSERT_EQ(r[5].status, 200);
  rapidjson::Document list = Json(r[5].body);
  ASSERT_TRUE(list.IsArray()) << r[5].body;
  ASSERT_EQ(list.Size(), 1u);
  EXPECT_EQ(Str(list[0], "title"), "three");
  EXPECT_EQ(r[6].status, 201);
  EXPECT_EQ(r[7].status, 200) << r[7].body;
  EXPECT_EQ(r[8].status, 404) << "the DELETE before the GET";
  EXPECT_EQ(r[9].status, 200) << "the POST two writes before";
  // Writes took positions in request order.
  EXPECT_EQ(Position(r[0]), 1u);
  EXPECT_EQ(Position(r[1]), 2u);
  EXPECT_EQ(Position(r[3]), 3u);
  EXPECT_EQ(Position(r[6]), 4u);
  EXPECT_EQ(Position(r[7]), 5u);
}

TEST_F(PipelineTest, ASubscriptionOpenedAfterAWriteStartsFromIt) {
  RawSocket s(port());
  ASSERT_TRUE(s.Send(
      Request("POST", kMsg, Message("sub1", "before")) +
      Request("GET", kMsg + "?stream=sse&retained=true", "", "Accept: text/event-stream\r\n")));
  ASSERT_EQ(Next(s).status, 201);
  HttpResponse h = s.ReadHead(std::chrono::seconds(10));
  ASSERT_EQ(h.status, 200);
  EXPECT_EQ(h.Header("content-type"), "text/event-stream");
  stream::SseClient parser;
  std::vector<stream::ClientEvent> events;
  do {
    parser.Feed(s.buffer(), &events);
    s.buffer().clear();
  } while (events.size() < 3 && s.ReadMore(std::chrono::seconds(10)) > 0);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[0].data, R"({"type":"connected","status":"ok","position":1})");
  EXPECT_EQ(Str(Json(events[1].data), "id"), "sub1") << "the retained state holds the write";
  EXPECT_EQ(events[2].data, R"({"type":"synced","position":1})");
}

TEST_F(PipelineTest, PipelinedWritesStillShareGroupCommits) {
  // Writes behind writes are handed over at once, so one fdatasync covers
  // many; were each to wait for the one before, 50 writes would take 50.
  const uint64_t syncs_before = Metric(server_, "eventide_fsync_seconds_count");
  ASSERT_NE(syncs_before, ~0ull);
  RawSocket c(port());
  std::string burst;
  for (int i = 0; i < 50; ++i)
    burst += Request("POST", kMsg, Message("g" + std::to_string(i), "t"));
  burst += Request("GET", kMsg + "?limit=100");
  ASSERT_TRUE(c.Send(burst));
  for (int i = 0; i < 50; ++i) {
    HttpResponse w = Next(c);
    ASSERT_EQ(w.status, 201) << i;
    EXPECT_EQ(Position(w), static_cast<uint64_t>(i + 1));
  }
  HttpResponse list = Next(c);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(Json(list.body).Size(), 50u) << "the list after the writes sees all 50";
  const uint64_t syncs = Metric(server_, "eventide_fsync_seconds_count") - syncs_before;
  EXPECT_GE(syncs, 1u);
  EXPECT_LT(syncs, 25u) << "pipelined writes were committed one by one";
}

}  // namespace
}  // namespace eventide::testing
