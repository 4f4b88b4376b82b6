// HTTP/2 against the real binary (docs/HTTP2.md): curl with
// --http2-prior-knowledge and, under TLS, ALPN; and nghttp2's client
// (tests/server/h2_client.h) where a test must hold one stream's window
// shut, multiplex many streams on one connection or send bad frames.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/server/h2_client.h"
#include "tests/server/harness.h"

namespace eventide::testing {
namespace {

const char* kTable = "/realtime-demo/message";

std::string Curl(const std::string& args, int* code = nullptr) {
  return RunCommand("curl -sS --max-time 10 " + args + " 2>&1", code);
}

std::string Record(const std::string& id, const std::string& content = "c") {
  return "{\"id\":\"" + id + "\",\"title\":\"t\",\"content\":\"" + content + "\"}";
}

// The SSE events with an id: in `body`, as (id, data) pairs.
std::vector<std::pair<uint64_t, std::string>> Events(const std::string& body) {
  std::vector<std::pair<uint64_t, std::string>> out;
  size_t at = 0;
  while ((at = body.find("\nid: ", at)) != std::string::npos) {
    at += 5;
    const uint64_t id = std::strtoull(body.c_str() + at, nullptr, 10);
    size_t data = body.find("data: ", at);
    size_t eol = body.find('\n', data);
    std::string d = body.substr(data + 6, eol - data - 6);
    if (d.find("\"type\":\"synced\"") == std::string::npos) out.push_back({id, d});
  }
  return out;
}

uint64_t Metric(ServerProcess& s, const std::string& name) {
  HttpResponse r = s.Call("GET", "/metrics");
  size_t at = r.body.find("\n" + name + " ");
  if (at == std::string::npos) return ~0ull;
  return std::strtoull(r.body.c_str() + at + name.size() + 2, nullptr, 10);
}

TEST(Http2Test, RestOverPriorKnowledge) {
  ServerProcess s;
  const int port = s.Start();
  ASSERT_GT(port, 0) << s.log();
  const std::string base = "--http2-prior-knowledge http://127.0.0.1:" + std::to_string(port);
  auto url = [&](const std::string& p) { return base + p; };
  // Create: 201, the position, over HTTP/2 (curl reports the version it spoke).
  std::string out = Curl("-i -X POST -H 'content-type: application/json' -d '" + Record("a") +
                         "' " + url(kTable) + " -w '\\nversion=%{http_version}'");
  EXPECT_NE(out.find("HTTP/2 201"), std::string::npos) << out;
  EXPECT_NE(out.find("event-position: 1"), std::string::npos) << out;
  EXPECT_NE(out.find("version=2"), std::string::npos) << out;
  // Read, with the record's ETag.
  out = Curl("-i " + url(std::string(kTable) + "/a"));
  EXPECT_NE(out.find("HTTP/2 200"), std::string::npos) << out;
  EXPECT_NE(out.find("etag: \"1\""), std::string::npos) << out;
  // PATCH, PUT, HEAD, DELETE.
  out = Curl("-i -X PATCH -H 'content-type: application/json' -d '{\"content\":\"x\"}' " +
             url(std::string(kTable) + "/a"));
  EXPECT_NE(out.find("HTTP/2 200"), std::string::npos) << out;
  out = Curl("-i -X PUT -H 'content-type: application/json' -d '" + Record("a", "y") + "' " +
             url(std::string(kTable) + "/a"));
  EXPECT_NE(out.find("HTTP/2 200"), std::string::npos) << out;
  out = Curl("-I " + url(std::string(kTable) + "/a"));
  EXPECT_NE(out.find("HTTP/2 200"), std::string::npos) << out;
  EXPECT_NE(out.find("content-length: "), std::string::npos) << out;
  out = Curl("-i -X DELETE " + url(std::string(kTable) + "/a"));
  EXPECT_NE(out.find("HTTP/2 20"), std::string::npos) << out;
  out = Curl("-i " + url(std::string(kTable) + "/a"));
  EXPECT_NE(out.find("HTTP/2 404"), std::string::npos) << out;
  // Errors: the canonical body.
  out = Curl("-i " + url("/nope/x"));
  EXPECT_NE(out.find("HTTP/2 404"), std::string::npos) << out;
  EXPECT_NE(out.find("\"code\":\"unknown_app\""), std::string::npos) << out;
  out = Curl("-i -X POST -H 'content-type: application/json' -d '{bad' " + url(kTable));
  EXPECT_NE(out.find("HTTP/2 400"), std::string::npos) << out;
  // /healthz and /metrics over HTTP/2 too.
  out = Curl(url("/healthz"));
  EXPECT_NE(out.find("\"status\":\"ok\""), std::string::npos) << out;
  out = Curl(url("/metrics"));
  EXPECT_NE(out.find("eventide_protocol_connections_total{protocol=\"h2\"}"), std::string::npos);
}

TEST(Http2Test, StaticFilesGzipAndNotModifiedOverHttp2) {
  ServerProcess s;
  s.WriteFile("apps/realtime-demo/web/index.html", std::string(4000, 'a'));
  const int port = s.Start();
  ASSERT_GT(port, 0) << s.log();
  std::string out =
      Curl("-i --compressed --http2-prior-knowledge http://127.0.0.1:" + std::to_string(port) +
           "/realtime-demo/index.html");
  EXPECT_NE(out.find("HTTP/2 200"), std::string::npos) << out.substr(0, 300);
  EXPECT_NE(out.find("content-encoding: gzip"), std::string::npos) << out.substr(0, 300);
  EXPECT_NE(out.find(std::string(4000, 'a')), std::string::npos) << "curl decoded the body";
  const size_t at = out.find("etag: ");
  ASSERT_NE(at, std::string::npos) << out.substr(0, 300);
  const std::string etag = out.substr(at + 6, out.find('\r', at) - at - 6);
  out = Curl("-i --compressed --http2-prior-knowledge -H 'if-none-match: " + etag +
             "' http://127.0.0.1:" + std::to_string(port) + "/realtime-demo/index.html");
  EXPECT_NE(out.find("HTTP/2 304"), std::string::npos) << out.substr(0, 300);
}

TEST(Http2Test, TlsOffersH2ByAlpnAndOffKeepsHttp11) {
  ServerProcess s;
  int port = s.Start({"--tls", "auto"});
  ASSERT_GT(port, 0) << s.log();
  const std::string url = "https://127.0.0.1:" + std::to_string(port) + "/healthz";
  std::string out = Curl("-k --http2 -o /dev/null -w '%{http_version}' " + url);
  EXPECT_EQ(out, "2");
  // A client that offers only http/1.1 gets it.
  out = Curl("-k --http1.1 -o /dev/null -w '%{http_version}' " + url);
  EXPECT_EQ(out, "1.1");
  // What ALPN chose holds: HTTP/1.1 bytes after choosing h2 are not answered as HTTP/1.1.
  out = RunCommand(
      "printf 'GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' | timeout 5 openssl s_client "
      "-quiet -alpn h2 -connect 127.0.0.1:" +
      std::to_string(port) + " 2>/dev/null");
  EXPECT_EQ(out.find("HTTP/1.1 200"), std::string::npos) << out;
  out = RunCommand(
      "printf 'GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | timeout 5 "
      "openssl s_client -quiet -alpn http/1.1 -connect 127.0.0.1:" +
      std::to_string(port) + " 2>/dev/null");
  EXPECT_NE(out.find("HTTP/1.1 200"), std::string::npos)
      << "the same bytes after choosing http/1.1";
  ASSERT_EQ(s.Terminate(), 0);

  port = s.Start({"--tls", "auto", "--http2", "off"});
  ASSERT_GT(port, 0) << s.log();
  out = Curl("-k --http2 -o /dev/null -w '%{http_version}' https://127.0.0.1:" +
             std::to_string(port) + "/healthz");
  EXPECT_EQ(out, "1.1") << "ALPN does not offer h2 when it is off";
  ASSERT_EQ(s.Terminate(), 0);

  port = s.Start({"--http2", "off"});
  ASSERT_GT(port, 0) << s.log();
  int code = 0;
  out = Curl("--http2-prior-knowledge -o /dev/null -w '%{http_code}' http://127.0.0.1:" +
                 std::to_string(port) + "/healthz",
             &code);
  EXPECT_NE(out, "200") << "an h2 preface is not HTTP/1.1";
}

TEST(Http2Test, BadFlagValueIsAStartUpError) {
  ServerProcess s;
  EXPECT_EQ(s.Start({"--http2", "maybe"}), 0);
  EXPECT_NE(s.log().find("--http2 must be on or off"), std::string::npos) << s.log();
}

TEST(Http2Test, TenEventStreamsAndAWriteShareOneConnection) {
  ServerProcess s;
  const int port = s.Start();
  ASSERT_GT(port, 0) << s.log();
  H2Client c(port);
  ASSERT_TRUE(c.connected());
  std::vector<int32_t> streams;
  for (int i = 0; i < 10; ++i) {
    streams.push_back(c.Submit("GET", std::string(kTable) + "?n=" + std::to_string(i),
                               {{"accept", "text/event-stream"}}));
  }
  ASSERT_TRUE(c.RunUntil([&] {
    for (int32_t id : streams) {
      if (c.response(id).body.find("\"type\":\"connected\"") == std::string::npos) return false;
    }
    return true;
  }));
  EXPECT_EQ(c.response(streams[0]).Header("content-type"), "text/event-stream");
  // The write goes on the same connection, as an eleventh stream.
  const int32_t post =
      c.Submit("POST", kTable, {{"content-type", "application/json"}}, Record("r1"));
  EXPECT_EQ(c.Wait(post).status, 201);
  ASSERT_TRUE(c.RunUntil([&] {
    for (int32_t id : streams) {
      if (Events(c.response(id).body).empty()) return false;
    }
    return true;
  })) << c.response(streams[9]).body;
  for (int32_t id : streams) {
    auto ev = Events(c.response(id).body);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].first, 1u);
    EXPECT_NE(ev[0].second.find("\"id\":\"r1\""), std::string::npos);
  }
  // One HTTP/2 connection carries the ten (the metrics request is HTTP/1.1).
  EXPECT_EQ(Metric(s, "eventide_h2_event_streams"), 10u);
  HttpResponse m = s.Call("GET", "/metrics");
  EXPECT_NE(m.body.find("eventide_protocol_connections{protocol=\"h2\"} 1\n"), std::string::npos);
}

