// The writer side of Log: positions, group commit, the durable listener,
// segment rolls, sync modes, back-pressure and the directory lock.
#include "wal/log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/wal/fault_env.h"
#include "tests/wal/test_util.h"

namespace eventide::wal {
namespace {

// Records every call of the durable listener.
class ListenerLog {
 public:
  Log::DurableListener Callback() {
    return [this](Position durable, const Status& s) {
      std::lock_guard<std::mutex> lk(mu_);
      calls_.emplace_back(durable.value(), s);
    };
  }
  std::vector<std::pair<uint64_t, Status>> calls() const {
    std::lock_guard<std::mutex> lk(mu_);
    return calls_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<uint64_t, Status>> calls_;
};

// Polls `done` until it holds; fails the test after a minute (a hang, not a
// timing threshold).
template <typename F>
bool Eventually(F done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class LogTest : public testing::Test {
 protected:
  LogOptions Options(uint64_t segment_bytes = 64ull << 20) {
    return TestOptions(dir_.path(), segment_bytes, &env_);
  }
  std::unique_ptr<Log> OpenLog(const LogOptions& o, RecoveryReport* report = nullptr) {
    auto log = Log::Open(o, report);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  TempDir dir_;
  FaultEnv env_;
};

TEST_F(LogTest, PositionsAreGapFreeFromOne) {
  auto log = OpenLog(Options());
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->durable_head(), Position());
  EXPECT_EQ(log->first_position(), Position(1));
  for (uint64_t i = 1; i <= 100; ++i) {
    auto p = log->Append(PayloadFor(i, 20));
    ASSERT_OK(p);
    EXPECT_EQ(p->value(), i);
  }
  ASSERT_OK(log->WaitDurable(Position(100)));
  EXPECT_EQ(log->durable_head(), Position(100));
  std::vector<ReadEntry> got;
  ASSERT_OK(ReadAll(log.get(), &got));
  ASSERT_EQ(got.size(), 100u);
  for (uint64_t i = 1; i <= 100; ++i) {
    EXPECT_EQ(got[i - 1].position, i);
    EXPECT_EQ(got[i - 1].payload, PayloadFor(i, 20));
  }
}

TEST_F(LogTest, EmptyPayloadIsAnEntry) {
  auto log = OpenLog(Options());
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(AppendDurable(log.get(), ""), Position(1));
  EXPECT_EQ(AppendDurable(log.get(), "x"), Position(2));
  std::vector<ReadEntry> got;
  ASSERT_OK(ReadAll(log.get(), &got));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "");
  EXPECT_EQ(got[1].payload, "x");
}

TEST_F(LogTest, EntriesCarryATimestamp) {
  auto log = OpenLog(Options());
  ASSERT_NE(log, nullptr);
  int64_t before = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  ASSERT_EQ(AppendDurable(log.get(), "a"), Position(1));
  auto reader = log->NewReader();
  Entry e;
  auto r = reader->Next(&e);
  ASSERT_OK(r);
  ASSERT_TRUE(*r);
  // The wall clock may step, but not by a day between two lines.
  EXPECT_GT(e.timestamp_us, before - int64_t{86400} * 1000000);
}

TEST_F(LogTest, PositionsContinueAfterReopen) {
  {
    auto log = OpenLog(Options(1024));
    ASSERT_NE(log, nullptr);
    for (uint64_t i = 1; i <= 30; ++i) ASSERT_OK(log->Append(PayloadFor(i, 100)));
    ASSERT_OK(log->WaitDurable(Position(30)));
  }
  RecoveryReport report;
  {
    auto log = OpenLog(Options(1024), &report);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(report.first, Position(1));
    EXPECT_EQ(report.head, Position(30));
    EXPECT_GT(report.segments, 1u);
    EXPECT_EQ(report.tail_bytes, 0u);
    EXPECT_EQ(log->durable_head(), Position(30));
    for (uint64_t i = 31; i <= 40; ++i) {
      auto p = log->Append(PayloadFor(i, 100));
      ASSERT_OK(p);
      EXPECT_EQ(p->value(), i);
    }
    ASSERT_OK(log->WaitDurable(Position(40)));
  }
  auto log = OpenLog(Options(1024), &report);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(report.head, Position(40));
  std::vector<ReadEntry> got;
  ASSERT_OK(ReadAll(log.get(), &got));
  ASSERT_EQ(got.size(), 40u);
  for (uint64_t i = 1; i <= 40; ++i) EXPECT_EQ(got[i - 1].payload, PayloadFor(i, 100));
}

TEST_F(LogTest, ClosingWritesPendingAppends) {
  {
    auto log = OpenLog(Options(4096));
    ASSERT_NE(log, nullptr);
    for (uint64_t i = 1; i <= 500; ++i) ASSERT_OK(log->Append(PayloadFor(i, 50)));
    // No WaitDurable: the destructor must finish the work.
  }
  RecoveryReport report;
  auto log = OpenLog(Options(4096), &report);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(report.head, Position(500));
  EXPECT_EQ(report.tail_bytes, 0u);
}

TEST_F(LogTest, ConcurrentAppendsGetUniqueGapFreePositions) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 300;
  constexpr uint64_t kTotal = kThreads * kPerThread;
  auto log = OpenLog(Options(16 << 10));  // small segments: rolls under load too
  ASSERT_NE(log, nullptr);
  std::vector<std::vector<uint64_t>> positions(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        auto p = log->Append("t" + std::to_string(t) + "-" + std::to_string(k));
        if (p.ok()) positions[t].push_back(p->value());
      }
    });
  }
  for (auto& th : threads) th.join();

  std::vector<uint64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(positions[t].size(), static_cast<size_t>(kPerThread));
    // Each thread's own appends are ordered.
    EXPECT_TRUE(std::is_sorted(positions[t].begin(), positions[t].end()));
    all.insert(all.end(), positions[t].begin(), positions[t].end());
  }
  std::sort(all.begin(), all.end());
  for (uint64_t i = 0; i < kTotal; ++i) ASSERT_EQ(all[i], i + 1);

  ASSERT_OK(log->WaitDurable(Position(kTotal)));
  std::vector<ReadEntry> got;
  ASSERT_OK(ReadAll(log.get(), &got));
  ASSERT_EQ(got.size(), kTotal);
  for (int t = 0; t < kThreads; ++t) {
    for (int k = 0; k < kPerThread; ++k) {
      uint64_t p = positions[t][k];
      EXPECT_EQ(got[p - 1].position, p);
      EXPECT_EQ(got[p - 1].payload, "t" + std::to_string(t) + "-" + std::to_string(k));
    }
  }
}

