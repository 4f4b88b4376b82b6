// The cluster crash loop: at least 100 rounds of kill -9, of a NATS server
// or an Eventide node, while two writers (one per node) write and an
// EventSource-like subscriber follows the table, moving to a live node with
// Last-Event-ID whenever its node dies. Counted like the single-node crash
// test: acknowledged writes, lost (acknowledged but not in the log at its
// position), gaps and duplicates in what the subscriber received.
// EVENTIDE_CLUSTER_ROUNDS overrides the round count.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "tests/cluster/cluster_helpers.h"

namespace eventide::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Written {
  std::string id, title;
};

TEST(ClusterCrashLoopTest, KillNineAcrossNatsAndEventideNodes) {
  int rounds = 100;
  if (const char* r = std::getenv("EVENTIDE_CLUSTER_ROUNDS")) rounds = std::max(1, std::atoi(r));
  NatsCluster nats(3);
  ASSERT_TRUE(nats.Start()) << nats.logs();
  ServerProcess nodes[2];
  const char* names[2] = {"A", "B"};
  std::atomic<int> ports[2];
  for (int i = 0; i < 2; ++i) {
    ports[i] = nodes[i].Start(NodeFlags(nats, names[i]));
    ASSERT_GT(ports[i].load(), 0) << nodes[i].log();
  }

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<uint64_t, Written> acked;
  uint64_t duplicate_acks = 0;
  auto writer = [&](int w) {
    for (uint64_t seq = 0; !stop; ++seq) {
      const int port = ports[w].load();
      if (port == 0) {
        std::this_thread::sleep_for(milliseconds(5));
        continue;
      }
      const std::string id = "k" + std::to_string(seq % 40);
      const std::string title = std::string(names[w]) + std::to_string(seq);
      Ack a = Write(port, "PUT", kTable + "/" + id, Record(id, title));
      if (a.position == 0) {
        std::this_thread::sleep_for(milliseconds(5));
        continue;
      }
      std::lock_guard<std::mutex> l(mu);
      if (!acked.emplace(a.position, Written{id, title}).second) ++duplicate_acks;
    }
  };

  // The subscriber: every position from 1, exactly once, in order.
  uint64_t last = 0, gaps = 0, duplicates = 0, moves = 0, resets = 0;
  std::atomic<uint64_t> target{~0ull};  // set once the nodes converged
  std::thread subscriber([&] {
    const auto give_up = [&] {
      static const auto start = std::chrono::steady_clock::now();
      return std::chrono::steady_clock::now() - start > std::chrono::minutes(15);
    };
    int at = 0;
    std::unique_ptr<SseConn> sse;
    size_t seen = 0, resets_seen = 0;
    while (last < target.load() && !give_up()) {
      if (sse == nullptr || sse->eof()) {
        if (sse != nullptr) ++moves;
        sse.reset();
        seen = 0;
        resets_seen = 0;
        at = 1 - at;  // the other node: a client that moves on
        const int port = ports[at].load();
        if (port == 0) {
          std::this_thread::sleep_for(milliseconds(20));
          continue;
        }
        sse = std::make_unique<SseConn>(
            port, kTable + "?stream=sse",
            std::vector<std::string>{"Last-Event-ID: " + std::to_string(last)});
        if (sse->head().status != 200) {
          sse.reset();
          std::this_thread::sleep_for(milliseconds(20));
          continue;
        }
      }
      sse->Drain(milliseconds(100));
      for (; resets_seen < sse->events().size(); ++resets_seen) {
        // A reset: the node did not take the resume id, so the stream
        // starts over from a snapshot (its records would count as seen twice).
        if (sse->events()[resets_seen].data.find("\"type\":\"reset\"") != std::string::npos) {
          ++resets;
          std::fprintf(stderr, "reset on port %d after %llu: %s\n", ports[at].load(),
                       static_cast<unsigned long long>(last),
                       sse->events()[resets_seen].data.c_str());
        }
      }
      const std::vector<uint64_t> got = EventPositions(sse->events());
      for (; seen < got.size(); ++seen) {
        const uint64_t p = got[seen];
        if (p <= last) {
          ++duplicates;
        } else {
          gaps += p - last - 1;
          last = p;
        }
      }
    }
  });

  std::thread w0(writer, 0), w1(writer, 1);
  // An ASSERT below returns early: the threads are stopped and joined
  // first (a joinable std::thread would terminate the test binary).
  struct Joiner {
    std::atomic<bool>* stop;
    std::atomic<uint64_t>* target;
    std::vector<std::thread*> threads;
    ~Joiner() {
      *stop = true;
      *target = 0;
      for (std::thread* t : threads) {
        if (t->joinable()) t->join();
      }
    }
  } joiner{&stop, &target, {&w0, &w1, &subscriber}};
  std::mt19937 rng(20261206);
  int nats_kills = 0, eventide_kills = 0;
  auto ack_count = [&] {
    std::lock_guard<std::mutex> l(mu);
    return acked.size();
  };
  uint64_t stalls = 0;
  for (int r = 0; r < rounds; ++r) {
    // Like a rolling restart: the next kill comes once writes are acknowledged
    // again and a NATS server that rejoined has caught up its replicas
    // (below), so a round never takes a second server of the three away.
    const size_t before = ack_count();
    const auto until = std::chrono::steady_clock::now() + seconds(30);
    while (ack_count() < before + 20 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    if (ack_count() < before + 20) ++stalls;
    std::this_thread::sleep_for(milliseconds(100 + rng() % 200));
    const int victim = static_cast<int>(rng() % 5);
    if (victim < 3) {
      nats.Kill9(victim);
      ++nats_kills;
      std::this_thread::sleep_for(milliseconds(50 + rng() % 200));
      ASSERT_TRUE(nats.Restart(victim)) << nats.log(victim);
      // The next round may take another server: this one catches up first.
      if (!nats.WaitStreamCurrent("EVENTIDE")) ++stalls;
    } else {
      const int i = victim - 3;
      ports[i] = 0;
      nodes[i].Kill9();
      ++eventide_kills;
      std::this_thread::sleep_for(milliseconds(rng() % 100));
      // The node itself waits out a JetStream leader election at start-up.
      const int port = nodes[i].Start(NodeFlags(nats, names[i]));
      ASSERT_GT(port, 0) << nodes[i].log();
      ports[i] = port;
    }
  }
  stop = true;
  w0.join();
  w1.join();
  uint64_t head = 0;
  {
    std::lock_guard<std::mutex> l(mu);
    head = acked.empty() ? 0 : acked.rbegin()->first;
  }
  // Both nodes converge on the log, and the subscriber on its end.
  ASSERT_TRUE(WaitApplied(ports[0], head, seconds(30)));
  ASSERT_TRUE(WaitApplied(ports[1], head, seconds(30)));
  head = std::max(AppliedPosition(ports[0]), AppliedPosition(ports[1]));
  target = head;
  subscriber.join();
  ASSERT_EQ(nodes[0].Terminate(), 0);
  ASSERT_EQ(nodes[1].Terminate(), 0);

  const std::string dump = Dump(nodes[1].data_dir());
  EXPECT_EQ(Dump(nodes[0].data_dir()), dump);
  std::map<uint64_t, std::string> entries;
  std::istringstream lines(dump);
  for (std::string line; std::getline(lines, line);) {
    entries[std::stoull(line.substr(0, line.find(' ')))] = line;
  }
  uint64_t lost = 0;
  for (const auto& [p, w] : acked) {
    auto it = entries.find(p);
    if (it == entries.end() || it->second.find(" id=" + w.id + " ") == std::string::npos ||
        it->second.find("\"title\":\"" + w.title + "\"") == std::string::npos) {
      ++lost;
      ADD_FAILURE() << "acknowledged position " << p << " (" << w.id << " " << w.title
                    << ") is not in the log as written";
    }
  }
  std::printf(
      "cluster crash loop: %d rounds (%d NATS kills, %d Eventide kills), %zu acknowledged "
      "writes, log head %llu, lost %llu, subscriber: received through %llu, gaps %llu, "
      "duplicates %llu, resets %llu, moved %llu times; duplicate acks %llu; rounds without "
      "progress %llu\n",
      rounds, nats_kills, eventide_kills, acked.size(), static_cast<unsigned long long>(head),
      static_cast<unsigned long long>(lost), static_cast<unsigned long long>(last),
      static_cast<unsigned long long>(gaps), static_cast<unsigned long long>(duplicates),
      static_cast<unsigned long long>(resets), static_cast<unsigned long long>(moves),
      static_cast<unsigned long long>(duplicate_acks), static_cast<unsigned long long>(stalls));
  EXPECT_GE(rounds, 1);
  EXPECT_GT(acked.size(), 0u);
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(duplicate_acks, 0u);
  EXPECT_EQ(entries.size(), head);  // positions 1..head, each once
  EXPECT_EQ(last, head);
  EXPECT_EQ(gaps, 0u);
  EXPECT_EQ(duplicates, 0u);
  EXPECT_EQ(resets, 0u);
}

}  // namespace
}  // namespace eventide::testing
