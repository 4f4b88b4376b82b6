// Several Eventide nodes on one JetStream stream, all real processes on
// 127.0.0.1: a 3-node nats-server cluster (R3) and two or three `eventide
// serve --log jetstream` nodes (docs/CLUSTER.md).
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "tests/cluster/cluster_helpers.h"

namespace eventide::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(nats_.Start()) << nats_.logs();
    ASSERT_GT(a_.Start(NodeFlags(nats_, "A")), 0) << a_.log();
    ASSERT_GT(b_.Start(NodeFlags(nats_, "B")), 0) << b_.log();
  }
  NatsCluster nats_{3};
  ServerProcess a_, b_;
};

std::string Title(const std::string& body) {
  static const std::regex kTitle(R"re("title":"([^"]*)")re");
  std::smatch m;
  return std::regex_search(body, m, kTitle) ? std::string(m[1]) : std::string();
}

TEST_F(ClusterTest, WritesOnOneNodeReachTheOthersStreamsAtTheSamePositions) {
  SseConn sse(b_.port(), kTable + "?stream=sse");
  WsConn ws(b_.port(), kTable);
  ASSERT_TRUE(ws.upgraded());
  ASSERT_NE(ws.NextText().find("subscribed"), std::string::npos);
  std::vector<uint64_t> acked;
  for (int i = 0; i < 40; ++i) {
    ServerProcess& node = i % 2 == 0 ? a_ : b_;
    const std::string id = "m" + std::to_string(i % 7);
    Ack a = i % 5 == 4
                ? Write(node.port(), "DELETE", kTable + "/" + id, "")
                : Write(node.port(), "PUT", kTable + "/" + id, Record(id, "t" + std::to_string(i)));
    if (a.status == 404) continue;  // deleted already
    ASSERT_TRUE(a.status == 200 || a.status == 201) << a.status << " " << a.body;
    acked.push_back(a.position);
  }
  ASSERT_FALSE(acked.empty());
  // Positions are the stream's sequence: one per write, from 1, no gap.
  std::vector<uint64_t> sorted = acked;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], i + 1);
  const uint64_t last = sorted.back();
  ASSERT_TRUE(sse.WaitFor([&](const auto& ev) {
    auto p = EventPositions(ev);
    return !p.empty() && p.back() == last;
  }));
  EXPECT_EQ(EventPositions(sse.events()), sorted);  // every write, once, in order
  std::vector<uint64_t> ws_seq;
  static const std::regex kSeq(R"re("seq":(\d+))re");
  while (ws_seq.size() < sorted.size()) {
    const std::string t = ws.NextText();
    ASSERT_FALSE(t.empty()) << "WebSocket got " << ws_seq.size() << " of " << sorted.size();
    std::smatch m;
    if (std::regex_search(t, m, kSeq)) ws_seq.push_back(std::stoull(m[1]));
  }
  EXPECT_EQ(ws_seq, sorted);
  ASSERT_TRUE(WaitApplied(a_.port(), last, seconds(10)));
  EXPECT_EQ(a_.Call("GET", kTable).body, b_.Call("GET", kTable).body);
  // Both local copies hold the same entries at the same positions.
  ASSERT_EQ(a_.Terminate(), 0);
  ASSERT_EQ(b_.Terminate(), 0);
  const std::string da = Dump(a_.data_dir()), db = Dump(b_.data_dir());
  EXPECT_EQ(da, db);
  EXPECT_EQ(static_cast<size_t>(std::count(da.begin(), da.end(), '\n')), sorted.size());
}