TEST_F(LogTest, DurableListenerIsCalledInOrderAndCoversEveryAppend) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  constexpr uint64_t kTotal = kThreads * kPerThread;
  auto log = OpenLog(Options(16 << 10));
  ASSERT_NE(log, nullptr);
  ListenerLog calls;
  log->SetDurableListener(calls.Callback());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < kPerThread; ++k) (void)log->Append("x");
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_OK(log->WaitDurable(Position(kTotal)));
  auto got = calls.calls();
  ASSERT_FALSE(got.empty());
  uint64_t prev = 0;
  for (const auto& [head, status] : got) {
    EXPECT_OK(status);
    EXPECT_GT(head, prev);  // strictly increasing: one call per batch
    prev = head;
  }
  EXPECT_EQ(got.back().first, kTotal);
}

TEST_F(LogTest, GroupCommitSharesOneSync) {
  auto log = OpenLog(Options());
  ASSERT_NE(log, nullptr);
  ListenerLog calls;
  log->SetDurableListener(calls.Callback());

  // The first append's sync is held, so that the next appends all arrive
  // while a sync is in flight: they must share the next one.
  env_.BlockSyncs();
  ASSERT_OK(log->Append("first"));
  env_.WaitForBlockedSync();
  uint64_t syncs_before = env_.syncs();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < 25; ++k) ASSERT_OK(log->Append("grouped"));
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(log->durable_head(), Position());
  env_.UnblockSyncs();
  ASSERT_OK(log->WaitDurable(Position(101)));

  EXPECT_EQ(env_.syncs() - syncs_before, 1u) << "100 appends should share one fdatasync";
  auto got = calls.calls();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, 1u);
  EXPECT_EQ(got[1].first, 101u);
}

