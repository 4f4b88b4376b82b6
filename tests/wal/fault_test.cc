// Failures of the write path: a failed write or fdatasync fails the batch
// and, sticky, every later append until the log is reopened; the durable
// head never passes what was synced; reopening recovers a consistent prefix
// holding every acknowledged entry. Faults come from FaultEnv, and one test
// fills a real (tmpfs) disk.
#include <errno.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/wal/fault_env.h"
#include "tests/wal/test_util.h"
#include "wal/log.h"

namespace eventide::wal {
namespace {

constexpr size_t kPayload = 100;

class Listener {
 public:
  Log::DurableListener Callback() {
    return [this](Position durable, const Status& s) {
      std::lock_guard<std::mutex> lk(mu_);
      calls_.emplace_back(durable.value(), s);
      if (s.ok()) acked_ = std::max(acked_, durable.value());
    };
  }
  std::vector<std::pair<uint64_t, Status>> calls() const {
    std::lock_guard<std::mutex> lk(mu_);
    return calls_;
  }
  // The newest position the log reported durable with OK.
  uint64_t acked() const {
    std::lock_guard<std::mutex> lk(mu_);
    return acked_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<uint64_t, Status>> calls_;
  uint64_t acked_ = 0;
};

class FaultTest : public testing::Test {
 protected:
  LogOptions Options() const { return TestOptions(dir_.path(), segment_bytes_, &env_); }

  void OpenLog(RecoveryReport* report = nullptr) {
    log_.reset();
    auto log = Log::Open(Options(), report);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    log_->SetDurableListener(listener_.Callback());
  }

  void AppendAcked(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t p = log_->durable_head().value() + 1;
      ASSERT_EQ(AppendDurable(log_.get(), PayloadFor(p, kPayload)), Position(p));
    }
  }

  // After a reopen: entries 1..head are all there, whole and in order, and
  // the head is at least `acked`.
  void ExpectConsistentPrefix(uint64_t acked) {
    uint64_t head = log_->durable_head().value();
    EXPECT_GE(head, acked) << "an acknowledged entry was lost";
    std::vector<ReadEntry> got;
    ASSERT_OK(ReadAll(log_.get(), &got));
    ASSERT_EQ(got.size(), head);
    for (uint64_t p = 1; p <= head; ++p) {
      ASSERT_EQ(got[p - 1].position, p);
      ASSERT_EQ(got[p - 1].payload, PayloadFor(p, kPayload)) << "at " << p;
    }
  }

  // The log has failed with `s`-like errors: sticky, refusing appends.
  void ExpectFailed(uint64_t durable) {
    Status health = log_->Health();
    EXPECT_TRUE(health.IsIOError()) << health.ToString();
    EXPECT_EQ(log_->durable_head(), Position(durable));
    auto p = log_->Append("refused");
    ASSERT_FALSE(p.ok());
    EXPECT_TRUE(p.status().IsIOError()) << p.status().ToString();
    EXPECT_EQ(log_->durable_head(), Position(durable));
    EXPECT_OK(log_->WaitDurable(Position(durable)));
  }

  TempDir dir_;
  mutable FaultEnv env_;
  uint64_t segment_bytes_ = 64ull << 20;
  Listener listener_;
  std::unique_ptr<Log> log_;
};

TEST_F(FaultTest, FailedWriteFailsTheBatchAndEveryLaterAppend) {
  OpenLog();
  AppendAcked(5);
  env_.FailWrite(1);
  auto p = log_->Append(PayloadFor(6, kPayload));
  ASSERT_OK(p);  // queued; the failure comes with the write
  Status waited = log_->WaitDurable(*p);
  EXPECT_TRUE(waited.IsIOError()) << waited.ToString();
  EXPECT_NE(waited.message().find(strerror(ENOSPC)), std::string::npos) << waited.ToString();
  auto calls = listener_.calls();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back().first, 5u);
  EXPECT_TRUE(calls.back().second.IsIOError());
  ExpectFailed(5);
  EXPECT_EQ(log_->Health().ToString(), waited.ToString());