TEST_F(ClusterTest, ConcurrentWritesToTheSameRecordsLoseNothing) {
  struct Done {
    uint64_t position;
    std::string id, title;
  };
  std::mutex mu;
  std::vector<Done> done;
  auto writer = [&](ServerProcess* node, const std::string& name) {
    for (int i = 0; i < 120; ++i) {
      const std::string id = "r" + std::to_string(i % 4);
      const std::string title = name + std::to_string(i);
      Ack a = i % 3 == 2 ? Write(node->port(), "PATCH", kTable + "/" + id,
                                 R"({"title":")" + title + R"("})")
                         : Write(node->port(), "PUT", kTable + "/" + id, Record(id, title));
      if (a.status == 404) continue;  // a PATCH before the first PUT
      ASSERT_TRUE(a.position > 0) << a.status << " " << a.body;
      std::lock_guard<std::mutex> l(mu);
      done.push_back({a.position, id, title});
    }
  };
  std::thread ta(writer, &a_, "A"), tb(writer, &b_, "B");
  ta.join();
  tb.join();
  // Creates of one id on both nodes at once: one wins, the other is told.
  for (int j = 0; j < 20; ++j) {
    const std::string id = "race" + std::to_string(j);
    Ack ra, rb;
    std::thread x([&] { ra = Write(a_.port(), "POST", kTable, Record(id, "A")); });
    std::thread y([&] { rb = Write(b_.port(), "POST", kTable, Record(id, "B")); });
    x.join();
    y.join();
    EXPECT_EQ((ra.status == 201) + (rb.status == 201), 1) << ra.body << " / " << rb.body;
    EXPECT_EQ((ra.status == 409) + (rb.status == 409), 1) << ra.body << " / " << rb.body;
    if (ra.status == 201) done.push_back({ra.position, id, "A"});
    if (rb.status == 201) done.push_back({rb.position, id, "B"});
  }
  std::set<uint64_t> positions;
  uint64_t last = 0;
  std::map<std::string, Done> newest;
  for (const Done& d : done) {
    EXPECT_TRUE(positions.insert(d.position).second) << "position " << d.position << " twice";
    last = std::max(last, d.position);
    auto it = newest.find(d.id);
    if (it == newest.end() || it->second.position < d.position) newest[d.id] = d;
  }
  ASSERT_TRUE(WaitApplied(a_.port(), last, seconds(10)));
  ASSERT_TRUE(WaitApplied(b_.port(), last, seconds(10)));
  // Every acknowledged write is the final state or was superseded by a
  // later position: the final state of each record is its newest ack.
  for (const auto& [id, d] : newest) {
    for (ServerProcess* node : {&a_, &b_}) {
      HttpResponse r = node->Call("GET", kTable + "/" + id);
      ASSERT_EQ(r.status, 200) << id;
      EXPECT_EQ(Title(r.body), d.title) << id << " at " << d.position;
    }
  }
  // A PATCH that lost its race was merged into the newer state, never over
  // a stale copy: each acked entry's other fields come from the log.
  HttpResponse m = a_.Call("GET", "/metrics");
  EXPECT_NE(m.body.find("eventide_write_conflicts_total"), std::string::npos);
}

TEST_F(ClusterTest, AStreamMovesToAnotherNodeWithLastEventIdAndMissesNothing) {
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<uint64_t> acked;
  std::thread writer([&] {
    for (int i = 0; !stop && i < 400; ++i) {
      Ack a = Write(b_.port(), "PUT", kTable + "/k" + std::to_string(i % 9),
                    Record("k" + std::to_string(i % 9), "v" + std::to_string(i)));
      if (a.position > 0) {
        std::lock_guard<std::mutex> l(mu);
        acked.push_back(a.position);
      }
      std::this_thread::sleep_for(milliseconds(2));
    }
  });
  std::vector<uint64_t> got;
  {
    SseConn sse(a_.port(), kTable + "?stream=sse");
    ASSERT_TRUE(sse.WaitFor([](const auto& ev) { return EventPositions(ev).size() >= 30; }));
    a_.Kill9();
    sse.Drain(milliseconds(300));
    got = EventPositions(sse.events());
  }
  ASSERT_FALSE(got.empty());
  // The EventSource reconnects to B with its last id.
  SseConn moved(b_.port(), kTable + "?stream=sse",
                {"Last-Event-ID: " + std::to_string(got.back())});
  std::this_thread::sleep_for(milliseconds(500));
  stop = true;
  writer.join();
  const uint64_t last = *std::max_element(acked.begin(), acked.end());
  ASSERT_TRUE(moved.WaitFor([&](const auto& ev) {
    auto p = EventPositions(ev);
    return !p.empty() && p.back() >= last;
  })) << "B's stream ended at "
      << EventPositions(moved.events()).size();
  for (uint64_t p : EventPositions(moved.events())) got.push_back(p);
  // Every acknowledged position received exactly once, in order.
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], i + 1) << "at " << i;
  // The killed node comes back and catches up.
  ASSERT_GT(a_.Start(NodeFlags(nats_, "A")), 0) << a_.log();
  EXPECT_TRUE(WaitApplied(a_.port(), last, seconds(20)));
  EXPECT_EQ(a_.Call("GET", kTable).body, b_.Call("GET", kTable).body);
}