TEST_F(LogTest, WaitDurableBlocksUntilSynced) {
  auto log = OpenLog(Options());
  ASSERT_NE(log, nullptr);
  ASSERT_EQ(AppendDurable(log.get(), "a"), Position(1));
  env_.BlockSyncs();
  auto p = log->Append("b");
  ASSERT_OK(p);
  env_.WaitForBlockedSync();
  std::atomic<bool> returned{false};
  Status waited;
  std::thread waiter([&] {
    waited = log->WaitDurable(*p);
    returned = true;
  });
  // The entry is written but its sync is held: it is not durable.
  EXPECT_FALSE(returned.load());
  EXPECT_EQ(log->durable_head(), Position(1));
  env_.UnblockSyncs();
  waiter.join();
  EXPECT_OK(waited);
  EXPECT_GE(log->durable_head(), *p);
}

TEST_F(LogTest, WaitDurableReturnsAtOnceForDurablePositions) {
  auto log = OpenLog(Options());
  ASSERT_NE(log, nullptr);
  ASSERT_EQ(AppendDurable(log.get(), "a"), Position(1));
  ASSERT_EQ(AppendDurable(log.get(), "b"), Position(2));
  EXPECT_OK(log->WaitDurable(Position(1)));
  EXPECT_OK(log->WaitDurable(Position(2)));
  EXPECT_OK(log->WaitDurable(Position()));
}

TEST_F(LogTest, SegmentRollsAtSegmentBytes) {
  constexpr uint64_t kSegmentBytes = 1024;
  constexpr size_t kPayload = 100;
  constexpr uint64_t kEntry = kEntryHeaderBytes + kPayload;
  auto log = OpenLog(Options(kSegmentBytes));
  ASSERT_NE(log, nullptr);
  for (uint64_t i = 1; i <= 50; ++i) ASSERT_OK(log->Append(PayloadFor(i, kPayload)));
  ASSERT_OK(log->WaitDurable(Position(50)));

  auto segments = log->Segments();
  auto files = SegmentFiles(dir_.path());
  ASSERT_EQ(files.size(), segments.size());
  // 7 entries of 132 bytes fit after the 32-byte header; an 8th would not.
  ASSERT_EQ(segments.size(), 8u);
  uint64_t next = 1;
  for (size_t i = 0; i < segments.size(); ++i) {
    const SegmentInfo& s = segments[i];
    EXPECT_EQ(files[i], SegmentFileName(s.base));  // named by the first position
    EXPECT_EQ(s.base, Position(next));
    ASSERT_FALSE(s.last.IsNone());
    uint64_t size = FileSize(s.path);
    EXPECT_EQ(size, s.bytes);
    EXPECT_EQ(size, kSegmentHeaderBytes + (s.last.value() - s.base.value() + 1) * kEntry);
    EXPECT_LE(size, kSegmentBytes);
    if (i + 1 < segments.size()) {
      EXPECT_GT(size + kEntry, kSegmentBytes) << "segment " << i << " was sealed early";
    }
    next = s.last.value() + 1;
  }
  EXPECT_EQ(next, 51u);
  std::vector<ReadEntry> got;
  ASSERT_OK(ReadAll(log.get(), &got));
  ASSERT_EQ(got.size(), 50u);
  for (uint64_t i = 1; i <= 50; ++i) EXPECT_EQ(got[i - 1].payload, PayloadFor(i, kPayload));
}

