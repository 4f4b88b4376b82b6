// A randomized soak of the cursors (issue 4): many subscribers — SSE and
// WebSocket, table and record topics — connect, read a while, stall (a tiny
// receive buffer and no reading, so they go over their output limit and must
// catch up from the log), disconnect and resume from a random or their last
// position, while writers write. Every session's received positions are
// checked against the log (what the writers were acknowledged): from where
// the session started, exactly the matching entries, in order, no gap, no
// duplicate; and each subscriber's last session reaches the final head.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/server/harness.h"
#include "tests/server/stream_clients.h"

namespace eventide::testing {
namespace {

const std::string kMsg = "/realtime-demo/message";
constexpr int kRecords = 12;  // ids r0..r11

struct LogEntry {
  std::string id;  // the record the entry wrote
};

class Journal {
 public:
  void Add(uint64_t position, std::string id) {
    std::lock_guard<std::mutex> l(mu_);
    entries_[position] = LogEntry{std::move(id)};
    head_ = std::max(head_, position);
  }
  uint64_t head() {
    std::lock_guard<std::mutex> l(mu_);
    return head_;
  }
  // The positions a subscription to `id` ("" = the table) must receive
  // after `after`, up to `to`. REQUIRES: every position up to `to` is known.
  std::vector<uint64_t> Expected(const std::string& id, uint64_t after, uint64_t to) {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<uint64_t> out;
    for (auto it = entries_.upper_bound(after); it != entries_.end() && it->first <= to; ++it) {
      if (id.empty() || it->second.id == id) out.push_back(it->first);
    }
    return out;
  }
  size_t size() {
    std::lock_guard<std::mutex> l(mu_);
    return entries_.size();
  }

 private:
  std::mutex mu_;
  std::map<uint64_t, LogEntry> entries_;
  uint64_t head_ = 0;
};

struct Session {
  std::string topic_id;  // "" = table topic
  uint64_t start = 0;    // the position it started after
  std::vector<uint64_t> received;
  bool ws = false;
};

// One subscriber's life: sessions until `stop`, then a last one to the end.
class Subscriber {
 public:
  Subscriber(int port, int seed, Journal* journal) : port_(port), rng_(seed), journal_(journal) {}

  void Run(const std::atomic<bool>& stop) {
    while (!stop) OneSession(false);
    OneSession(true);
  }
  const std::vector<Session>& sessions() const { return sessions_; }

 private:
  void OneSession(bool last) {
    Session s;
    s.ws = rng_() % 3 == 0;
    s.topic_id = rng_() % 3 == 0 ? "r" + std::to_string(rng_() % kRecords) : "";
    if (last) s.topic_id = topic_id_for_last_;
    const std::string path = kMsg + (s.topic_id.empty() ? "" : "/" + s.topic_id);
    // Resume from the last position seen (a reconnect), or from anywhere
    // in the log so far.
    const uint64_t head = journal_->head();
    s.start = (last || rng_() % 2 == 0) ? last_seen_ : (head == 0 ? 0 : rng_() % (head + 1));
    if (last) topic_id_for_last_ = s.topic_id;
    const bool stall = !last && rng_() % 3 == 0;
    const auto read_for = std::chrono::milliseconds(last ? 0 : 50 + rng_() % 300);
    if (s.ws) {
      WsConn c(port_, path + "?lastEventId=" + std::to_string(s.start));
      if (!c.upgraded()) return;
      if (stall) std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng_() % 400));
      ReadWs(&c, &s, last, read_for);
    } else {
      SseConn c(port_, path + "?stream=sse", {"Last-Event-ID: " + std::to_string(s.start)},
                stall ? 2048 : 0);
      if (c.head().status != 200) return;
      if (stall) std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng_() % 400));
      ReadSse(&c, &s, last, read_for);
    }
    if (!s.received.empty()) last_seen_ = s.received.back();
    sessions_.push_back(std::move(s));
  }

  // Reads until `read_for` passed, or for the last session until the
  // final head arrived (or 20 s).
  bool Done(const Session& s, bool last, std::chrono::steady_clock::time_point since,
            std::chrono::milliseconds read_for) {
    auto now = std::chrono::steady_clock::now();
    if (!last) return now - since >= read_for;
    if (now - since > std::chrono::seconds(20)) return true;
    auto want = journal_->Expected(s.topic_id, s.start, final_head.load());
    return s.received.size() >= want.size();
  }

  void ReadSse(SseConn* c, Session* s, bool last, std::chrono::milliseconds read_for) {
    auto since = std::chrono::steady_clock::now();
    size_t seen = 0;
    while (!Done(*s, last, since, read_for) && !c->eof()) {
      c->WaitFor([](const auto&) { return false; }, std::chrono::milliseconds(20));
      for (; seen < c->events().size(); ++seen) {
        const auto& e = c->events()[seen];
        if (e.type == "update" || e.type == "delete")
          s->received.push_back(std::stoull(e.last_event_id));
      }
    }
  }

  void ReadWs(WsConn* c, Session* s, bool last, std::chrono::milliseconds read_for) {
    auto since = std::chrono::steady_clock::now();
    while (!Done(*s, last, since, read_for)) {
      std::string t = c->NextText(std::chrono::milliseconds(20));
      if (t.empty()) continue;
      rapidjson::Document d;
      d.Parse(t.data(), t.size());
      if (d.IsObject() && d.HasMember("message_type") && d.HasMember("seq") &&
          (std::string(d["message_type"].GetString()) == "Update" ||
           std::string(d["message_type"].GetString()) == "Delete")) {
        s->received.push_back(d["seq"].GetUint64());
      }
    }
  }

 public:
  std::atomic<uint64_t> final_head{~0ull};  // set before the last sessions run

 private:
  int port_;
  std::mt19937 rng_;
  Journal* journal_;
  std::vector<Session> sessions_;
  uint64_t last_seen_ = 0;
  std::string topic_id_for_last_;
};

