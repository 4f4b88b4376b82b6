// eventide-load against the real server: it completes requests, its status
// histogram matches what the server stored, and it reports errors it sees.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

#include "tests/server/harness.h"

namespace eventide::testing {
namespace {

rapidjson::Document RunLoad(const std::string& args) {
  int code = -1;
  std::string out = RunCommand(std::string(EVENTIDE_LOAD_BIN) + " rest --json " + args, &code);
  rapidjson::Document d;
  d.Parse(out.c_str());
  EXPECT_FALSE(d.HasParseError()) << out;
  return d;
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

}  // namespace
}  // namespace eventide::testing