TEST_F(LogTest, CreatingASegmentSyncsTheDirectory) {
  auto log = OpenLog(Options(1024));
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(env_.sync_dirs(), 2u);  // the first segment, and the SYNCED mark
  for (uint64_t i = 1; i <= 50; ++i) ASSERT_OK(log->Append(PayloadFor(i, 100)));
  ASSERT_OK(log->WaitDurable(Position(50)));
  EXPECT_EQ(env_.sync_dirs(), log->Segments().size() + 1);
}

// The SYNCED mark follows every fdatasync of the active segment: in always
// mode it records every durable byte; in never mode only what a seal synced.
TEST_F(LogTest, TheSyncedMarkRecordsWhatWasSynced) {
  for (auto mode : {SyncPolicy::Mode::kAlways, SyncPolicy::Mode::kNever}) {
    SCOPED_TRACE(mode == SyncPolicy::Mode::kAlways ? "always" : "never");
    TempDir dir;
    LogOptions o = Options(1024);
    o.dir = dir.path();
    o.sync.mode = mode;
    auto log = OpenLog(o);
    ASSERT_NE(log, nullptr);
    for (uint64_t i = 1; i <= 30; ++i) {
      ASSERT_OK(log->Append(PayloadFor(i, 60)));
      ASSERT_OK(log->WaitDurable(Position(i)));
      SyncedMark m;
      ASSERT_EQ(DecodeSyncedMark(ReadFile(dir.Sub("SYNCED")), &m), "");
      SegmentInfo last = log->Segments().back();
      EXPECT_EQ(m.base, last.base);
      if (mode == SyncPolicy::Mode::kAlways) {
        EXPECT_EQ(m.bytes, last.bytes);
      } else {
        EXPECT_EQ(m.bytes, kSegmentHeaderBytes);
      }
    }
    ASSERT_GE(log->Segments().size(), 2u);
  }
}

TEST_F(LogTest, SealedSegmentIsSyncedEvenInNeverMode) {
  LogOptions o = Options(1024);
  o.sync.mode = SyncPolicy::Mode::kNever;
  auto log = OpenLog(o);
  ASSERT_NE(log, nullptr);
  uint64_t syncs_at_open = env_.syncs();  // the new segment's header
  // One at a time, so that each append is its own batch.
  for (uint64_t i = 1; i <= 7; ++i)
    ASSERT_EQ(AppendDurable(log.get(), PayloadFor(i, 100)), Position(i));
  EXPECT_EQ(env_.syncs(), syncs_at_open) << "never mode syncs nothing while a segment fills";
  ASSERT_EQ(AppendDurable(log.get(), PayloadFor(8, 100)), Position(8));
  ASSERT_EQ(log->Segments().size(), 2u);
  // The roll: the sealed segment's entries, then the new segment's header.
  EXPECT_EQ(env_.syncs(), syncs_at_open + 2);
}

TEST_F(LogTest, OversizedEntryGetsItsOwnSegment) {
  auto log = OpenLog(Options(512));
  ASSERT_NE(log, nullptr);
  std::vector<size_t> sizes = {10, 2000, 10, 10, 3000, 3000, 10};
  for (size_t i = 0; i < sizes.size(); ++i) ASSERT_OK(log->Append(PayloadFor(i + 1, sizes[i])));
  ASSERT_OK(log->WaitDurable(Position(sizes.size())));
  auto segments = log->Segments();
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& s : segments) ranges.emplace_back(s.base.value(), s.last.value());
  std::vector<std::pair<uint64_t, uint64_t>> want = {{1, 1}, {2, 2}, {3, 4},
                                                     {5, 5}, {6, 6}, {7, 7}};
  EXPECT_EQ(ranges, want);
  std::vector<ReadEntry> got;
  ASSERT_OK(ReadAll(log.get(), &got));
  ASSERT_EQ(got.size(), sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) EXPECT_EQ(got[i].payload, PayloadFor(i + 1, sizes[i]));
}

