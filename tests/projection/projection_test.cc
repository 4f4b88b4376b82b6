// The projection (records applied from events) and its checkpoints, with a
// real log in a temporary directory for recovery.
#include "src/projection/projection.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "src/event/event.h"
#include "src/projection/checkpoint.h"
#include "tests/wal/test_util.h"
#include "wal/log.h"

namespace eventide::projection {
namespace {

using wal::Position;

event::Event Ev(event::Op op, std::string_view id, std::string_view data,
                std::string_view table = "Message") {
  event::Event e;
  e.op = op;
  e.time_ms = 1;
  e.app = "app";
  e.table = table;
  e.id = id;
  e.data = data;
  return e;
}

std::vector<std::string> Ids(const Table& t, std::string_view after = "", size_t limit = 100) {
  std::vector<RecordPtr> out;
  t.List(after, limit, {}, &out);
  std::vector<std::string> ids;
  for (auto& r : out) ids.emplace_back(r->id());
  return ids;
}

TEST(ProjectionTest, CreateUpdateDeletePublish) {
  Projection p;
  p.Apply(Position(1), Ev(event::Op::kCreate, "a", R"({"id":"a","v":1})"));
  p.Apply(Position(2), Ev(event::Op::kUpdate, "a", R"({"id":"a","v":2})"));
  p.Apply(Position(3), Ev(event::Op::kCreate, "b", R"({"id":"b"})"));
  p.Apply(Position(4), Ev(event::Op::kPublish, "", R"({"hello":1})"));
  const Table* t = p.Find("app", "Message");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->Get("a")->json(), R"({"id":"a","v":2})");
  EXPECT_EQ(t->Get("a")->position(), Position(2));
  EXPECT_EQ(p.record_count(), 2u);
  EXPECT_EQ(p.applied(), Position(4));
  p.Apply(Position(5), Ev(event::Op::kDelete, "a", R"({"id":"a","v":2})"));
  EXPECT_FALSE(t->Get("a"));
  EXPECT_EQ(p.record_count(), 1u);
  p.Apply(Position(6), Ev(event::Op::kDelete, "zzz", "{}"));  // absent: no-op
  EXPECT_EQ(p.record_count(), 1u);
  EXPECT_EQ(t->json_bytes(), std::string(R"({"id":"b"})").size());
  EXPECT_EQ(p.Find("app", "Other"), nullptr);
}

TEST(ProjectionTest, IdIsSharedWithTheJsonOrKeptBesideIt) {
  RecordPtr in = Record::Make(Position(1), "abc", R"({"id":"abc","x":1})");
  EXPECT_EQ(in->id(), "abc");
  EXPECT_GE(in->id().data(), in->json().data());
  EXPECT_LT(in->id().data(), in->json().data() + in->json().size()) << "points into the JSON";
  // An id whose bytes are not in the JSON verbatim (escaped there) is copied.
  RecordPtr out = Record::Make(Position(2), "a\"b", R"({"id":"a\"b"})");
  EXPECT_EQ(out->id(), "a\"b");
  EXPECT_EQ(out->json(), R"({"id":"a\"b"})");
  RecordPtr empty = Record::Make(Position(3), "", "{}");
  EXPECT_EQ(empty->id(), "");
  EXPECT_EQ(empty->json(), "{}");
}

TEST(ProjectionTest, IdOrderIsByteWise) {
  IdLess less;
  const char* ids[] = {
      "",         "a",        "ab",           "abcdefgh",   "abcdefgi", "abcdefgh0",
      "b",        "\xff",     "\x01zzzzzzzz", "ABCDEFGHIJ", "abcdefg",  "abcdefgh\xff",
      "zzzzzzzz", "zzzzzzzzz"};
  for (std::string_view a : ids) {
    for (std::string_view b : ids) {
      EXPECT_EQ(less(a, b), a < b) << "'" << a << "' < '" << b << "'";
    }
  }
}

