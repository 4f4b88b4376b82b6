// eventide-load against the real server: it completes requests, its status
// histogram matches what the server stored, and it reports errors it sees;
// its fanout mode sees every acknowledged write on every subscriber (also
// with the cluster options --write-url and several --url, and with the
// subscribers as HTTP/2 streams sharing connections), its idle mode
// holds connections open through the server's pings, and its catchup mode
// waits for the read node's /healthz with --write-url.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <string>

#include "tests/server/harness.h"

namespace eventide::testing {
namespace {

// Runs `eventide-load <mode> --json <args>`; *exit_code gets its status.
rapidjson::Document RunMode(const std::string& mode, const std::string& args,
                            int* exit_code = nullptr) {
  int code = -1;
  std::string out =
      RunCommand(std::string(EVENTIDE_LOAD_BIN) + " " + mode + " --json " + args, &code);
  if (exit_code) *exit_code = code;
  rapidjson::Document d;
  d.Parse(out.c_str());
  EXPECT_FALSE(d.HasParseError()) << out;
  return d;
}

rapidjson::Document RunLoad(const std::string& args) { return RunMode("rest", args); }

// Every subscriber received every acknowledged write once, in order.
void ExpectCleanFanout(const rapidjson::Document& d, uint64_t subscribers) {
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["subscribers"].GetUint64(), subscribers);
  EXPECT_EQ(d["connected"].GetUint64(), subscribers);
  EXPECT_EQ(d["connect_failures"].GetUint64(), 0u);
  EXPECT_EQ(d["disconnects"].GetUint64(), 0u);
  EXPECT_EQ(d["write_errors"].GetUint64(), 0u);
  const uint64_t acked = d["acked_writes"].GetUint64();
  EXPECT_GT(acked, 0u);
  EXPECT_EQ(d["writes_sent"].GetUint64(), acked);
  EXPECT_EQ(d["missing"].GetUint64(), 0u);
  EXPECT_EQ(d["duplicates"].GetUint64(), 0u);
  EXPECT_EQ(d["out_of_order"].GetUint64(), 0u);
  EXPECT_EQ(d["subscribers_missing"].GetUint64(), 0u);
  // Nothing else writes to the table: each subscriber got exactly the acked writes.
  EXPECT_EQ(d["deliveries"].GetUint64(), subscribers * acked);
  EXPECT_EQ(d["expected_deliveries"].GetUint64(), subscribers * acked);
  EXPECT_GT(d["deliveries_per_second"].GetDouble(), 0);
  EXPECT_GE(d["latency_ms"]["p99"].GetDouble(), d["latency_ms"]["p50"].GetDouble());
  EXPECT_GE(d["latency_ms"]["max"].GetDouble(), d["latency_ms"]["p999"].GetDouble());
  EXPECT_EQ(d["errors"].MemberCount(), 0u);
}

TEST(EventideLoadTest, RestCreatesOverPipelinedConnections) {
  ServerProcess server;
  ASSERT_GT(server.Start({"--fsync", "never"}), 0) << server.log();
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/realtime-demo/message";
  rapidjson::Document d = RunLoad("--url " + url +
                                  " -c 4 -p 4 -n 2000 --body '{\"id\":\"k{seq}\",\"title\":\"t\","
                                  "\"content\":\"from {conn}\"}'");
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["requests"].GetUint64(), 2000u);
  ASSERT_TRUE(d["status"].HasMember("201"));
  EXPECT_EQ(d["status"]["201"].GetUint64(), 2000u);
  EXPECT_EQ(d["errors"].MemberCount(), 0u);
  EXPECT_GT(d["requests_per_second"].GetDouble(), 0);
  EXPECT_GE(d["latency_ms"]["p99"].GetDouble(), d["latency_ms"]["p50"].GetDouble());
  // Every {seq} was distinct: the server holds all of them.
  HttpResponse r = server.Call("GET", "/realtime-demo/message/k1");
  EXPECT_EQ(r.status, 200);
  r = server.Call("GET", "/realtime-demo/message/k2000");
  EXPECT_EQ(r.status, 200);
  // A second run with the same ids: every create is a conflict, and says so.
  d = RunLoad("--url " + url +
              " -c 2 -n 50 --body '{\"id\":\"k{seq}\",\"title\":\"t\",\"content\":\"c\"}'");
  EXPECT_EQ(d["status"]["409"].GetUint64(), 50u);
}

TEST(EventideLoadTest, HttpsAndAnUnreachableServer) {
  ServerProcess server;
  ASSERT_GT(server.Start({"--tls", "auto", "--fsync", "never"}), 0) << server.log();
  std::string url = "https://localhost:" + std::to_string(server.port()) + "/realtime-demo/message";
  rapidjson::Document d =
      RunLoad("--url " + url + " --cacert " + server.data_dir() + "/tls/cert.pem -c 2 -n 200");
  EXPECT_EQ(d["status"]["201"].GetUint64(), 200u);
  server.Kill9();
  d = RunLoad("--url " + url + " -c 1 -d 300ms");
  EXPECT_EQ(d["requests"].GetUint64(), 0u);
  EXPECT_GT(d["errors"]["connect"].GetUint64(), 0u);
}