TEST(RandomSubscribersTest, EverySessionGetsExactlyTheLogAfterItsStart) {
  ServerProcess server;
  // A small output limit so stalled subscribers fall behind and catch up
  // from the log; records of ~2 KB.
  server.WriteFile("server.yaml", "limits:\n  output_bytes: 24KiB\n");
  ASSERT_GT(server.Start({"--config", server.dir() + "/server.yaml", "--fsync", "batch:2"}), 0)
      << server.log();
  Journal journal;
  std::atomic<bool> stop{false};
  std::atomic<int> failed_writes{0};
  auto writer = [&](int seed, int count) {
    std::mt19937 rng(seed);
    Client c(server.port());
    const std::string pad(1000 + rng() % 1500, 'p');
    for (int i = 0; i < count; ++i) {
      const std::string id = "r" + std::to_string(rng() % kRecords);
      HttpResponse r;
      if (rng() % 6 == 0) {
        r = c.Call("DELETE", kMsg + "/" + id);
        if (r.status == 404) continue;  // nothing written
      } else {
        r = c.Call("PUT", kMsg + "/" + id,
                   R"({"title":")" + std::to_string(i) + R"(","content":")" + pad + "\"}");
      }
      if (r.status / 100 != 2) {
        if (failed_writes++ == 0) {  // the first one says why
          std::fprintf(stderr, "write failed: %d %s\n", r.status, r.body.c_str());
        }
        continue;
      }
      journal.Add(std::stoull(r.Header("event-position")), id);
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 4));
    }
  };
  constexpr int kSubscribers = 16;
  std::vector<std::unique_ptr<Subscriber>> subs;
  for (int i = 0; i < kSubscribers; ++i) {
    subs.push_back(std::make_unique<Subscriber>(server.port(), 1000 + i, &journal));
  }
  std::vector<std::thread> threads;
  std::atomic<bool> subs_stop{false};
  for (auto& s : subs) threads.emplace_back([&s, &subs_stop] { s->Run(subs_stop); });
  std::thread w1(writer, 1, 1200), w2(writer, 2, 1200);
  w1.join();
  w2.join();
  const uint64_t final_head = journal.head();
  for (auto& s : subs) s->final_head = final_head;
  subs_stop = true;
  for (auto& t : threads) t.join();
  ASSERT_EQ(failed_writes.load(), 0) << server.log();
  ASSERT_EQ(journal.size(), final_head) << "every position was acknowledged to a writer";

  size_t sessions = 0, stalled_catchups = 0;
  for (size_t i = 0; i < subs.size(); ++i) {
    const auto& ss = subs[i]->sessions();
    ASSERT_FALSE(ss.empty());
    for (size_t k = 0; k < ss.size(); ++k) {
      const Session& s = ss[k];
      ++sessions;
      std::vector<uint64_t> want = journal.Expected(s.topic_id, s.start, final_head);
      // A session that ended early got a prefix; the last one everything.
      ASSERT_LE(s.received.size(), want.size()) << "subscriber " << i << " session " << k;
      want.resize(s.received.size());
      EXPECT_EQ(s.received, want) << "subscriber " << i << " session " << k << " topic '"
                                  << s.topic_id << "' after " << s.start << (s.ws ? " ws" : " sse");
      if (k + 1 == ss.size()) {
        EXPECT_EQ(s.received.size(), journal.Expected(s.topic_id, s.start, final_head).size())
            << "the last session of subscriber " << i << " reaches the head";
      }
    }
  }
  std::string metrics = server.Call("GET", "/metrics").body;
  size_t at = metrics.find("\neventide_stream_catch_ups_total ");
  ASSERT_NE(at, std::string::npos);
  stalled_catchups = std::stoull(metrics.substr(at + 33));
  EXPECT_GT(sessions, 3u * kSubscribers) << "subscribers came and went";
  EXPECT_GT(stalled_catchups, 0u);
  std::printf("%zu sessions over %llu entries, %zu catch-ups\n", sessions,
              static_cast<unsigned long long>(final_head), stalled_catchups);
}

}  // namespace
}  // namespace eventide::testing
