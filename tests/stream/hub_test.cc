// The hub's cursors (src/stream/hub.h) over a real log: subscribers that join
// at random positions, catch up while entries keep arriving, stall and drain,
// each end with exactly the matching entries after their start, in order.
#include "src/stream/hub.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "src/event/event.h"
#include "tests/wal/test_util.h"
#include "wal/log.h"

namespace eventide::stream {
namespace {

using wal::Position;

// Reads a real log, but only when the test says so: catch-ups are
// asynchronous in the server, and the interesting moments are the entries
// published while a read is in flight.
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
    if (s.ok()) {
      wal::Entry e;
      while (out.size() < job.to.value() - job.after.value()) {
        auto more = reader->Next(&e);
        if (!more.ok()) {
          s = more.status();
          break;
        }
        if (!more.value()) break;
        out.push_back({e.position, std::string(e.payload)});
      }
    }
    job.done(s, std::move(out));
    return true;
  }
  size_t pending() const { return pending_.size(); }

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
  void Send(const Frame& f) override {
    received.push_back(std::stoull(*f));
    frames.push_back(f);
  }
  size_t pending_output_bytes() const override { return stalled ? 1 << 30 : 0; }
  std::vector<uint64_t> received;
  std::vector<Frame> frames;
  bool stalled = false;
};

std::string EncodePosition(Position p, const event::Event&) { return std::to_string(p.value()); }

class HubTest : public ::testing::Test {
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
  // Appends an event, waits until durable, publishes it.
  Position Write(const std::string& table, const std::string& id) {
    event::Event e;
    e.op = id.empty() ? event::Op::kPublish : event::Op::kUpdate;
    e.app = "app";
    e.table = table;
    e.id = id;
    e.data = "{}";
    std::string bytes;
    event::Encode(e, &bytes);
    auto p = log_->Append(bytes);
    EXPECT_TRUE(p.ok());
    EXPECT_TRUE(log_->WaitDurable(p.value()).ok());
    written_.push_back({p.value(), table, id});
    hub_->Publish(p.value(), e);
    return p.value();
  }
  std::vector<uint64_t> Expected(const Topic& t, Position after) const {
    std::vector<uint64_t> want;
    for (const auto& w : written_) {
      if (w.p <= after || w.table != t.table) continue;
      if (!t.id.empty() && w.id != t.id) continue;
      want.push_back(w.p.value());
    }
    return want;
  }
  struct Written {
    Position p;
    std::string table, id;
  };
  wal::TempDir dir_;
  std::unique_ptr<wal::Log> log_;
  std::unique_ptr<DeferredLogSource> source_;
  std::unique_ptr<Hub> hub_;
  std::vector<Written> written_;
};

TEST_F(HubTest, LiveSubscriberGetsMatchingEntriesSharedFrames) {
  FakeSink a, b, rec;
  uint64_t ia = hub_->Subscribe({"app", "Message", ""}, 0, &a, Position());
  uint64_t ib = hub_->Subscribe({"app", "Message", ""}, 0, &b, Position());
  hub_->Subscribe({"app", "Message", "m1"}, 0, &rec, Position());
  EXPECT_TRUE(hub_->live(ia) && hub_->live(ib));
  Write("Message", "m1");
  Write("Other", "x");
  Write("Message", "m2");
  Write("Message", "");  // a table publish
  EXPECT_EQ(a.received, (std::vector<uint64_t>{1, 3, 4}));
  EXPECT_EQ(rec.received, (std::vector<uint64_t>{1}));
  EXPECT_EQ(a.frames[0].get(), b.frames[0].get()) << "one encoding shared by all";
  EXPECT_EQ(hub_->cursor(ia), Position(4));
}

TEST_F(HubTest, ResumeCatchesUpWhileWritesGoOnThenJoinsLive) {
  for (int i = 0; i < 20; ++i) Write("Message", "r" + std::to_string(i % 3));
  FakeSink s;
  uint64_t id = hub_->Subscribe({"app", "Message", ""}, 0, &s, Position(7));
  EXPECT_FALSE(hub_->live(id));
  Write("Message", "late-1");      // published while the read is in flight
  ASSERT_TRUE(source_->RunOne());  // reads 8..20; 21 came meanwhile
  EXPECT_FALSE(hub_->live(id)) << "the head moved during the read";
  Write("Message", "late-2");
  ASSERT_TRUE(source_->RunOne());  // reads 21; 22 came meanwhile
  EXPECT_FALSE(hub_->live(id));
  ASSERT_TRUE(source_->RunOne());  // reads 22: caught up
  EXPECT_TRUE(hub_->live(id));
  EXPECT_EQ(source_->pending(), 0u);
  Write("Message", "live");
  EXPECT_EQ(s.received, Expected({"app", "Message", ""}, Position(7)));
}

TEST_F(HubTest, StalledSubscriberCatchesUpFromTheLogAfterDraining) {
  FakeSink s;
  uint64_t id = hub_->Subscribe({"app", "T", ""}, 0, &s, Position());
  Write("T", "a");
  s.stalled = true;
  Write("T", "b");
  Write("T", "c");
  EXPECT_FALSE(hub_->live(id));
  EXPECT_EQ(s.received, (std::vector<uint64_t>{1}));
  s.stalled = false;
  hub_->OnDrained(id);
  while (source_->RunOne()) {
  }
  Write("T", "d");
  EXPECT_EQ(s.received, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(hub_->live(id));
}

TEST_F(HubTest, PositionNoLongerRetainedIsReported) {
  for (int i = 0; i < 200; ++i) Write("T", "x");
  size_t deleted = 0;
  ASSERT_TRUE(log_->DeleteBefore(Position(150), &deleted).ok());
  ASSERT_GT(deleted, 0u);
  uint64_t failed = 0;
  hub_->on_catch_up_failed = [&](uint64_t id, const Status& s) {
    failed = id;
    EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  };
  FakeSink sink;
  uint64_t id = hub_->Subscribe({"app", "T", ""}, 0, &sink, Position(3));
  source_->RunOne();
  EXPECT_EQ(failed, id);
}

// Many subscribers join at random positions, stall, drain and leave while
// writes go on and catch-up reads complete at random moments; each ends with
// exactly its topic's entries after its start, in order, once.
TEST_F(HubTest, RandomizedNoGapNoDuplicate) {
  std::mt19937 rng(20261123);
  struct Client {
    uint64_t id;
    Topic topic;
    Position start;
    std::unique_ptr<FakeSink> sink;
  };
  std::vector<Client> clients;
  const char* tables[] = {"A", "B"};
  for (int step = 0; step < 3000; ++step) {
    int what = static_cast<int>(rng() % 10);
    if (what < 4) {
      Write(tables[rng() % 2], "r" + std::to_string(rng() % 5));
    } else if (what < 6 && clients.size() < 40) {
      Client c;
      c.topic = {"app", tables[rng() % 2], rng() % 3 == 0 ? "r" + std::to_string(rng() % 5) : ""};
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
  Write("A", "final");
  Write("B", "final");
  ASSERT_GT(clients.size(), 20u);
  for (const Client& c : clients) {
    EXPECT_TRUE(hub_->live(c.id));
    EXPECT_EQ(c.sink->received, Expected(c.topic, c.start))
        << "topic " << c.topic.table << "/" << c.topic.id << " from " << c.start.value();
  }
}

}  // namespace
}  // namespace eventide::stream