TEST(ProjectionTest, ReplacingARecordKeepsOrderAndCount) {
  Projection p;
  uint64_t pos = 0;
  for (std::string id : {"m", "c", "x", "a"}) {
    p.Apply(Position(++pos), Ev(event::Op::kCreate, id, "{\"id\":\"" + id + "\"}"));
  }
  p.Apply(Position(++pos), Ev(event::Op::kUpdate, "c", R"({"id":"c","v":2})"));
  const Table& t = *p.Find("app", "Message");
  EXPECT_EQ(Ids(t), (std::vector<std::string>{"a", "c", "m", "x"}));
  EXPECT_EQ(t.Get("c")->json(), R"({"id":"c","v":2})");
  EXPECT_EQ(t.Get("c")->id(), "c");
  EXPECT_EQ(p.record_count(), 4u);
}

TEST(ProjectionTest, ListIsInIdOrderAfterAndLimit) {
  Projection p;
  uint64_t pos = 0;
  for (std::string id : {"d", "b", "a", "e", "c"}) {
    p.Apply(Position(++pos), Ev(event::Op::kCreate, id, "{\"id\":\"" + id + "\"}"));
  }
  const Table& t = *p.Find("app", "Message");
  EXPECT_EQ(Ids(t), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(Ids(t, "b", 2), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(Ids(t, "bb"), (std::vector<std::string>{"c", "d", "e"}));
  std::vector<RecordPtr> out;
  t.List(
      "", 2, [](const Record& r) { return r.id() != "a" && r.id() != "c"; }, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]->id(), "b");
  EXPECT_EQ(out[1]->id(), "d");
}

TEST(ProjectionTest, SnapshotIsUnaffectedByLaterApplies) {
  Projection p;
  p.Apply(Position(1), Ev(event::Op::kCreate, "a", "{\"v\":1}"));
  auto snap = p.TakeSnapshot();
  p.Apply(Position(2), Ev(event::Op::kUpdate, "a", "{\"v\":2}"));
  p.Apply(Position(3), Ev(event::Op::kDelete, "a", "{\"v\":2}"));
  ASSERT_EQ(snap->tables.size(), 1u);
  ASSERT_EQ(snap->tables[0].records.size(), 1u);
  EXPECT_EQ(snap->tables[0].records[0]->json(), "{\"v\":1}");
  EXPECT_EQ(snap->position, Position(1));
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wal::LogOptions o;
    o.dir = dir_.Sub("wal");
    o.sync.mode = wal::SyncPolicy::Mode::kNever;
    o.segment_bytes = 4096;
    auto log = wal::Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    ckpt_ = dir_.Sub("ckpt");
    std::filesystem::create_directories(ckpt_);
  }
  // Appends the event to the log and to `live`.
  void Write(const event::Event& e) {
    std::string bytes;
    event::Encode(e, &bytes);
    auto p = log_->Append(bytes);
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(log_->WaitDurable(p.value()).ok());
    live_.Apply(p.value(), e);
  }
  void WriteMany(int from, int to) {
    for (int i = from; i < to; ++i) {
      std::string id = "r" + std::to_string(i % 37);
      std::string data = "{\"id\":\"" + id + "\",\"n\":" + std::to_string(i) + "}";
      Write(
          Ev(i % 11 == 10 ? event::Op::kDelete : event::Op::kUpdate, id, data, i % 2 ? "A" : "B"));
    }
  }
  void Checkpoint() {
    uint64_t bytes = 0;
    ASSERT_TRUE(WriteCheckpoint(ckpt_, *live_.TakeSnapshot(), &bytes).ok());
    EXPECT_GT(bytes, 0u);
  }
  static void ExpectSame(const Projection& a, const Projection& b) {
    EXPECT_EQ(a.applied(), b.applied());
    EXPECT_EQ(a.record_count(), b.record_count());
    for (const char* table : {"A", "B"}) {
      const Table* ta = a.Find("app", table);
      const Table* tb = b.Find("app", table);
      ASSERT_EQ(ta == nullptr, tb == nullptr) << table;
      if (!ta) continue;
      std::vector<RecordPtr> ra, rb;
      ta->List("", 1000, {}, &ra);
      tb->List("", 1000, {}, &rb);
      ASSERT_EQ(ra.size(), rb.size()) << table;
      for (size_t i = 0; i < ra.size(); ++i) {
        EXPECT_EQ(ra[i]->id(), rb[i]->id());
        EXPECT_EQ(ra[i]->json(), rb[i]->json());
        EXPECT_EQ(ra[i]->position(), rb[i]->position());
      }
    }
  }
  std::vector<std::string> CheckpointFiles() {
    std::vector<std::string> names;
    for (auto& e : std::filesystem::directory_iterator(ckpt_)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  wal::TempDir dir_;
  std::unique_ptr<wal::Log> log_;
  std::string ckpt_;
  Projection live_;
};

TEST_F(CheckpointTest, RecoverWithoutCheckpointReplaysTheWholeLog) {
  WriteMany(0, 200);
  Projection p;
  RecoveryReport r;
  ASSERT_TRUE(Recover(ckpt_, log_.get(), &p, &r).ok());
  EXPECT_EQ(r.checkpoint, Position());
  EXPECT_EQ(r.entries_replayed, 200u);
  ExpectSame(p, live_);
}

TEST_F(CheckpointTest, RecoverFromCheckpointPlusTheLogAfterIt) {
  WriteMany(0, 120);
  Checkpoint();
  WriteMany(120, 200);
  Projection p;
  RecoveryReport r;
  ASSERT_TRUE(Recover(ckpt_, log_.get(), &p, &r).ok());
  EXPECT_EQ(r.checkpoint, Position(120));
  EXPECT_EQ(r.entries_replayed, 80u);
  ExpectSame(p, live_);
}

TEST_F(CheckpointTest, OnlyTheNewestTwoAreKept) {
  for (int round = 0; round < 4; ++round) {
    WriteMany(round * 10, round * 10 + 10);
    Checkpoint();
  }
  EXPECT_EQ(CheckpointFiles(),
            (std::vector<std::string>{"00000000000000000030.ckpt", "00000000000000000040.ckpt"}));
}

TEST_F(CheckpointTest, DamagedNewestIsSkippedForTheOlderOne) {
  WriteMany(0, 50);
  Checkpoint();
  WriteMany(50, 90);
  Checkpoint();
  WriteMany(90, 100);
  std::string newest = ckpt_ + "/00000000000000000090.ckpt";
  for (int damage = 0; damage < 2; ++damage) {
    std::string keep = wal::ReadFile(newest);
    if (damage == 0) {
      wal::IncrementByte(newest, 40);
    } else {
      wal::WriteFile(newest, keep.substr(0, keep.size() / 2));
    }
    Projection p;
    RecoveryReport r;
    ASSERT_TRUE(Recover(ckpt_, log_.get(), &p, &r).ok());
    EXPECT_EQ(r.checkpoint, Position(50));
    ASSERT_EQ(r.skipped.size(), 1u);
    EXPECT_NE(r.skipped[0].find(damage == 0 ? "checksum mismatch" : "checksum"), std::string::npos)
        << r.skipped[0];
    ExpectSame(p, live_);
    wal::WriteFile(newest, keep);
  }
}

TEST_F(CheckpointTest, LeftoverTempFilesAreIgnoredAndRemoved) {
  WriteMany(0, 30);
  wal::WriteFile(ckpt_ + "/00000000000000000030.ckpt.tmp", "half a checkpoint");
  Projection p;
  RecoveryReport r;
  ASSERT_TRUE(Recover(ckpt_, log_.get(), &p, &r).ok());
  EXPECT_EQ(r.checkpoint, Position());
  EXPECT_TRUE(CheckpointFiles().empty());
  ExpectSame(p, live_);
}

TEST_F(CheckpointTest, LogTrimmedPastTheCheckpointIsCorruption) {
  WriteMany(0, 60);
  Checkpoint();  // at 60
  WriteMany(60, 400);
  // Lose the checkpoint and trim the log: the projection cannot be rebuilt.
  std::filesystem::remove_all(ckpt_);
  std::filesystem::create_directories(ckpt_);
  size_t deleted = 0;
  ASSERT_TRUE(log_->DeleteBefore(Position(300), &deleted).ok());
  ASSERT_GT(deleted, 0u);
  Projection p;
  RecoveryReport r;
  Status s = Recover(ckpt_, log_.get(), &p, &r);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("needs it from 1"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace eventide::projection