TEST(Http2Test, RetainedSyncedAndLastEventIdResume) {
  ServerProcess s;
  const int port = s.Start();
  ASSERT_GT(port, 0) << s.log();
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(
        s.Call("POST", kTable, Record("r" + std::to_string(i)), {"Content-Type: application/json"})
            .status,
        201);
  }
  H2Client c(port);
  // A fresh subscriber with the retained state: three records, then synced.
  const int32_t fresh =
      c.Submit("GET", std::string(kTable) + "?retained=true", {{"accept", "text/event-stream"}});
  // A reconnecting one: what came after 1.
  const int32_t resumed =
      c.Submit("GET", kTable, {{"accept", "text/event-stream"}, {"last-event-id", "1"}});
  ASSERT_TRUE(c.RunUntil([&] {
    return c.response(fresh).body.find("\"type\":\"synced\"") != std::string::npos &&
           Events(c.response(resumed).body).size() == 2;
  })) << c.response(fresh).body
      << "\n---\n"
      << c.response(resumed).body;
  const std::string& f = c.response(fresh).body;
  EXPECT_NE(f.find("\"type\":\"retained\""), std::string::npos);
  EXPECT_LT(f.find("\"id\":\"r3\""), f.find("\"type\":\"synced\""));
  auto ev = Events(c.response(resumed).body);
  EXPECT_EQ(ev[0].first, 2u);
  EXPECT_EQ(ev[1].first, 3u);
}