TEST_F(LogTest, PayloadOverTheMaximumIsRefused) {
  auto log = OpenLog(Options());
  ASSERT_NE(log, nullptr);
  std::string huge(size_t{kMaxPayloadBytes} + 1, 'x');
  auto p = log->Append(huge);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.status().IsInvalidArgument()) << p.status().ToString();
  // Refusing it assigns no position and does not fail the log.
  EXPECT_OK(log->Health());
  EXPECT_EQ(AppendDurable(log.get(), "small"), Position(1));
}

TEST_F(LogTest, PendingBytesAreBounded) {
  LogOptions o = Options();
  o.max_pending_bytes = 4096;
  auto log = OpenLog(o);
  ASSERT_NE(log, nullptr);
  env_.BlockSyncs();
  ASSERT_OK(log->Append("first"));
  env_.WaitForBlockedSync();  // the writer is busy; appends now queue up
  constexpr uint64_t kEntry = kEntryHeaderBytes + 100;
  uint64_t accepted = 0;
  Status refused;
  for (int i = 0; i < 1000; ++i) {
    auto p = log->Append(PayloadFor(i, 100));
    if (!p.ok()) {
      refused = p.status();
      break;
    }
    ++accepted;
  }
  EXPECT_TRUE(refused.IsUnavailable()) << refused.ToString();
  EXPECT_GE(accepted, 1u);
  // The queue holds at most one entry beyond the bound.
  EXPECT_LT(accepted * kEntry, o.max_pending_bytes + kEntry);
  EXPECT_OK(log->Health());  // back-pressure is not a failure
  env_.UnblockSyncs();
  ASSERT_OK(log->WaitDurable(Position(1 + accepted)));
  // Once the queue drains, appends are taken again.
  EXPECT_EQ(AppendDurable(log.get(), "after"), Position(2 + accepted));
}

void CheckModeMakesEntriesDurableAndReadable(const std::string& mode) {
  TempDir dir;
  FaultEnv env;
  LogOptions o = TestOptions(dir.path(), 2048, &env);
  auto policy = SyncPolicy::Parse(mode);
  ASSERT_OK(policy);
  o.sync = *policy;
  {
    auto opened = Log::Open(o);
    ASSERT_OK(opened);
    auto& log = *opened;
    uint64_t syncs_at_open = env.syncs();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int k = 0; k < 50; ++k) ASSERT_OK(log->Append(PayloadFor(k, 60)));
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_OK(log->WaitDurable(Position(200)));
    EXPECT_EQ(log->durable_head(), Position(200));
    std::vector<ReadEntry> got;
    ASSERT_OK(ReadAll(log.get(), &got));
    EXPECT_EQ(got.size(), 200u);
    if (policy->mode == SyncPolicy::Mode::kAlways) {
      EXPECT_EQ(env.unsynced_bytes(), 0u) << "always mode: durable means synced";
    }
    if (policy->mode == SyncPolicy::Mode::kNever) {
      EXPECT_GT(env.unsynced_bytes(), 0u) << "never mode synced more than segment rolls";
    }
    if (policy->mode == SyncPolicy::Mode::kBatch) {
      // Durable once written; the fdatasync follows within batch_ms.
      EXPECT_TRUE(Eventually([&] { return env.unsynced_bytes() == 0; }))
          << "batch mode never synced the last writes";
    }
    EXPECT_GT(env.syncs(), syncs_at_open);  // at least the rolls
  }
  auto reopened = Log::Open(o);
  ASSERT_OK(reopened);
  std::vector<ReadEntry> got;
  ASSERT_OK(ReadAll(reopened->get(), &got));
  ASSERT_EQ(got.size(), 200u);
  for (uint64_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].position, i + 1);
}