  RecoveryReport report;
  OpenLog(&report);
  EXPECT_EQ(report.head, Position(5));
  EXPECT_EQ(report.tail_bytes, 0u);
  EXPECT_OK(log_->Health());
  ExpectConsistentPrefix(5);
  AppendAcked(1);
  EXPECT_EQ(log_->durable_head(), Position(6));
}

TEST_F(FaultTest, PartialWriteIsCutOnReopen) {
  OpenLog();
  AppendAcked(5);
  env_.FailWrite(1, /*prefix_bytes=*/10);  // a full disk took 10 bytes of it
  auto p = log_->Append(PayloadFor(6, kPayload));
  ASSERT_OK(p);
  EXPECT_TRUE(log_->WaitDurable(*p).IsIOError());
  ExpectFailed(5);

  RecoveryReport report;
  OpenLog(&report);
  EXPECT_EQ(report.head, Position(5));
  EXPECT_EQ(report.tail_bytes, 10u);
  ExpectConsistentPrefix(5);
  AppendAcked(2);
  ExpectConsistentPrefix(7);
}

TEST_F(FaultTest, PartialWriteOfAGroupKeepsItsWholeEntries) {
  OpenLog();
  AppendAcked(1);
  env_.BlockSyncs();
  ASSERT_OK(log_->Append(PayloadFor(2, kPayload)));
  env_.WaitForBlockedSync();
  for (uint64_t p = 3; p <= 12; ++p) ASSERT_OK(log_->Append(PayloadFor(p, kPayload)));
  // The next write (the batch 3..12) stops after two and a half entries.
  const size_t entry = kEntryHeaderBytes + kPayload;
  env_.FailWrite(1, 2 * entry + entry / 2);
  env_.UnblockSyncs();
  EXPECT_OK(log_->WaitDurable(Position(2)));
  EXPECT_TRUE(log_->WaitDurable(Position(12)).IsIOError());
  ExpectFailed(2);
  auto calls = listener_.calls();
  ASSERT_GE(calls.size(), 3u);
  EXPECT_EQ(calls.back().first, 2u);
  EXPECT_FALSE(calls.back().second.ok());

  RecoveryReport report;
  OpenLog(&report);
  // The two whole entries of the failed batch were never acknowledged, but
  // they are valid and now part of the log (FORMAT.md section 8).
  EXPECT_EQ(report.head, Position(4));
  EXPECT_EQ(report.tail_bytes, entry / 2);
  ExpectConsistentPrefix(2);
}

TEST_F(FaultTest, FailedSyncFailsTheBatchAndEveryLaterAppend) {
  OpenLog();
  AppendAcked(5);
  env_.FailSyncs();
  auto p = log_->Append(PayloadFor(6, kPayload));
  ASSERT_OK(p);
  Status waited = log_->WaitDurable(*p);
  EXPECT_TRUE(waited.IsIOError()) << waited.ToString();
  EXPECT_NE(waited.message().find("fdatasync"), std::string::npos) << waited.ToString();
  EXPECT_NE(waited.message().find(strerror(EIO)), std::string::npos) << waited.ToString();
  ExpectFailed(5);
  auto calls = listener_.calls();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back().first, 5u);
  EXPECT_TRUE(calls.back().second.IsIOError());

  env_.FailSyncs(false);
  OpenLog();
  ExpectConsistentPrefix(5);
  AppendAcked(1);
}

TEST_F(FaultTest, FailedSyncIsNeverRetried) {
  OpenLog();
  AppendAcked(2);
  env_.FailSyncs();
  auto p = log_->Append(PayloadFor(3, kPayload));
  ASSERT_OK(p);
  EXPECT_FALSE(log_->WaitDurable(*p).ok());
  uint64_t syncs = env_.syncs();
  EXPECT_FALSE(log_->Append("x").ok());
  log_.reset();  // closing must not sync and pretend all is well
  EXPECT_EQ(env_.syncs(), syncs);
}

TEST_F(FaultTest, DurableHeadNeverPassesWhatWasSynced) {
  OpenLog();
  AppendAcked(3);
  env_.BlockSyncs();
  ASSERT_OK(log_->Append(PayloadFor(4, kPayload)));
  env_.WaitForBlockedSync();
  // 5..20 wait for the next batch while 4's sync is in flight; it fails.
  for (uint64_t p = 5; p <= 20; ++p) ASSERT_OK(log_->Append(PayloadFor(p, kPayload)));
  env_.FailSyncs();
  env_.UnblockSyncs();
  for (uint64_t p = 4; p <= 20; ++p) {
    Status s = log_->WaitDurable(Position(p));
    EXPECT_TRUE(s.IsIOError()) << p << ": " << s.ToString();
  }
  ExpectFailed(3);
  // Every listener call after the failure reports it, none moves the head.
  for (const auto& [head, status] : listener_.calls()) {
    if (!status.ok()) {
      EXPECT_EQ(head, 3u);
    }
  }
  EXPECT_EQ(listener_.acked(), 3u);
  env_.FailSyncs(false);
  OpenLog();
  ExpectConsistentPrefix(3);
}