TEST(Http2Test, AStreamWhoseReaderStopsIsDemotedWithoutHoldingUpItsNeighbour) {
  // Output limit 64 KiB: a stream with more than that unframed is behind
  // and catches up from the log once its reader reads again.
  ServerProcess s;
  s.WriteFile("server.yaml", "limits:\n  output_bytes: 65536\n");
  const int port = s.Start({"--config", s.dir() + "/server.yaml"});
  ASSERT_GT(port, 0) << s.log();
  // Stream windows of 16 KiB, given back only when the test says.
  H2Client c(port, 16 << 10, /*auto_window=*/false);
  const int32_t slow = c.Submit("GET", kTable, {{"accept", "text/event-stream"}});
  const int32_t fast =
      c.Submit("GET", std::string(kTable) + "?b", {{"accept", "text/event-stream"}});
  ASSERT_TRUE(c.RunUntil([&] {
    return c.response(slow).body.find("connected") != std::string::npos &&
           c.response(fast).body.find("connected") != std::string::npos;
  }));
  c.Consume(slow, c.response(slow).body.size());
  // 200 records of 2 KiB on an HTTP/1.1 connection: 400 KiB of events, far
  // past the slow stream's window and the output limit.
  const std::string big(2048, 'z');
  Client w(port);
  size_t fast_seen = 0;
  for (int i = 1; i <= 200; ++i) {
    ASSERT_EQ(w.Call("POST", kTable, Record("k" + std::to_string(i), big),
                     {"Content-Type: application/json"})
                  .status,
              201);
    // Read what came, and give the fast stream's window back.
    c.RunUntil([] { return false; }, std::chrono::milliseconds(1));
    const size_t now = c.response(fast).body.size();
    c.Consume(fast, now - fast_seen);
    fast_seen = now;
  }
  ASSERT_TRUE(c.RunUntil([&] {
    const size_t now = c.response(fast).body.size();
    c.Consume(fast, now - fast_seen);
    fast_seen = now;
    return Events(c.response(fast).body).size() == 200;
  })) << "the fast stream got "
      << Events(c.response(fast).body).size();
  EXPECT_LT(c.response(slow).body.size(), size_t{20} << 10) << "the slow window held";
  EXPECT_FALSE(c.response(slow).closed) << "demoted, not dropped";
  // The slow reader reads again: every event, in order, from the log.
  size_t slow_seen = c.response(slow).body.size();
  c.Consume(slow, slow_seen);
  ASSERT_TRUE(c.RunUntil(
      [&] {
        const size_t now = c.response(slow).body.size();
        c.Consume(slow, now - slow_seen);
        slow_seen = now;
        return Events(c.response(slow).body).size() >= 200;
      },
      std::chrono::seconds(20)))
      << Events(c.response(slow).body).size();
  auto ev = Events(c.response(slow).body);
  ASSERT_EQ(ev.size(), 200u);
  for (size_t i = 0; i < ev.size(); ++i) EXPECT_EQ(ev[i].first, i + 1) << "no gap, no repeat";
}