TEST(LogModeTest, AlwaysModeMakesEntriesDurableAndReadable) {
  CheckModeMakesEntriesDurableAndReadable("always");
}

TEST(LogModeTest, BatchModeMakesEntriesDurableAndReadable) {
  CheckModeMakesEntriesDurableAndReadable("batch:2");
}

TEST(LogModeTest, NeverModeMakesEntriesDurableAndReadable) {
  CheckModeMakesEntriesDurableAndReadable("never");
}

TEST_F(LogTest, AlwaysModeSyncsEveryBatch) {
  auto log = OpenLog(Options());
  ASSERT_NE(log, nullptr);
  uint64_t syncs = env_.syncs();
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(AppendDurable(log.get(), "x"), Position(i));
  EXPECT_EQ(env_.syncs(), syncs + 5);
}

TEST_F(LogTest, SecondOpenOfTheSameDirectoryFails) {
  auto log = OpenLog(Options());
  ASSERT_NE(log, nullptr);
  auto second = Log::Open(Options());
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsUnavailable()) << second.status().ToString();
  EXPECT_NE(second.status().message().find("LOCK"), std::string::npos);
  // The failed open changed nothing for the first.
  EXPECT_EQ(AppendDurable(log.get(), "a"), Position(1));
  log.reset();
  // Closing releases the lock.
  auto third = Log::Open(Options());
  EXPECT_OK(third);
}

TEST_F(LogTest, ReadOnlyOpenRefusesAppend) {
  {
    auto log = OpenLog(Options());
    ASSERT_NE(log, nullptr);
    ASSERT_EQ(AppendDurable(log.get(), "a"), Position(1));
  }
  LogOptions o = Options();
  o.read_only = true;
  auto log = OpenLog(o);
  ASSERT_NE(log, nullptr);
  auto p = log->Append("b");
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.status().IsUnavailable()) << p.status().ToString();
  EXPECT_TRUE(log->WaitDurable(Position(2)).IsUnavailable());
  std::vector<ReadEntry> got;
  ASSERT_OK(ReadAll(log.get(), &got));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "a");
}

TEST_F(LogTest, ReadOnlyOpenTakesNoLock) {
  auto writer = OpenLog(Options());
  ASSERT_NE(writer, nullptr);
  ASSERT_EQ(AppendDurable(writer.get(), "a"), Position(1));
  LogOptions o = Options();
  o.read_only = true;
  auto reader = OpenLog(o);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->durable_head(), Position(1));
}

TEST_F(LogTest, ReadOnlyRefreshSeesNewEntries) {
  auto writer = OpenLog(Options(1024));
  ASSERT_NE(writer, nullptr);
  ASSERT_EQ(AppendDurable(writer.get(), PayloadFor(1, 100)), Position(1));
  LogOptions o = Options(1024);
  o.read_only = true;
  auto log = OpenLog(o);
  ASSERT_NE(log, nullptr);
  for (uint64_t i = 2; i <= 30; ++i) ASSERT_OK(writer->Append(PayloadFor(i, 100)));  // rolls
  ASSERT_OK(writer->WaitDurable(Position(30)));
  EXPECT_EQ(log->durable_head(), Position(1));
  ASSERT_OK(log->Refresh());
  EXPECT_EQ(log->durable_head(), Position(30));
  EXPECT_EQ(log->Segments().size(), writer->Segments().size());
  std::vector<ReadEntry> got;
  ASSERT_OK(ReadAll(log.get(), &got));
  ASSERT_EQ(got.size(), 30u);
  for (uint64_t i = 1; i <= 30; ++i) EXPECT_EQ(got[i - 1].payload, PayloadFor(i, 100));
}

