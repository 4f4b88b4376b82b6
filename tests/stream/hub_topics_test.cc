// The hub's topics for the compatibility dialects (src/stream/hub.h,
// docs/DIALECTS.md): one cursor over several tables (Topic::more_tables) and
// a topic that takes only some operations (Topic::ops). Subscribers join at
// random positions, stall and drain while entries of every table and
// operation arrive; each ends with exactly its matching entries after its
// start, in order, once.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "src/event/event.h"
#include "src/stream/hub.h"
#include "tests/wal/test_util.h"
#include "wal/log.h"

namespace eventide::stream {
namespace {

using wal::Position;

// Reads a real log when the test says so (catch-ups are asynchronous in the
// server).
class DeferredLogSource : public LogSource {
 public:
  explicit DeferredLogSource(wal::Log* log) : log_(log) {}
  void Read(Position after, Position to,
            std::function<void(Status, std::vector<LoggedEntry>)> done) override {
    pending_.push_back({after, to, std::move(done)});
  }
  bool RunOne() {
    if (pending_.empty()) return false;
    Job job = std::move(pending_.front());
    pending_.pop_front();
    std::vector<LoggedEntry> out;
    auto reader = log_->NewReader();
    Status s = reader->Seek(job.after.Next());
    while (s.ok() && out.size() < job.to.value() - job.after.value()) {
      wal::Entry e;
      auto more = reader->Next(&e);
      if (!more.ok()) s = more.status();
      if (!more.ok() || !more.value()) break;
      out.push_back({e.position, std::string(e.payload)});
    }
    job.done(s, std::move(out));
    return true;
  }

 private:
  struct Job {
    Position after, to;
    std::function<void(Status, std::vector<LoggedEntry>)> done;
  };
  wal::Log* log_;
  std::deque<Job> pending_;
};

class FakeSink : public Sink {
 public:
  void Send(const Frame& f) override { received.push_back(std::stoull(*f)); }
  size_t pending_output_bytes() const override { return stalled ? 1 << 30 : 0; }
  std::vector<uint64_t> received;
  bool stalled = false;
};

std::string EncodePosition(Position p, const event::Event&) { return std::to_string(p.value()); }

class HubTopicsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wal::LogOptions o;
    o.dir = dir_.Sub("wal");
    o.sync.mode = wal::SyncPolicy::Mode::kNever;
    o.segment_bytes = 4096;
    auto log = wal::Log::Open(o);
    ASSERT_TRUE(log.ok());
    log_ = std::move(log).value();
    source_ = std::make_unique<DeferredLogSource>(log_.get());
    hub_ = std::make_unique<Hub>(source_.get(), Position(), 1 << 20,
                                 std::vector<Encoder>{EncodePosition});
  }
  Position Write(const std::string& table, const std::string& id, event::Op op) {
    event::Event e;
    e.op = op;
    e.app = "app";
    e.table = table;
    e.id = id;
    e.data = "{}";
    std::string bytes;
    event::Encode(e, &bytes);
    auto p = log_->Append(bytes);
    EXPECT_TRUE(p.ok());
    EXPECT_TRUE(log_->WaitDurable(p.value()).ok());
    written_.push_back({p.value(), table, id, op});
    hub_->Publish(p.value(), e);
    return p.value();
  }
  std::vector<uint64_t> Expected(const Topic& t, Position after) const {
    std::vector<uint64_t> want;
    for (const auto& w : written_) {
      if (w.p <= after) continue;
      event::Event e;
      e.op = w.op;
      e.app = "app";
      e.table = w.table;
      e.id = w.id;
      if (t.Matches(e)) want.push_back(w.p.value());
    }
    return want;
  }
  struct Written {
    Position p;
    std::string table, id;
    event::Op op;
  };
  wal::TempDir dir_;
  std::unique_ptr<wal::Log> log_;
  std::unique_ptr<DeferredLogSource> source_;
  std::unique_ptr<Hub> hub_;
  std::vector<Written> written_;
};

Topic Tables(std::vector<std::string> tables, uint8_t ops = kAllOps) {
  Topic t("app", tables.front());
  t.more_tables.assign(tables.begin() + 1, tables.end());
  t.ops = ops;
  return t;
}

TEST_F(HubTopicsTest, TopicMatchesItsTablesAndOperations) {
  event::Event e;
  e.app = "app";
  e.table = "B";
  e.id = "x";
  e.op = event::Op::kUpdate;
  EXPECT_TRUE(Tables({"A", "B"}).Matches(e));
  EXPECT_FALSE(Tables({"A", "C"}).Matches(e));
  EXPECT_FALSE(Tables({"A", "B"}, OpBit(event::Op::kCreate)).Matches(e));
  e.app = "other";
  EXPECT_FALSE(Tables({"A", "B"}).Matches(e));
}