TEST(Http2Test, MalformedFramesEndOnlyTheirConnection) {
  ServerProcess s;
  const int port = s.Start();
  ASSERT_GT(port, 0) << s.log();
  H2Client good(port);
  const int32_t sse = good.Submit("GET", kTable, {{"accept", "text/event-stream"}});
  ASSERT_TRUE(good.RunUntil(
      [&] { return good.response(sse).body.find("connected") != std::string::npos; }));
  // The preface, then a DATA frame on stream 0: a connection error.
  Client bad(port);
  ASSERT_TRUE(bad.SendRaw(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") +
                          std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9) +
                          std::string("\x00\x00\x04\x00\x00\x00\x00\x00\x00"
                                      "abcd",
                                      13)));
  EXPECT_TRUE(bad.ClosedByPeer()) << "GOAWAY, then the close";
  // Garbage that is neither protocol is an HTTP/1.1 error.
  Client junk(port);
  ASSERT_TRUE(junk.SendRaw("\x16\x03\x01 not http\r\n\r\n"));
  EXPECT_TRUE(junk.ClosedByPeer());
  // The other connection's stream goes on.
  ASSERT_EQ(s.Call("POST", kTable, Record("after"), {"Content-Type: application/json"}).status,
            201);
  ASSERT_TRUE(good.RunUntil([&] { return Events(good.response(sse).body).size() == 1; }));
}