// A read-only Refresh that runs between the writer's creating the next
// segment file and its writing that file's header finds an empty file: the
// segment is being created, not damaged, and a later Refresh reads it.
TEST_F(LogTest, ReadOnlyRefreshWaitsOutASegmentBeingCreated) {
  {
    auto writer = OpenLog(Options(1024));
    ASSERT_NE(writer, nullptr);
    for (uint64_t i = 1; i <= 7; ++i) ASSERT_OK(writer->Append(PayloadFor(i, 100)));
    ASSERT_OK(writer->WaitDurable(Position(7)));  // segment 1 is full
  }
  LogOptions o = Options(1024);
  o.read_only = true;
  auto log = OpenLog(o);
  ASSERT_NE(log, nullptr);
  auto reader = log->NewReader();
  ASSERT_OK(reader->Seek(Position(8)));
  // The writer has created segment 8 and not yet written its header.
  WriteFile(SegmentPath(dir_.path(), 8), "");
  EXPECT_OK(log->Refresh());
  EXPECT_EQ(log->durable_head(), Position(7));
  WriteFile(SegmentPath(dir_.path(), 8), std::string(kSegmentHeaderBytes, '\0'));
  EXPECT_OK(log->Refresh());
  EXPECT_EQ(log->durable_head(), Position(7));
  // The writer finishes the segment (here: recovery recreates it) and appends.
  {
    auto writer = OpenLog(Options(1024));
    ASSERT_NE(writer, nullptr);
    for (uint64_t i = 8; i <= 10; ++i) ASSERT_OK(writer->Append(PayloadFor(i, 100)));
    ASSERT_OK(writer->WaitDurable(Position(10)));
  }
  ASSERT_OK(log->Refresh());
  EXPECT_EQ(log->durable_head(), Position(10));
  Entry e;
  for (uint64_t i = 8; i <= 10; ++i) {
    auto r = reader->Next(&e);
    ASSERT_OK(r);
    ASSERT_TRUE(*r);
    EXPECT_EQ(e.position, Position(i));
    EXPECT_EQ(e.payload, PayloadFor(i, 100));
  }
}

// The same race at Open: a read-only log opened while the newest segment's
// header was not yet written picks that segment up once it is.
TEST_F(LogTest, ReadOnlyOpenDuringASegmentCreationSeesItLater) {
  {
    auto writer = OpenLog(Options(1024));
    ASSERT_NE(writer, nullptr);
    for (uint64_t i = 1; i <= 7; ++i) ASSERT_OK(writer->Append(PayloadFor(i, 100)));
    ASSERT_OK(writer->WaitDurable(Position(7)));
  }
  WriteFile(SegmentPath(dir_.path(), 8), "");
  LogOptions o = Options(1024);
  o.read_only = true;
  auto log = OpenLog(o);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->durable_head(), Position(7));
  EXPECT_OK(log->Refresh());
  {
    auto writer = OpenLog(Options(1024));
    ASSERT_NE(writer, nullptr);
    for (uint64_t i = 8; i <= 10; ++i) ASSERT_OK(writer->Append(PayloadFor(i, 100)));
    ASSERT_OK(writer->WaitDurable(Position(10)));
  }
  ASSERT_OK(log->Refresh());
  EXPECT_EQ(log->durable_head(), Position(10));
  std::vector<ReadEntry> got;
  ASSERT_OK(ReadAll(log.get(), &got));
  ASSERT_EQ(got.size(), 10u);
  for (uint64_t i = 1; i <= 10; ++i) EXPECT_EQ(got[i - 1].payload, PayloadFor(i, 100));
}