TEST_F(FaultTest, FailedDirectorySyncOnRollFailsAppends) {
  segment_bytes_ = 1024;  // 7 entries a segment
  OpenLog();
  AppendAcked(7);
  env_.FailSyncDirs();
  auto p = log_->Append(PayloadFor(8, kPayload));
  ASSERT_OK(p);
  Status s = log_->WaitDurable(*p);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  ExpectFailed(7);
  env_.FailSyncDirs(false);
  OpenLog();
  ExpectConsistentPrefix(7);
  AppendAcked(3);
  ExpectConsistentPrefix(10);
}

TEST_F(FaultTest, TornSegmentHeaderFromAFailedRollIsRecreated) {
  segment_bytes_ = 1024;
  OpenLog();
  AppendAcked(7);  // the first segment is full
  // The next append rolls: its first write is the new segment's header,
  // which the disk cuts short.
  env_.FailWrite(1, /*prefix_bytes=*/10);
  auto p = log_->Append(PayloadFor(8, kPayload));
  ASSERT_OK(p);
  EXPECT_TRUE(log_->WaitDurable(*p).IsIOError());
  ExpectFailed(7);
  ASSERT_EQ(FileSize(SegmentPath(dir_.path(), 8)), 10u);

  RecoveryReport report;
  OpenLog(&report);
  EXPECT_EQ(report.head, Position(7));
  EXPECT_EQ(report.tail_segment, SegmentPath(dir_.path(), 8));
  EXPECT_EQ(report.tail_bytes, 10u);
  EXPECT_EQ(FileSize(SegmentPath(dir_.path(), 8)), kSegmentHeaderBytes);
  AppendAcked(1);
  ExpectConsistentPrefix(8);
}

TEST_F(FaultTest, FailedWriteAfterARollInOneBatch) {
  // One batch that fills a segment, rolls and goes on: the write of its
  // second half fails. What was synced before the roll is valid on disk but
  // was never acknowledged; the durable head stays put.
  segment_bytes_ = 1024;
  OpenLog();
  AppendAcked(1);
  env_.BlockSyncs();
  ASSERT_OK(log_->Append(PayloadFor(2, kPayload)));
  env_.WaitForBlockedSync();
  for (uint64_t p = 3; p <= 12; ++p) ASSERT_OK(log_->Append(PayloadFor(p, kPayload)));
  // Batch 3..12: write 3..7, sync, header of segment 8, then 8..12 fails.
  env_.FailWrite(3);
  env_.UnblockSyncs();
  EXPECT_TRUE(log_->WaitDurable(Position(12)).IsIOError());
  ExpectFailed(2);
  RecoveryReport report;
  OpenLog(&report);
  EXPECT_EQ(report.head, Position(7));
  ExpectConsistentPrefix(2);
  AppendAcked(1);
  EXPECT_EQ(log_->durable_head(), Position(8));
}