TEST(Http2Test, AnOversizedHeaderListIs431OnItsStream) {
  ServerProcess s;
  const int port = s.Start();
  ASSERT_GT(port, 0) << s.log();
  H2Client c(port);
  const int32_t big = c.Submit("GET", "/healthz", {{"x-big", std::string(20000, 'h')}});
  EXPECT_EQ(c.Wait(big).status, 431);
  const int32_t ok = c.Submit("GET", "/healthz");
  EXPECT_EQ(c.Wait(ok).status, 200) << "the connection goes on";
}

TEST(Http2Test, WebSocketPathsOverH2AnswerUpgradeRequired) {
  ServerProcess s;
  const int port = s.Start();
  ASSERT_GT(port, 0) << s.log();
  H2Client c(port);
  const int32_t ws = c.Submit("GET", "/api/v1/realtime/ws");  // SnackBase's WebSocket endpoint
  const H2Client::Response& r = c.Wait(ws);
  EXPECT_TRUE(r.status == 426 || r.status == 404) << r.status << " " << r.body;
}

TEST(Http2Test, GracefulShutdownSaysGoodbyeThenGoaway) {
  ServerProcess s;
  const int port = s.Start();
  ASSERT_GT(port, 0) << s.log();
  H2Client c(port);
  const int32_t sse = c.Submit("GET", kTable, {{"accept", "text/event-stream"}});
  ASSERT_TRUE(
      c.RunUntil([&] { return c.response(sse).body.find("connected") != std::string::npos; }));
  const size_t before = c.response(sse).body.size();
  ::kill(s.pid(), SIGTERM);
  ASSERT_TRUE(c.RunUntil([&] { return c.eof(); }));
  EXPECT_TRUE(c.goaway());
  EXPECT_NE(c.response(sse).body.substr(before).find("retry:"), std::string::npos);
  EXPECT_TRUE(c.response(sse).ended);
  EXPECT_EQ(s.Wait(), 0);
}

TEST(Http2Test, KillNineAndResumeOverH2) {
  ServerProcess s;
  int port = s.Start();
  ASSERT_GT(port, 0) << s.log();
  std::vector<uint64_t> acked;
  auto write = [&](int i) {
    HttpResponse r =
        s.Call("POST", kTable, Record("p" + std::to_string(i)), {"Content-Type: application/json"});
    ASSERT_EQ(r.status, 201);
    acked.push_back(std::stoull(r.Header("event-position")));
  };
  std::vector<std::pair<uint64_t, std::string>> got;
  {
    H2Client c(port);
    const int32_t sse = c.Submit("GET", kTable, {{"accept", "text/event-stream"}});
    ASSERT_TRUE(
        c.RunUntil([&] { return c.response(sse).body.find("connected") != std::string::npos; }));
    for (int i = 1; i <= 5; ++i) write(i);
    ASSERT_TRUE(c.RunUntil([&] { return Events(c.response(sse).body).size() == 5; }));
    got = Events(c.response(sse).body);
    s.Kill9();
    EXPECT_TRUE(c.RunUntil([&] { return c.eof(); }));
  }
  port = s.Start({"--listen", "127.0.0.1:" + std::to_string(port)});
  ASSERT_GT(port, 0) << s.log();
  for (int i = 6; i <= 8; ++i) write(i);  // written while the client is away
  H2Client c(port);
  const int32_t sse = c.Submit(
      "GET", kTable,
      {{"accept", "text/event-stream"}, {"last-event-id", std::to_string(got.back().first)}});
  for (int i = 9; i <= 10; ++i) write(i);
  ASSERT_TRUE(c.RunUntil([&] { return Events(c.response(sse).body).size() == 5; }))
      << c.response(sse).body;
  for (auto& e : Events(c.response(sse).body)) got.push_back(e);
  ASSERT_EQ(got.size(), acked.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i].first, acked[i]) << "exactly once, in order";
}

}  // namespace
}  // namespace eventide::testing