// Once a segment's header has been seen whole, damage to it is not mistaken
// for a segment being created.
TEST_F(LogTest, ReadOnlyRefreshReportsADamagedSegmentHeader) {
  {
    auto writer = OpenLog(Options(1024));
    ASSERT_NE(writer, nullptr);
    for (uint64_t i = 1; i <= 3; ++i) ASSERT_OK(writer->Append(PayloadFor(i, 100)));
    ASSERT_OK(writer->WaitDurable(Position(3)));
  }
  LogOptions o = Options(1024);
  o.read_only = true;
  auto log = OpenLog(o);
  ASSERT_NE(log, nullptr);
  IncrementByte(SegmentPath(dir_.path(), 1), 0);
  Status s = log->Refresh();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

// A follower (read-only log) reads past its head into a torn tail left by a
// writer that died; the writer restarts, cuts the tail and writes new
// entries over the same offsets. The follower must read the new bytes, not
// what it had read ahead of its head before the cut.
TEST_F(LogTest, FollowerReadsEntriesWrittenOverACutTail) {
  {
    auto writer = OpenLog(Options());
    ASSERT_NE(writer, nullptr);
    for (uint64_t i = 1; i <= 3; ++i) ASSERT_OK(writer->Append(PayloadFor(i, 100)));
    ASSERT_OK(writer->WaitDurable(Position(3)));
  }
  // The writer died while writing entry 4: a header and part of a payload.
  const std::string segment = SegmentPath(dir_.path(), 1);
  std::string torn(kEntryHeaderBytes, '\0');
  const std::string lost(200, 'L');
  EncodeEntryHeader(Position(4), 0, lost, torn.data());
  WriteFile(segment, ReadFile(segment) + torn + lost.substr(0, 50));

  LogOptions o = Options();
  o.read_only = true;
  auto log = OpenLog(o);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->durable_head(), Position(3));
  auto reader = log->NewReader();
  Entry e;
  for (uint64_t i = 1; i <= 3; ++i) {
    auto r = reader->Next(&e);
    ASSERT_OK(r);
    ASSERT_TRUE(*r);
  }
  auto r = reader->Next(&e);
  ASSERT_OK(r);
  EXPECT_FALSE(*r);

  {
    auto writer = OpenLog(Options());  // cuts the torn entry
    ASSERT_NE(writer, nullptr);
    for (uint64_t i = 4; i <= 6; ++i) ASSERT_OK(writer->Append(PayloadFor(i, 100)));
    ASSERT_OK(writer->WaitDurable(Position(6)));
  }
  ASSERT_OK(log->Refresh());
  EXPECT_EQ(log->durable_head(), Position(6));
  for (uint64_t i = 4; i <= 6; ++i) {
    r = reader->Next(&e);
    ASSERT_OK(r);
    ASSERT_TRUE(*r);
    EXPECT_EQ(e.position, Position(i));
    EXPECT_EQ(e.payload, PayloadFor(i, 100));
  }
}

TEST_F(LogTest, ReadOnlyOpenOfAMissingLogIsNotFound) {
  LogOptions o = Options();
  o.read_only = true;
  auto log = Log::Open(o);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().IsNotFound()) << log.status().ToString();
  EXPECT_TRUE(SegmentFiles(dir_.path()).empty()) << "a read-only open created a segment";

  o.dir = dir_.Sub("missing");
  log = Log::Open(o);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().IsNotFound()) << log.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(o.dir));
}

TEST_F(LogTest, OpenCreatesAMissingDirectory) {
  LogOptions o = Options();
  o.dir = dir_.Sub("wal");
  auto log = OpenLog(o);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(SegmentFiles(o.dir), std::vector<std::string>{SegmentFileName(Position(1))});
}

TEST_F(LogTest, OpenRejectsBadOptions) {
  LogOptions o = Options();
  o.dir = "";
  EXPECT_TRUE(Log::Open(o).status().IsInvalidArgument());
  o = Options(kSegmentHeaderBytes + kEntryHeaderBytes - 1);
  EXPECT_TRUE(Log::Open(o).status().IsInvalidArgument());
  WriteFile(dir_.Sub("file"), "x");
  o = Options();
  o.dir = dir_.Sub("file");
  EXPECT_TRUE(Log::Open(o).status().IsInvalidArgument());
}

}  // namespace
}  // namespace eventide::wal