// A power loss (LevelDB's fault_injection_test): everything not synced is
// lost. In mode `always`, no acknowledged entry may be.
TEST_F(FaultTest, PowerLossKeepsEveryAcknowledgedEntry) {
  segment_bytes_ = 4096;  // losses land in rolls too
  uint64_t acked = 0;
  for (uint64_t round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    OpenLog();
    uint64_t next = log_->durable_head().value() + 1;
    // Appends do not wait, so batches form; the plug is pulled while the
    // writer is busy with more.
    const uint64_t target = next + 40 + 13 * round;
    while (listener_.acked() < target) {
      for (int i = 0; i < 8; ++i) {
        auto p = log_->Append(PayloadFor(next, kPayload));
        ASSERT_OK(p);
        ASSERT_EQ(p->value(), next);
        ++next;
      }
      // Paced, so that the queue stays small next to what the disk does.
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    env_.Deactivate();
    for (int i = 0; i < 20; ++i) {
      auto p = log_->Append(PayloadFor(next, kPayload));
      if (!p.ok()) break;
      ++next;
    }
    acked = listener_.acked();
    log_.reset();
    env_.DropUnsyncedData();
    OpenLog();
    ExpectConsistentPrefix(acked);
    if (HasFatalFailure()) return;
  }
}

TEST_F(FaultTest, PowerLossInNeverModeLeavesAConsistentPrefix) {
  segment_bytes_ = 4096;
  for (uint64_t round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    log_.reset();
    LogOptions o = Options();
    o.sync.mode = SyncPolicy::Mode::kNever;
    auto opened = Log::Open(o);
    ASSERT_OK(opened);
    log_ = std::move(opened).value();
    uint64_t next = log_->durable_head().value() + 1;
    for (int i = 0; i < 100; ++i) {
      ASSERT_EQ(log_->Append(PayloadFor(next, kPayload))->value(), next);
      ++next;
    }
    ASSERT_OK(log_->WaitDurable(Position(next - 1)));
    env_.Deactivate();
    log_.reset();
    env_.DropUnsyncedData();  // the unsynced tail of the active segment is gone
    OpenLog();
    // Sealed segments were synced when they were sealed.
    ExpectConsistentPrefix(0);
    if (HasFatalFailure()) return;
  }
}

// ---- A real full disk ----

// A 1 MiB tmpfs mounted for the test (we run as root; without the privilege
// the test is skipped).
class FullDiskTest : public testing::Test {
 protected:
  void SetUp() override {
    mount_ = dir_.Sub("mnt");
    ASSERT_EQ(::mkdir(mount_.c_str(), 0755), 0) << strerror(errno);
    if (::mount("tmpfs", mount_.c_str(), "tmpfs", 0, "size=1m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs at " << mount_ << ": " << strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    log_.reset();
    if (mounted_ && ::umount(mount_.c_str()) != 0) {
      ADD_FAILURE() << "umount " << mount_ << ": " << strerror(errno);
      (void)::umount2(mount_.c_str(), MNT_DETACH);
    }
  }

  TempDir dir_;  // destroyed after TearDown unmounted what is in it
  std::string mount_;
  bool mounted_ = false;
  std::unique_ptr<Log> log_;
};

TEST_F(FullDiskTest, FillingTheDiskFailsAppendsUntilReopen) {
  // Segments of 200 KiB: the disk fills in the middle of the sixth.
  LogOptions o = TestOptions(mount_ + "/wal", 200 << 10);
  auto opened = Log::Open(o);
  ASSERT_OK(opened);
  log_ = std::move(opened).value();
  constexpr size_t kSize = 3000;  // not a divisor of the page size
  uint64_t acked = 0;
  Status failure;
  for (uint64_t p = 1; p < 10000; ++p) {
    auto got = log_->Append(PayloadFor(p, kSize));
    if (!got.ok()) {
      failure = got.status();
      break;
    }
    Status s = log_->WaitDurable(*got);
    if (!s.ok()) {
      failure = s;
      break;
    }
    acked = p;
  }
  ASSERT_FALSE(failure.ok()) << "a 1 MiB disk never filled";
  EXPECT_TRUE(failure.IsIOError()) << failure.ToString();
  EXPECT_NE(failure.message().find(strerror(ENOSPC)), std::string::npos) << failure.ToString();
  EXPECT_GT(acked, 100u);
  // Sticky: the log takes nothing more, and says why.
  EXPECT_EQ(log_->Health().ToString(), failure.ToString());
  auto refused = log_->Append("x");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsIOError());
  EXPECT_EQ(log_->durable_head(), Position(acked));

  // Reopen on the still-full disk, first read-only (which needs no space),
  // then to write: whatever the failed write left is cut, every
  // acknowledged entry is there.
  log_.reset();
  RecoveryReport report;
  o.read_only = true;
  opened = Log::Open(o, &report);
  ASSERT_OK(opened);
  EXPECT_GE(report.head, Position(acked));
  std::vector<ReadEntry> got;
  ASSERT_OK(ReadAll(opened->get(), &got));
  ASSERT_EQ(got.size(), report.head.value());
  opened = Status::Unavailable("closed");
  o.read_only = false;
  opened = Log::Open(o, &report);
  ASSERT_OK(opened);
  log_ = std::move(opened).value();
  EXPECT_GE(report.head, Position(acked));
  ASSERT_OK(ReadAll(log_.get(), &got));
  ASSERT_EQ(got.size(), report.head.value());
  for (uint64_t p = 1; p <= got.size(); ++p) ASSERT_EQ(got[p - 1].payload, PayloadFor(p, kSize));
}

}  // namespace
}  // namespace eventide::wal