TEST_F(HubTopicsTest, OneCursorOverSeveralTablesInPositionOrder) {
  FakeSink both, a_creates;
  const uint64_t id = hub_->Subscribe(Tables({"A", "B"}), 0, &both, Position());
  hub_->Subscribe(Tables({"A"}, OpBit(event::Op::kCreate)), 0, &a_creates, Position());
  Write("A", "1", event::Op::kCreate);
  Write("C", "1", event::Op::kCreate);
  Write("B", "1", event::Op::kCreate);
  Write("A", "1", event::Op::kUpdate);
  Write("B", "", event::Op::kPublish);
  EXPECT_EQ(both.received, (std::vector<uint64_t>{1, 3, 4, 5}));
  EXPECT_EQ(a_creates.received, (std::vector<uint64_t>{1}));
  // Stalled, it leaves every table's list; drained, it catches up in order.
  both.stalled = true;
  Write("B", "2", event::Op::kCreate);
  Write("A", "2", event::Op::kCreate);
  EXPECT_FALSE(hub_->live(id));
  Write("B", "3", event::Op::kDelete);
  both.stalled = false;
  hub_->OnDrained(id);
  while (source_->RunOne()) {
  }
  EXPECT_TRUE(hub_->live(id));
  Write("A", "4", event::Op::kCreate);
  EXPECT_EQ(both.received, (std::vector<uint64_t>{1, 3, 4, 5, 6, 7, 8, 9}));
  // A table named twice is still one subscription per entry.
  FakeSink twice;
  hub_->Subscribe(Tables({"A", "A", "B"}), 0, &twice, hub_->head());
  Write("A", "5", event::Op::kCreate);
  EXPECT_EQ(twice.received, (std::vector<uint64_t>{10}));
}

TEST_F(HubTopicsTest, RandomizedNoGapNoDuplicate) {
  std::mt19937 rng(20261124);
  struct Client {
    uint64_t id;
    Topic topic;
    Position start;
    std::unique_ptr<FakeSink> sink;
  };
  std::vector<Client> clients;
  const char* tables[] = {"A", "B", "C"};
  const event::Op ops[] = {event::Op::kCreate, event::Op::kUpdate, event::Op::kDelete,
                           event::Op::kPublish};
  for (int step = 0; step < 4000; ++step) {
    const int what = static_cast<int>(rng() % 10);
    if (what < 4) {
      Write(tables[rng() % 3], "r" + std::to_string(rng() % 4), ops[rng() % 4]);
    } else if (what < 6 && clients.size() < 60) {
      Client c;
      std::vector<std::string> names;
      for (const char* t : tables) {
        if (rng() % 2 == 0) names.push_back(t);
      }
      if (names.empty()) names.push_back(tables[rng() % 3]);
      c.topic = Tables(names, static_cast<uint8_t>(rng() % 2 == 0 ? kAllOps : (rng() % 31) + 1));
      c.start = Position(hub_->head().value() == 0 ? 0 : rng() % (hub_->head().value() + 1));
      c.sink = std::make_unique<FakeSink>();
      c.id = hub_->Subscribe(c.topic, 0, c.sink.get(), c.start);
      clients.push_back(std::move(c));
    } else if (what < 8) {
      source_->RunOne();
    } else if (!clients.empty()) {
      Client& c = clients[rng() % clients.size()];
      if (c.sink->stalled) {
        c.sink->stalled = false;
        hub_->OnDrained(c.id);
      } else {
        c.sink->stalled = rng() % 2 == 0;
      }
    }
  }
  for (Client& c : clients) {
    c.sink->stalled = false;
    hub_->OnDrained(c.id);
  }
  while (source_->RunOne()) {
  }
  for (const char* t : tables) Write(t, "final", event::Op::kCreate);
  ASSERT_GT(clients.size(), 40u);
  for (const Client& c : clients) {
    EXPECT_TRUE(hub_->live(c.id));
    EXPECT_EQ(c.sink->received, Expected(c.topic, c.start))
        << c.topic.table << "+" << c.topic.more_tables.size() << " ops " << int(c.topic.ops)
        << " from " << c.start.value();
  }
  // Leaving in any order keeps the index consistent.
  std::shuffle(clients.begin(), clients.end(), rng);
  for (size_t i = 0; i < clients.size(); i += 2) hub_->Unsubscribe(clients[i].id);
  const Position p = Write("A", "after", event::Op::kCreate);
  for (size_t i = 1; i < clients.size(); i += 2) {
    const bool wants = Expected(clients[i].topic, Position(p.value() - 1)).size() == 1;
    const std::vector<uint64_t>& got = clients[i].sink->received;
    EXPECT_EQ(!got.empty() && got.back() == p.value(), wants);
  }
}

}  // namespace
}  // namespace eventide::stream