TEST_F(ClusterTest, ANatsNodeKilledDuringWritesCostsNoAcknowledgedWrite) {
  SseConn sse(b_.port(), kTable + "?stream=sse");
  ASSERT_TRUE(sse.WaitFor([](const auto& ev) { return !ev.empty(); }));
  std::vector<uint64_t> acked;
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    if (i == 60) nats_.Kill9(0);
    if (i == 160) {
      ASSERT_TRUE(nats_.Restart(0));
      // A rolling restart: the next server goes only once this one has caught
      // up; with two of three replicas behind, R3 has no quorum to ack with.
      ASSERT_TRUE(nats_.WaitStreamCurrent("EVENTIDE")) << nats_.logs();
    }
    if (i == 200) nats_.Kill9(1);
    Ack a = Write(a_.port(), "PUT", kTable + "/n" + std::to_string(i % 11),
                  Record("n" + std::to_string(i % 11), std::to_string(i)));
    if (a.position > 0) {
      acked.push_back(a.position);
    } else {
      ++refused;
      ADD_FAILURE() << "write " << i << ": " << a.status << " " << a.body;
    }
  }
  // R3 with one server down keeps a quorum: every write was taken.
  EXPECT_EQ(refused, 0);
  ASSERT_FALSE(acked.empty());
  const uint64_t last = acked.back();
  ASSERT_TRUE(sse.WaitFor(
      [&](const auto& ev) {
        auto p = EventPositions(ev);
        return !p.empty() && p.back() >= last;
      },
      seconds(30)));
  std::vector<uint64_t> got = EventPositions(sse.events());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], i + 1) << "at " << i;
  std::set<uint64_t> seen(got.begin(), got.end());
  for (uint64_t p : acked) EXPECT_TRUE(seen.count(p)) << p;
}

// ---- Bad configuration: clear start-up errors ----

TEST(ClusterConfigTest, NoNatsReachable) {
  ServerProcess node;
  const int closed = FreePort();
  EXPECT_EQ(
      node.Start({"--log", "jetstream", "--nats", "nats://127.0.0.1:" + std::to_string(closed)}),
      0);
  EXPECT_NE(node.log().find("cannot connect to NATS at nats://127.0.0.1:"), std::string::npos)
      << node.log();
  ServerProcess none;
  EXPECT_EQ(none.Start({"--log", "jetstream"}), 0);
  EXPECT_NE(none.log().find("--log jetstream needs --nats"), std::string::npos) << none.log();
  ServerProcess bad;
  EXPECT_EQ(bad.Start({"--log", "kafka"}), 0);
  EXPECT_NE(bad.log().find("--log must be wal or jetstream"), std::string::npos) << bad.log();
}

TEST(ClusterConfigTest, NatsWithoutJetStream) {
  NatsCluster plain(1, /*jetstream=*/false);
  ASSERT_TRUE(plain.Start());
  ServerProcess node;
  EXPECT_EQ(node.Start({"--log", "jetstream", "--nats", plain.url(0), "--replicas", "1"}), 0);
  EXPECT_NE(node.log().find("JetStream does not answer"), std::string::npos) << node.log();
}

TEST(ClusterConfigTest, AStreamWithOtherSubjectsOrReplicasIsRefused) {
  NatsCluster nats(1);
  ASSERT_TRUE(nats.Start());
  // Another application's stream, made with the C client.
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats.url(0).c_str()), NATS_OK);
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = "ORDERS";
  const char* subjects[] = {"orders.>"};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  jsStreamInfo* si = nullptr;
  ASSERT_EQ(js_AddStream(&si, js, &cfg, nullptr, nullptr), NATS_OK);
  jsStreamInfo_Destroy(si);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);

  ServerProcess other;
  EXPECT_EQ(other.Start({"--log", "jetstream", "--nats", nats.url(0), "--replicas", "1", "--stream",
                         "ORDERS"}),
            0);
  EXPECT_NE(other.log().find("has subjects [orders.>]; Eventide needs a stream of its own"),
            std::string::npos)
      << other.log();

  ServerProcess r1;
  ASSERT_GT(r1.Start({"--log", "jetstream", "--nats", nats.url(0), "--replicas", "1"}), 0)
      << r1.log();
  ASSERT_EQ(r1.Terminate(), 0);
  ServerProcess r3;
  EXPECT_EQ(r3.Start({"--log", "jetstream", "--nats", nats.url(0), "--replicas", "3"}), 0);
  EXPECT_NE(r3.log().find("has 1 replica(s) but --replicas is 3"), std::string::npos) << r3.log();
  // R3 on a single server cannot be made at all.
  ServerProcess big;
  EXPECT_EQ(big.Start({"--log", "jetstream", "--nats", nats.url(0), "--replicas", "3", "--stream",
                       "BIG"}),
            0);
  EXPECT_NE(big.log().find("cannot create JetStream stream BIG with 3 replica(s)"),
            std::string::npos)
      << big.log();
}

TEST(ClusterConfigTest, ALocalLogFromAnotherStreamIsRefused) {
  NatsCluster nats(1);
  ASSERT_TRUE(nats.Start());
  ServerProcess node;
  ASSERT_GT(node.Start(), 0);  // the embedded WAL: positions of its own
  ASSERT_EQ(Write(node.port(), "PUT", kTable + "/x", Record("x", "t")).position, 1u);
  ASSERT_EQ(node.Terminate(), 0);
  EXPECT_EQ(node.Start({"--log", "jetstream", "--nats", nats.url(0), "--replicas", "1"}), 0);
  EXPECT_NE(node.log().find("the local log is not a copy of this stream"), std::string::npos)
      << node.log();
}

}  // namespace
}  // namespace eventide::testing