TEST(EventideLoadTest, FanoutDeliversEveryAckedWriteToSseAndWsSubscribers) {
  ServerProcess server;
  ASSERT_GT(server.Start(), 0) << server.log();
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/realtime-demo/message";
  for (const char* protocol : {"sse", "ws"}) {
    SCOPED_TRACE(protocol);
    int code = -1;
    rapidjson::Document d = RunMode("fanout",
                                    "--url " + url + " --protocol " + protocol +
                                        " --subscribers 20 --rate 200 --duration 2s --warmup 200ms",
                                    &code);
    ExpectCleanFanout(d, 20);
    EXPECT_EQ(std::string(d["protocol"].GetString()), protocol);
    EXPECT_EQ(code, 0);
  }
}

TEST(EventideLoadTest, FanoutOverHttp2DeliversEveryAckedWriteOnSharedConnections) {
  // 20 SSE subscribers as HTTP/2 streams on 2 connections (h2c, prior
  // knowledge): every one gets every acknowledged write, once, in order, and
  // the server saw exactly 2 HTTP/2 connections carrying 20 event streams.
  // A small window: this test is of the load tool (the next one is of the
  // server's output above its high-water mark).
  ServerProcess server;
  ASSERT_GT(server.Start(), 0) << server.log();
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/realtime-demo/message";
  int code = -1;
  rapidjson::Document d =
      RunMode("fanout",
              "--url " + url +
                  " --http2 --h2-connections 2 --h2-window-bytes 65536 --subscribers 20"
                  " --rate 200 --duration 1s --warmup 200ms",
              &code);
  ExpectCleanFanout(d, 20);
  EXPECT_EQ(std::string(d["transport"].GetString()), "h2");
  EXPECT_EQ(d["h2_connections"].GetInt(), 2);
  EXPECT_EQ(code, 0);
  const std::string m = server.Call("GET", "/metrics").body;
  EXPECT_NE(m.find("eventide_protocol_connections_total{protocol=\"h2\"} 2\n"), std::string::npos)
      << m;
  EXPECT_NE(m.find("eventide_h2_event_streams_total 20\n"), std::string::npos) << m;
  // WebSocket has no HTTP/2 form here (no extended CONNECT): refused as usage.
  RunCommand(std::string(EVENTIDE_LOAD_BIN) + " fanout --http2 --protocol ws --url " + url +
                 " 2>/dev/null",
             &code);
  EXPECT_EQ(code, 2);
}

TEST(EventideLoadTest, FanoutOverHttp2PastTheServersHighWaterMarkLosesNothing) {
  // 100 streams of 10 KB events on one connection with a browser's window:
  // the server's output passes its 256 KiB high-water mark and frames wait;
  // they must go out as soon as the socket took the earlier bytes. (They once
  // waited for the next unrelated wake-up, up to the 15 s SSE heartbeat, and
  // the run ended with events missing.)
  ServerProcess server;
  ASSERT_GT(server.Start(), 0) << server.log();
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/realtime-demo/message";
  int code = -1;
  rapidjson::Document d = RunMode("fanout",
                                  "--url " + url +
                                      " --http2 --h2-connections 1 --subscribers 100 --rate 100"
                                      " --duration 2s --warmup 0s --payload-bytes 10000",
                                  &code);
  ExpectCleanFanout(d, 100);
  EXPECT_EQ(code, 0);
}

TEST(EventideLoadTest, FanoutTakesAWriteUrlAndSeveralSubscriberUrls) {
  // The cluster options on one node: --write-url equal to --url, and the
  // same server given twice as --url, so subscribers alternate between two
  // endpoints that are one node. Every subscriber still gets every write.
  ServerProcess server;
  ASSERT_GT(server.Start(), 0) << server.log();
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/realtime-demo/message";
  for (const char* protocol : {"sse", "ws"}) {
    SCOPED_TRACE(protocol);
    int code = -1;
    rapidjson::Document d =
        RunMode("fanout",
                "--url " + url + " --url " + url + " --write-url " + url + " --protocol " +
                    protocol + " --subscribers 9 --rate 200 --duration 1s --warmup 200ms",
                &code);
    ExpectCleanFanout(d, 9);
    ASSERT_TRUE(d["urls"].IsArray());
    ASSERT_EQ(d["urls"].Size(), 2u);
    EXPECT_EQ(std::string(d["urls"][0].GetString()), url);
    EXPECT_EQ(std::string(d["urls"][1].GetString()), url);
    EXPECT_EQ(std::string(d["write_url"].GetString()), url);
    EXPECT_EQ(code, 0);
  }
  // Nchan runs and idle keep to one --url.
  int code = -1;
  RunCommand(
      std::string(EVENTIDE_LOAD_BIN) + " idle --url " + url + " --url " + url + " 2>/dev/null",
      &code);
  EXPECT_EQ(code, 2);
}

