// The real `eventide serve` binary on an ephemeral port, driven over real
// sockets (and by curl where users use curl): REST (SPEC section 5), limits
// and bad input (sections 10 and 12), restarts after kill -9, TLS.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/mount.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/server/harness.h"

namespace eventide::testing {
namespace {

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  return d;
}

std::string ErrorCode(const HttpResponse& r) {
  rapidjson::Document d = Json(r.body);
  if (!d.IsObject() || !d.HasMember("error") || !d["error"].IsObject()) return "<no error body>";
  return d["error"]["code"].GetString();
}

std::string Str(const rapidjson::Value& v, const char* k) {
  if (!v.IsObject() || !v.HasMember(k) || !v[k].IsString()) return "<missing>";
  return v[k].GetString();
}

const std::string kMsg = "/realtime-demo/message";

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GT(server_.Start(), 0) << server_.log(); }
  ServerProcess server_;
};

TEST_F(ServerTest, CreateAnswersWithThePositionAndTheRecord) {
  HttpResponse r =
      server_.Call("POST", kMsg, R"({"id":"msg-1","title":"Hello","content":"World"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.Header("event-position"), "1");
  EXPECT_EQ(r.Header("etag"), "\"1\"");
  EXPECT_EQ(r.Header("event-durability"), "fsync");
  EXPECT_EQ(r.Header("location"), "/realtime-demo/message/msg-1");
  rapidjson::Document d = Json(r.body);
  EXPECT_EQ(Str(d, "id"), "msg-1");
  EXPECT_EQ(Str(d, "title"), "Hello");
  EXPECT_TRUE(std::regex_match(Str(d, "__createdAt__"),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  EXPECT_EQ(Str(d, "__createdAt__"), Str(d, "__updatedAt__"));

  HttpResponse g = server_.Call("GET", kMsg + "/msg-1");
  ASSERT_EQ(g.status, 200);
  EXPECT_EQ(g.body, r.body) << "a read after the answer sees the write";
  EXPECT_EQ(g.Header("etag"), "\"1\"");
}

TEST_F(ServerTest, CreateWithoutIdGeneratesAUuid) {
  HttpResponse r = server_.Call("POST", kMsg, R"({"title":"a","content":"b"})");
  ASSERT_EQ(r.status, 201) << r.body;
  std::string id = Str(Json(r.body), "id");
  EXPECT_TRUE(std::regex_match(
      id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << id;
  EXPECT_EQ(server_.Call("GET", kMsg + "/" + id).status, 200);
}

TEST_F(ServerTest, TableNamesMatchCaseInsensitively) {
  ASSERT_EQ(
      server_.Call("POST", "/realtime-demo/Message", R"({"id":"a","title":"t","content":"c"})")
          .status,
      201);
  EXPECT_EQ(server_.Call("GET", "/realtime-demo/MESSAGE/a").status, 200);
}

TEST_F(ServerTest, CreatingAnExistingIdIsAConflict) {
  ASSERT_EQ(server_.Call("POST", kMsg, R"({"id":"x","title":"t","content":"c"})").status, 201);
  HttpResponse r = server_.Call("POST", kMsg, R"({"id":"x","title":"t","content":"c"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(ErrorCode(r), "conflict");
}

TEST_F(ServerTest, ValidationErrorsNameTheField) {
  struct Case {
    const char* body;
    const char* field;
  };
  for (Case c : {Case{R"({"id":"v","content":"c"})", "title"},
                 Case{R"({"id":"v","title":5,"content":"c"})", "title"},
                 Case{R"({"id":"v","title":"t","content":"c","color":"red"})", "color"}}) {
    HttpResponse r = server_.Call("POST", kMsg, c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(ErrorCode(r), "validation_failed") << c.body;
    rapidjson::Document d = Json(r.body);
    EXPECT_EQ(Str(d["error"], "field"), c.field) << r.body;
    EXPECT_NE(Str(d["error"], "message"), "") << r.body;
  }
  EXPECT_EQ(server_.Call("GET", kMsg + "/v").status, 404) << "nothing was written";
  // An id is one URL path segment: a '/' would make the record unaddressable.
  HttpResponse slash = server_.Call("POST", kMsg, R"({"id":"a/b","title":"t","content":"c"})");
  EXPECT_EQ(slash.status, 400);
  EXPECT_EQ(ErrorCode(slash), "validation_failed");
}

TEST_F(ServerTest, InvalidJsonAndWrongContentType) {
  HttpResponse r = server_.Call("POST", kMsg, R"({"id":"v","title":)");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCode(r), "invalid_json");
  r = server_.Call("POST", kMsg, "[1,2]");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCode(r), "validation_failed");
  r = server_.Call("POST", kMsg, "title=x", {"Content-Type: application/x-www-form-urlencoded"});
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(ErrorCode(r), "unsupported_media_type");
}

TEST_F(ServerTest, PutCreatesThenReplacesKeepingCreatedAt) {
  HttpResponse a = server_.Call("PUT", kMsg + "/p1", R"({"title":"one","content":"c"})");
  ASSERT_EQ(a.status, 201) << a.body;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  HttpResponse b = server_.Call("PUT", kMsg + "/p1", R"({"title":"two","content":"c"})");
  ASSERT_EQ(b.status, 200) << b.body;
  rapidjson::Document da = Json(a.body), db = Json(b.body);
  EXPECT_EQ(Str(db, "title"), "two");
  EXPECT_EQ(Str(db, "id"), "p1");
  EXPECT_EQ(Str(db, "__createdAt__"), Str(da, "__createdAt__"));
  EXPECT_NE(Str(db, "__updatedAt__"), Str(da, "__updatedAt__"));
  EXPECT_FALSE(db.HasMember("author")) << "a replace drops fields it does not name";
  HttpResponse m = server_.Call("PUT", kMsg + "/p1", R"({"id":"other","title":"x","content":"c"})");
  EXPECT_EQ(m.status, 400);
  EXPECT_EQ(ErrorCode(m), "id_mismatch");
}

TEST_F(ServerTest, PatchMergesAndNeedsAnExistingRecord) {
  ASSERT_EQ(
      server_.Call("POST", kMsg, R"({"id":"m","title":"t","content":"c","author":"ann"})").status,
      201);
  HttpResponse r = server_.Call("PATCH", kMsg + "/m", R"({"title":"new"})");
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d = Json(r.body);
  EXPECT_EQ(Str(d, "title"), "new");
  EXPECT_EQ(Str(d, "author"), "ann");
  EXPECT_EQ(server_.Call("PATCH", kMsg + "/nope", R"({"title":"x"})").status, 404);
  HttpResponse bad = server_.Call("PATCH", kMsg + "/m", R"({"title":null})");
  EXPECT_EQ(bad.status, 400) << "a required field cannot be nulled";
}

TEST_F(ServerTest, DeleteAnswersTheLastStateThen404) {
  ASSERT_EQ(server_.Call("POST", kMsg, R"({"id":"d","title":"t","content":"c"})").status, 201);
  HttpResponse r = server_.Call("DELETE", kMsg + "/d");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(Json(r.body), "title"), "t");
  EXPECT_EQ(r.Header("event-position"), "2");
  EXPECT_EQ(server_.Call("GET", kMsg + "/d").status, 404);
  HttpResponse again = server_.Call("DELETE", kMsg + "/d");
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(ErrorCode(again), "not_found");
}

TEST_F(ServerTest, ListPaginatesInIdOrderAndFilters) {
  for (int i = 0; i < 25; ++i) {
    char id[8];
    std::snprintf(id, sizeof(id), "r%02d", i);
    std::string author = i % 2 ? "odd" : "even";
    ASSERT_EQ(server_
                  .Call("POST", kMsg,
                        std::string(R"({"id":")") + id +
                            R"(","title":"t","content":"c","author":")" + author + "\"}")
                  .status,
              201);
  }
  HttpResponse page = server_.Call("GET", kMsg + "?limit=10");
  ASSERT_EQ(page.status, 200);
  rapidjson::Document d = Json(page.body);
  ASSERT_TRUE(d.IsArray());
  ASSERT_EQ(d.Size(), 10u);
  EXPECT_EQ(Str(d[0], "id"), "r00");
  EXPECT_EQ(Str(d[9], "id"), "r09");
  d = Json(server_.Call("GET", kMsg + "?limit=10&after=r09").body);
  ASSERT_EQ(d.Size(), 10u);
  EXPECT_EQ(Str(d[0], "id"), "r10");
  d = Json(server_.Call("GET", kMsg + "?after=r19").body);
  EXPECT_EQ(d.Size(), 5u);
  d = Json(server_.Call("GET", kMsg + "?author=odd&limit=100").body);
  EXPECT_EQ(d.Size(), 12u);
  for (auto& r : d.GetArray()) EXPECT_EQ(Str(r, "author"), "odd");
  HttpResponse bad = server_.Call("GET", kMsg + "?colour=red");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(ErrorCode(bad), "unknown_field");
  EXPECT_EQ(ErrorCode(server_.Call("GET", kMsg + "?limit=0")), "bad_parameter");
  EXPECT_EQ(ErrorCode(server_.Call("GET", kMsg + "?limit=abc")), "bad_parameter");
}

TEST_F(ServerTest, UnknownAppsTablesAndMethods) {
  HttpResponse r = server_.Call("GET", "/nope/message");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "unknown_app");
  r = server_.Call("GET", "/realtime-demo/nosuchtable");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "unknown_table");
  r = server_.Call("DELETE", kMsg);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(ErrorCode(r), "method_not_allowed");
  EXPECT_EQ(r.Header("allow"), "GET, HEAD, POST, OPTIONS");
}

TEST_F(ServerTest, HealthzAndMetrics) {
  HttpResponse h = server_.Call("GET", "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(Str(Json(h.body), "status"), "ok");
  ASSERT_EQ(server_.Call("POST", kMsg, R"({"title":"t","content":"c"})").status, 201);
  server_.Call("GET", "/nope");
  HttpResponse m = server_.Call("GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.Header("content-type").find("text/plain"), std::string::npos);
  EXPECT_NE(m.body.find("eventide_events_written_total 1\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("eventide_rejected_requests_total{code=\"unknown_app\"} 1"),
            std::string::npos)
      << m.body;
  server_.Call("POST", kMsg, "{}");  // validation_failed, counted by the REST service
  m = server_.Call("GET", "/metrics");
  EXPECT_NE(m.body.find("eventide_rejected_requests_total{code=\"validation_failed\"} 1"),
            std::string::npos)
      << m.body;
  // The write: one fdatasync (always) in the histogram, one batch of one.
  EXPECT_NE(m.body.find("eventide_fsync_seconds_bucket{le=\"+Inf\"} "), std::string::npos);
  EXPECT_EQ(m.body.find("eventide_fsync_seconds_count 0\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("eventide_group_size_bucket{le=\"1\"} 1\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("eventide_group_size_count 1\n"), std::string::npos) << m.body;
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Client c(server_.port());
  std::string burst;
  for (int i = 0; i < 20; ++i) {
    std::string body = R"({"id":"p)" + std::to_string(i) + R"(","title":"t","content":"c"})";
    burst += "POST " + kMsg + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    burst += "GET " + kMsg + "/p" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  ASSERT_TRUE(c.SendRaw(burst));
  for (int i = 0; i < 20; ++i) {
    HttpResponse w = c.Read();
    ASSERT_EQ(w.status, 201) << i;
    EXPECT_EQ(Str(Json(w.body), "id"), "p" + std::to_string(i));
    HttpResponse g = c.Read();
    // The GET was parsed before the POST was durable; it is judged after it
    // (read-your-writes on a connection, tests/server/pipeline_test.cc).
    EXPECT_EQ(g.status, 200) << i;
    EXPECT_EQ(Str(Json(g.body), "id"), "p" + std::to_string(i));
  }
}

TEST_F(ServerTest, MalformedHttpGets400AndTheConnectionCloses) {
  Client c(server_.port());
  ASSERT_TRUE(c.SendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"));
  HttpResponse r = c.Read();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCode(r), "bad_request");
  EXPECT_TRUE(c.ClosedByPeer());
  EXPECT_EQ(server_.Call("GET", "/healthz").status, 200) << "the server stays up";
}

TEST_F(ServerTest, OversizeHeadersAndBodies) {
  Client c(server_.port());
  ASSERT_TRUE(c.SendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') +
                        "\r\n\r\n"));
  HttpResponse r = c.Read();
  EXPECT_EQ(r.status, 431);
  EXPECT_TRUE(c.ClosedByPeer());

  Client d(server_.port());
  ASSERT_TRUE(d.SendRaw("POST " + kMsg +
                        " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: 2000000\r\n\r\n"));
  r = d.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(ErrorCode(r), "body_too_large");
}

TEST_F(ServerTest, AnUpgradeToAnotherProtocolIsRefusedAndTheConnectionCloses) {
  Client c(server_.port());
  ASSERT_TRUE(c.SendRaw("GET " + kMsg +
                        " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                        "Upgrade: h2c\r\n\r\n"));
  HttpResponse r = c.Read();
  EXPECT_EQ(r.status, 501);
  EXPECT_EQ(ErrorCode(r), "unsupported_upgrade");
  EXPECT_TRUE(c.ClosedByPeer());
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  Client c(server_.port());
  ASSERT_TRUE(c.SendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  HttpResponse r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("connection"), "close");
  EXPECT_TRUE(c.ClosedByPeer());
}

TEST_F(ServerTest, StaticFilesWhenTheAppHasWeb) {
  // The demo app gets its UI later; give this server's copy a web/ folder.
  server_.Kill9();
  server_.WriteFile("apps/realtime-demo/web/index.html", "<!doctype html><p>hi</p>");
  server_.WriteFile("apps/realtime-demo/web/app.js", "console.log(1)");
  ASSERT_GT(server_.Start(), 0) << server_.log();
  // The log says where to point a browser.
  EXPECT_NE(server_.log().find(R"("msg":"page","app":"realtime-demo","url":"http)"),
            std::string::npos)
      << server_.log();
  EXPECT_NE(
      server_.log().find("://localhost:" + std::to_string(server_.port()) + "/realtime-demo/\""),
      std::string::npos)
      << server_.log();
  HttpResponse r = server_.Call("GET", "/realtime-demo/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<!doctype html><p>hi</p>");
  EXPECT_EQ(r.Header("content-type"), "text/html; charset=utf-8");
  r = server_.Call("GET", "/realtime-demo/app.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.Header("content-type").find("javascript"), std::string::npos);
  EXPECT_EQ(server_.Call("GET", "/realtime-demo").status, 301);
  EXPECT_EQ(server_.Call("GET", "/realtime-demo/a/b/c.txt").status, 404);
  r = server_.Call("POST", "/realtime-demo/a/b/c.txt", "x");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(ErrorCode(r), "method_not_allowed");
  EXPECT_EQ(r.Header("allow"), "GET, HEAD");
}

TEST_F(ServerTest, StaticFilesAreGzippedAndRevalidatedByEtag) {
  server_.Kill9();
  std::string js;
  for (int i = 0; i < 200; ++i)
    js += "export const value" + std::to_string(i) + " = " + std::to_string(i) + ";\n";
  server_.WriteFile("apps/realtime-demo/web/bundle.js", js);
  ASSERT_GT(server_.Start(), 0) << server_.log();

  HttpResponse plain = server_.Call("GET", "/realtime-demo/bundle.js");
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.body, js);
  EXPECT_EQ(plain.Header("content-encoding"), "");
  EXPECT_EQ(plain.Header("vary"), "accept-encoding");
  const std::string etag = plain.Header("etag");
  ASSERT_EQ(etag.size(), 18u) << etag;

  HttpResponse z =
      server_.Call("GET", "/realtime-demo/bundle.js", "", {"Accept-Encoding: gzip, deflate, br"});
  ASSERT_EQ(z.status, 200);
  EXPECT_EQ(z.Header("content-encoding"), "gzip");
  const std::string gzip_etag = z.Header("etag");
  EXPECT_EQ(gzip_etag, etag.substr(0, 17) + "-gz\"");  // its own bytes, its own tag
  EXPECT_LT(z.body.size(), js.size() / 2);
  ASSERT_GE(z.body.size(), 2u);
  EXPECT_EQ(static_cast<uint8_t>(z.body[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<uint8_t>(z.body[1]), 0x8b);
  EXPECT_EQ(server_.Call("GET", "/realtime-demo/bundle.js", "", {"Accept-Encoding: gzip;q=0"})
                .Header("content-encoding"),
            "");

  HttpResponse again =
      server_.Call("GET", "/realtime-demo/bundle.js", "", {"If-None-Match: " + etag});
  EXPECT_EQ(again.status, 304);
  EXPECT_EQ(again.body, "");
  EXPECT_EQ(again.Header("content-length"), "");
  EXPECT_EQ(again.Header("etag"), etag);
  EXPECT_EQ(server_.Call("GET", "/realtime-demo/bundle.js", "", {"If-None-Match: \"0\""}).status,
            200);
  // A cached gzip copy revalidates as gzip; its tag does not stand for the
  // identity bytes.
  EXPECT_EQ(server_
                .Call("GET", "/realtime-demo/bundle.js", "",
                      {"Accept-Encoding: gzip", "If-None-Match: " + gzip_etag})
                .status,
            304);
  EXPECT_EQ(
      server_.Call("GET", "/realtime-demo/bundle.js", "", {"If-None-Match: " + gzip_etag}).status,
      200);
}

// ---- Timeouts (short, from a config file) ----

TEST(ServerTimeoutTest, SlowlorisGets408) {
  ServerProcess server;
  server.WriteFile("server.yaml", "limits:\n  header_timeout_ms: 300\n  idle_timeout_ms: 600\n");
  ASSERT_GT(server.Start({"--config", server.dir() + "/server.yaml"}), 0) << server.log();
  Client c(server.port());
  ASSERT_TRUE(c.SendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\n"));  // never finished
  HttpResponse r = c.Read(std::chrono::seconds(5));
  EXPECT_EQ(r.status, 408);
  EXPECT_EQ(ErrorCode(r), "request_timeout");
  EXPECT_TRUE(c.ClosedByPeer());

  Client idle(server.port());
  ASSERT_EQ(idle.Call("GET", "/healthz").status, 200);
  EXPECT_TRUE(idle.ClosedByPeer(std::chrono::seconds(5))) << "idle keep-alive closes";
}

TEST(ServerLimitTest, ConnectionsBeyondTheLimitGet503) {
  ServerProcess server;
  server.WriteFile("server.yaml", "limits:\n  max_connections: 2\n");
  ASSERT_GT(server.Start({"--config", server.dir() + "/server.yaml"}), 0) << server.log();
  Client a(server.port()), b(server.port());
  ASSERT_EQ(a.Call("GET", "/healthz").status, 200);
  ASSERT_EQ(b.Call("GET", "/healthz").status, 200);
  Client c(server.port());
  HttpResponse r = c.Read(std::chrono::seconds(5));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(ErrorCode(r), "too_many_connections");
  EXPECT_TRUE(c.ClosedByPeer());
  EXPECT_EQ(a.Call("GET", "/healthz").status, 200) << "the others are unaffected";
}

// ---- Restarts ----

TEST(ServerRestartTest, EveryAcknowledgedWriteSurvivesKill9) {
  ServerProcess server;
  ASSERT_GT(server.Start(), 0) << server.log();
  // Writers on several connections; the server is killed while they write.
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<std::string, std::string> acked;  // id -> title
  std::set<std::string> deleted;
  // A write in flight when the server died may or may not have become
  // durable: id -> the state it would leave ("" for a delete).
  std::map<std::string, std::string> in_flight;
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      Client c(server.port());
      for (int i = 0; !stop; ++i) {
        std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
        HttpResponse r =
            c.Call("POST", kMsg, R"({"id":")" + id + R"(","title":"v1","content":"c"})");
        if (r.status != 201) return;
        {
          std::lock_guard<std::mutex> lk(mu);
          acked[id] = "v1";
        }
        if (i % 3 == 0) {
          {
            std::lock_guard<std::mutex> lk(mu);
            in_flight[id] = "v2";
          }
          r = c.Call("PATCH", kMsg + "/" + id, R"({"title":"v2"})");
          if (r.status != 200) return;
          std::lock_guard<std::mutex> lk(mu);
          acked[id] = "v2";
          in_flight.erase(id);
        } else if (i % 5 == 1) {
          {
            std::lock_guard<std::mutex> lk(mu);
            in_flight[id] = "";
          }
          r = c.Call("DELETE", kMsg + "/" + id);
          if (r.status != 200) return;
          std::lock_guard<std::mutex> lk(mu);
          acked.erase(id);
          in_flight.erase(id);
          deleted.insert(id);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  server.Kill9();
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_GT(acked.size(), 10u);

  ASSERT_GT(server.Start(), 0) << server.log();
  for (auto& [id, title] : acked) {
    HttpResponse r = server.Call("GET", kMsg + "/" + id);
    auto maybe = in_flight.find(id);
    if (maybe != in_flight.end() && maybe->second.empty() && r.status == 404) continue;
    ASSERT_EQ(r.status, 200) << id << " was acknowledged";
    std::string got = Str(Json(r.body), "title");
    if (maybe != in_flight.end() && got == maybe->second) continue;
    EXPECT_EQ(got, title) << id;
  }
  for (const std::string& id : deleted) {
    EXPECT_EQ(server.Call("GET", kMsg + "/" + id).status, 404) << id << " was deleted";
  }
  // The log tool agrees with the server about the directory.
  int code = -1;
  RunCommand(std::string(EVENTIDE_LOG_BIN) + " --data " + server.data_dir() + " verify 2>&1",
             &code);
  EXPECT_EQ(code, 0);
}

// Issue 13: one flipped byte in an acknowledged entry in the middle of the
// last segment. Start-up must stop, naming the segment, offset and reason,
// and leave the log as it was: no acknowledged write cut, no position reused.
TEST(ServerRestartTest, AFlippedByteInAnAcknowledgedEntryStopsStartUp) {
  ServerProcess server;
  server.WriteFile("server.yaml", "segment_bytes: 4KiB\n");
  std::vector<std::string> flags = {"--config", server.dir() + "/server.yaml"};
  ASSERT_GT(server.Start(flags), 0) << server.log();
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(server
                  .Call("POST", kMsg,
                        R"({"id":"m)" + std::to_string(i) + R"(","title":"t","content":")" +
                            std::string(150, 'c') + "\"}")
                  .status,
              201);
  }
  server.Kill9();
  std::vector<std::string> segments;
  for (const auto& e : std::filesystem::directory_iterator(server.data_dir() + "/wal")) {
    if (e.path().extension() == ".log") segments.push_back(e.path().string());
  }
  std::sort(segments.begin(), segments.end());
  ASSERT_GE(segments.size(), 2u);
  const std::string last = segments.back();
  std::string bytes;
  {
    std::ifstream in(last, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::vector<size_t> offsets;  // entry offsets: 32-byte header, then u32 length-prefixed
  for (size_t at = 32; at + 32 <= bytes.size();) {
    offsets.push_back(at);
    uint32_t len = 0;
    for (int i = 3; i >= 0; --i) len = (len << 8) | static_cast<unsigned char>(bytes[at + i]);
    at += 32 + len;
  }
  ASSERT_GE(offsets.size(), 5u);
  const size_t damaged = offsets[offsets.size() / 2];
  bytes[damaged + 40] = static_cast<char>(bytes[damaged + 40] ^ 0x01);
  {
    std::ofstream out(last, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  EXPECT_EQ(server.Start(flags), 0) << "started on a damaged log:\n" << server.log();
  EXPECT_NE(server.Wait(), 0);
  const std::string log = server.log();
  EXPECT_NE(log.find(last + " offset " + std::to_string(damaged) + ": checksum mismatch"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("recorded as synced"), std::string::npos) << log;
  EXPECT_NE(log.find("would be lost by a cut"), std::string::npos) << log;
  EXPECT_NE(log.find("eventide-log verify"), std::string::npos) << log;
  EXPECT_EQ(std::filesystem::file_size(last), bytes.size()) << "start-up cut the log";
}

TEST(ServerRestartTest, RecoversFromACheckpointPlusTheLog) {
  ServerProcess server;
  server.WriteFile("server.yaml", "checkpoint_entries: 20\n");
  std::vector<std::string> flags = {"--config", server.dir() + "/server.yaml"};
  ASSERT_GT(server.Start(flags), 0) << server.log();
  for (int i = 0; i < 45; ++i) {
    ASSERT_EQ(server.Call("PUT", kMsg + "/c" + std::to_string(i % 30),
                          R"({"title":"n)" + std::to_string(i) + R"(","content":"c"})")
                      .status /
                  100,
              2);
  }
  // Wait for the background checkpoint to land.
  for (int i = 0; i < 100 && server.log().find("checkpoint written") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_NE(server.log().find("checkpoint written"), std::string::npos) << server.log();
  server.Kill9();
  ASSERT_GT(server.Start(flags), 0) << server.log();
  std::smatch m;
  std::string log = server.log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex(R"re("checkpoint":(\d+))re"))) << log;
  EXPECT_GE(std::stoi(m[1]), 20);
  rapidjson::Document d = Json(server.Call("GET", kMsg + "?limit=100").body);
  ASSERT_TRUE(d.IsArray());
  EXPECT_EQ(d.Size(), 30u);
  EXPECT_EQ(Str(Json(server.Call("GET", kMsg + "/c14").body), "title"), "n44");
  EXPECT_EQ(Str(Json(server.Call("GET", kMsg + "/c15").body), "title"), "n15");
}

TEST(ServerRestartTest, CheckpointsAlsoEveryNBytesOfLog) {
  ServerProcess server;
  server.WriteFile("server.yaml", "checkpoint_entries: 1000000\ncheckpoint_bytes: 8KiB\n");
  ASSERT_GT(server.Start({"--config", server.dir() + "/server.yaml"}), 0) << server.log();
  std::string big(1000, 'x');
  for (int i = 0; i < 12; ++i) {
    ASSERT_EQ(server.Call("POST", kMsg, R"({"title":"t","content":")" + big + "\"}").status, 201);
  }
  for (int i = 0; i < 100 && server.log().find("checkpoint written") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(server.log().find("checkpoint written"), std::string::npos) << server.log();
}

// Segments wholly before the checkpoint and outside the retention window are
// deleted; the projection still restarts exactly.
TEST(ServerRestartTest, RetentionDeletesOldSegmentsBehindTheCheckpoint) {
  for (const char* window : {"bytes: 8KiB", "age: 1s"}) {
    ServerProcess server;
    server.WriteFile("server.yaml", std::string("segment_bytes: 4KiB\ncheckpoint_entries: 30\n"
                                                "retention:\n  ") +
                                        window + "\n");
    std::vector<std::string> flags = {"--config", server.dir() + "/server.yaml", "--fsync",
                                      "never"};
    ASSERT_GT(server.Start(flags), 0) << server.log();
    std::string body(300, 'x');
    for (int i = 0; i < 100; ++i) {
      ASSERT_EQ(
          server.Call("PUT", kMsg + "/r" + std::to_string(i % 40),
                      R"({"title":"n)" + std::to_string(i) + R"(","content":")" + body + "\"}")
                  .status /
              100,
          2);
      if (i == 49) std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    }
    for (int i = 0; i < 200 && server.log().find("\"segments_deleted\":0") != std::string::npos &&
                    server.log().rfind("checkpoint written") == std::string::npos;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    HttpResponse m = server.Call("GET", "/metrics");
    std::smatch match;
    ASSERT_TRUE(
        std::regex_search(m.body, match, std::regex(R"(eventide_log_first_position (\d+))")))
        << m.body;
    EXPECT_GT(std::stoi(match[1]), 1) << window << ": old segments are gone\n" << server.log();
    server.Kill9();
    ASSERT_GT(server.Start(flags), 0) << server.log();
    rapidjson::Document d = Json(server.Call("GET", kMsg + "?limit=100").body);
    ASSERT_TRUE(d.IsArray());
    EXPECT_EQ(d.Size(), 40u) << window;
    EXPECT_EQ(Str(Json(server.Call("GET", kMsg + "/r19").body), "title"), "n99") << window;
  }
}

TEST(ServerShutdownTest, SigtermFinishesInFlightWritesAndExitsZero) {
  ServerProcess server;
  ASSERT_GT(server.Start(), 0) << server.log();
  Client c(server.port());
  std::string burst;
  for (int i = 0; i < 50; ++i) {
    std::string body = R"({"id":"s)" + std::to_string(i) + R"(","title":"t","content":"c"})";
    burst += "POST " + kMsg + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  ASSERT_TRUE(c.SendRaw(burst));
  HttpResponse first = c.Read();
  ASSERT_EQ(first.status, 201);
  ::kill(server.pid(), SIGTERM);
  int answered = 1;
  while (c.Read(std::chrono::seconds(5)).status == 201) ++answered;
  EXPECT_EQ(server.Wait(), 0) << server.log();
  EXPECT_NE(server.log().find("\"msg\":\"stopped\""), std::string::npos);
  // Everything answered 201 is there after a restart.
  ASSERT_GT(server.Start(), 0);
  for (int i = 0; i < answered; ++i) {
    EXPECT_EQ(server.Call("GET", kMsg + "/s" + std::to_string(i)).status, 200) << i;
  }
}

// ---- eventide token ----

TEST(TokenTest, MintsAnHs256JwtThatVerifiesWithTheSecret) {
  int code = -1;
  std::string jwt = RunCommand(std::string(EVENTIDE_BIN) +
                                   " token --secret s3cret --sub user-1 --claim account=acme"
                                   " --claim admin=true --ttl 2h",
                               &code);
  ASSERT_EQ(code, 0);
  while (!jwt.empty() && jwt.back() == '\n') jwt.pop_back();
  size_t d1 = jwt.find('.'), d2 = jwt.rfind('.');
  ASSERT_NE(d1, d2);
  auto b64url_decode = [](std::string in) {
    for (char& c : in) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (in.size() % 4) in += '=';
    return RunCommand("printf '%s' '" + in + "' | base64 -d");
  };
  EXPECT_EQ(b64url_decode(jwt.substr(0, d1)), R"({"alg":"HS256","typ":"JWT"})");
  rapidjson::Document claims = Json(b64url_decode(jwt.substr(d1 + 1, d2 - d1 - 1)));
  ASSERT_TRUE(claims.IsObject());
  EXPECT_EQ(Str(claims, "sub"), "user-1");
  EXPECT_EQ(Str(claims, "account"), "acme");
  EXPECT_TRUE(claims["admin"].IsBool() && claims["admin"].GetBool());
  EXPECT_EQ(claims["exp"].GetInt64() - claims["iat"].GetInt64(), 7200);
  // The signature, computed independently with openssl.
  std::string mac = RunCommand("printf '%s' '" + jwt.substr(0, d2) +
                               "' | openssl dgst -sha256 -hmac s3cret -binary | base64 -w0"
                               " | tr '+/' '-_' | tr -d '='");
  EXPECT_EQ(mac, jwt.substr(d2 + 1));
  RunCommand(std::string(EVENTIDE_BIN) + " token --secret s --sub u --ttl forever 2>/dev/null",
             &code);
  EXPECT_EQ(code, 2);
}

// ---- Start-up errors ----

TEST(ServerStartupTest, SchemaErrorStopsStartUpWithFileAndLine) {
  ServerProcess server;
  server.WriteFile("apps/broken/config.yaml",
                   "name: Broken\napp_id: broken\nschemas:\n  - s.graphql\n");
  server.WriteFile("apps/broken/s.graphql",
                   "type A @table {\n  id: ID! @primaryKey\n  x: Strin\n}\n");
  EXPECT_EQ(server.Start(), 0);
  EXPECT_NE(server.Wait(), 0);
  EXPECT_NE(server.log().find("s.graphql:3"), std::string::npos) << server.log();
}

// ---- TLS, with curl as the client ----

TEST(ServerTlsTest, AutoCertificateWorksWithCurl) {
  ServerProcess server;
  ASSERT_GT(server.Start({"--tls", "auto"}), 0) << server.log();
  std::string cert = server.data_dir() + "/tls/cert.pem";
  ASSERT_TRUE(std::filesystem::exists(cert));
  std::string url = "https://localhost:" + std::to_string(server.port()) + kMsg;
  int code = -1;
  std::string out = RunCommand(
      "curl -sS --cacert " + cert + " -X POST " + url +
          " -H 'Content-Type: application/json' -d '{\"id\":\"tls-1\",\"title\":\"Hello\","
          "\"content\":\"World\"}' -w ' %{http_code}' 2>&1",
      &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find(" 201"), std::string::npos) << out;
  out = RunCommand("curl -sk " + url + "/tls-1 2>&1", &code);
  EXPECT_NE(out.find("\"title\":\"Hello\""), std::string::npos) << out;
  // A large record both ways (many TLS records each way) and keep-alive over
  // TLS: curl reuses one connection for the three URLs.
  std::string big(600000, 'b');
  server.WriteFile("big.json", R"({"id":"tls-big","title":"t","content":")" + big + "\"}");
  out = RunCommand("curl -sS --cacert " + cert + " -X POST " + url +
                       " -H 'Content-Type: application/json' --data-binary @" + server.dir() +
                       "/big.json -o /dev/null -w '%{http_code}' 2>&1",
                   &code);
  EXPECT_EQ(out, "201");
  out = RunCommand("curl -sS --cacert " + cert + " " + url +
                   "/tls-big -o /dev/null -w '%{size_download}' 2>&1");
  EXPECT_GT(std::stoul(out.empty() ? "0" : out), 600000u) << out;
  out = RunCommand("curl -sSv --cacert " + cert + " " + url + "/tls-1 " + url + "/tls-big " + url +
                   "/tls-1 -o /dev/null -o /dev/null -o /dev/null 2>&1");
  EXPECT_NE(out.find("Re-using existing connection"), std::string::npos) << out.substr(0, 2000);
  // Plain HTTP to the TLS port fails cleanly and the server stays up.
  Client plain(server.port());
  plain.SendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(plain.ClosedByPeer());
  out =
      RunCommand("curl -sk https://localhost:" + std::to_string(server.port()) + "/healthz", &code);
  EXPECT_NE(out.find("\"ok\""), std::string::npos) << out;
  // The certificate is kept: a restart reuses it.
  std::string before = RunCommand("cat " + cert);
  server.Kill9();
  ASSERT_GT(server.Start({"--tls", "auto"}), 0);
  EXPECT_EQ(RunCommand("cat " + cert), before);
}

// ---- A full disk ----

TEST(ServerDiskFullTest, WritesFailWith503AndHealthzSaysSo) {
  ServerProcess server;
  std::string mnt = server.dir() + "/small";
  std::filesystem::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << std::strerror(errno);
  }
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  ASSERT_GT(server.Start({"--data", mnt}), 0) << server.log();
  std::string big(60000, 'x');
  int created = 0, failed = 0;
  Client c(server.port());
  for (int i = 0; i < 40; ++i) {
    HttpResponse r =
        c.Call("POST", kMsg,
               R"({"id":"f)" + std::to_string(i) + R"(","title":"t","content":")" + big + "\"}");
    if (r.status == 201) ++created;
    if (r.status == 503) {
      ++failed;
      EXPECT_EQ(ErrorCode(r), "storage_unavailable");
    }
  }
  EXPECT_GT(created, 0);
  EXPECT_GT(failed, 0);
  HttpResponse h = server.Call("GET", "/healthz");
  EXPECT_EQ(h.status, 503);
  EXPECT_EQ(ErrorCode(h), "storage_unavailable");
  // Reads still work; nothing acknowledged is lost.
  for (int i = 0; i < created; ++i) {
    EXPECT_EQ(server.Call("GET", kMsg + "/f" + std::to_string(i)).status, 200) << i;
  }
}

}  // namespace
}  // namespace eventide::testing