TEST(EventideLoadTest, CatchupWaitsForTheReadNodeToApplyTheWrites) {
  // --write-url on one node: the wait for /healthz to show the last
  // position is immediate, and reported apart from the catch-up.
  ServerProcess server;
  ASSERT_GT(server.Start({"--fsync", "never"}), 0) << server.log();
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/realtime-demo/message";
  int code = -1;
  rapidjson::Document d =
      RunMode("catchup", "--url " + url + " --write-url " + url + " --entries 2000", &code);
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["entries"].GetUint64(), 2000u);
  EXPECT_EQ(d["received"].GetUint64(), 2000u);
  EXPECT_EQ(d["out_of_order"].GetUint64(), 0u);
  EXPECT_GE(d["replicate_ms"].GetDouble(), 0);
  EXPECT_GE(d["last_position"].GetUint64(), 2000u);
  const std::string node = "127.0.0.1:" + std::to_string(server.port());
  EXPECT_EQ(std::string(d["write_node"].GetString()), node);
  EXPECT_EQ(std::string(d["read_node"].GetString()), node);
  EXPECT_EQ(code, 0);
  // Without --write-url there is no wait, and no key for it.
  d = RunMode("catchup", "--url " + url + " --entries 100", &code);
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["received"].GetUint64(), 100u);
  EXPECT_FALSE(d.HasMember("replicate_ms"));
  EXPECT_EQ(d["read_after_ms"].GetDouble(), 0);
  EXPECT_EQ(code, 0);
  // --read-after: the subscriber connects after the pause.
  const auto before = std::chrono::steady_clock::now();
  d = RunMode("catchup", "--url " + url + " --entries 100 --read-after 300ms", &code);
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["received"].GetUint64(), 100u);
  EXPECT_EQ(d["read_after_ms"].GetDouble(), 300);
  EXPECT_GE(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(300));
  EXPECT_EQ(code, 0);
  RunCommand(
      std::string(EVENTIDE_LOAD_BIN) + " catchup --url " + url + " --read-after soon 2>/dev/null",
      &code);
  EXPECT_EQ(code, 2);
}

TEST(EventideLoadTest, FanoutParsesEventsLargerThanOneRead) {
  // 70,000-byte records: WebSocket frames with a 64-bit length, SSE lines
  // spanning several reads.
  ServerProcess server;
  ASSERT_GT(server.Start(), 0) << server.log();
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/realtime-demo/message";
  for (const char* protocol : {"sse", "ws"}) {
    SCOPED_TRACE(protocol);
    int code = -1;
    rapidjson::Document d = RunMode("fanout",
                                    "--url " + url + " --protocol " + protocol +
                                        " --subscribers 5 --rate 50 --duration 1s --warmup 0s"
                                        " --payload-bytes 70000",
                                    &code);
    ExpectCleanFanout(d, 5);
    EXPECT_EQ(code, 0);
  }
}

TEST(EventideLoadTest, FanoutCountsSubscribersThatCannotConnect) {
  ServerProcess server;
  ASSERT_GT(server.Start(), 0) << server.log();
  // A table that does not exist: every subscription is refused (404).
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/realtime-demo/nope";
  int code = -1;
  rapidjson::Document d =
      RunMode("fanout", "--url " + url + " --subscribers 5 --rate 50 --duration 200ms", &code);
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["connect_failures"].GetUint64(), 5u);
  EXPECT_EQ(d["connected"].GetUint64(), 0u);
  EXPECT_NE(code, 0);
}

TEST(EventideLoadTest, IdleHoldsConnectionsAndReadsServerRss) {
  ServerProcess server;
  ASSERT_GT(server.Start(), 0) << server.log();
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/realtime-demo/message";
  for (const char* protocol : {"sse", "ws"}) {
    SCOPED_TRACE(protocol);
    int code = -1;
    rapidjson::Document d =
        RunMode("idle",
                "--url " + url + " --protocol " + protocol +
                    " --connections 50 --hold 1s --server-pid " + std::to_string(server.pid()),
                &code);
    ASSERT_TRUE(d.IsObject());
    EXPECT_EQ(d["connections"].GetUint64(), 50u);
    EXPECT_EQ(d["connected"].GetUint64(), 50u);
    EXPECT_EQ(d["connect_failures"].GetUint64(), 0u);
    EXPECT_EQ(d["disconnects"].GetUint64(), 0u);
    EXPECT_GT(d["rss_before_bytes"].GetInt64(), 0);
    EXPECT_GT(d["rss_connected_bytes"].GetInt64(), 0);
    EXPECT_TRUE(d.HasMember("rss_per_connection_bytes"));
    EXPECT_GE(d["hold_seconds"].GetDouble(), 1.0);
    EXPECT_EQ(code, 0);
  }
}

}  // namespace
}  // namespace eventide::testing
