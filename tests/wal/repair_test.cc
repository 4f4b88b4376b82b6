// TruncateAfter: the operator's repair (`eventide-log repair --truncate-after`).
#include "wal/repair.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/wal/fault_env.h"
#include "tests/wal/test_util.h"
#include "wal/log.h"

namespace eventide::wal {
namespace {

constexpr uint64_t kSegmentBytes = 1024;
constexpr size_t kPayload = 100;  // 132-byte entries, 7 a segment
constexpr uint64_t kEntry = kEntryHeaderBytes + kPayload;

class RepairTest : public testing::Test {
 protected:
  void SetUp() override {
    auto log = Log::Open(TestOptions(dir_.path(), kSegmentBytes));
    ASSERT_OK(log);
    for (uint64_t p = 1; p <= 30; ++p) ASSERT_OK((*log)->Append(PayloadFor(p, kPayload)));
    ASSERT_OK((*log)->WaitDurable(Position(30)));
    // Segments 1..7, 8..14, 15..21, 22..28, 29..30.
    ASSERT_EQ(SegmentFiles(dir_.path()).size(), 5u);
  }

  std::string Seg(uint64_t base) const { return SegmentPath(dir_.path(), base); }

  std::map<std::string, std::string> Snapshot() const {
    std::map<std::string, std::string> files;
    for (const auto& name : SegmentFiles(dir_.path())) files[name] = ReadFile(dir_.Sub(name));
    return files;
  }

  // Reopens the log: it must hold exactly 1..head (or first..head), and the
  // next append must get head + 1.
  void ExpectLogEndsAt(uint64_t head, uint64_t first = 1) {
    RecoveryReport report;
    auto log = Log::Open(TestOptions(dir_.path(), kSegmentBytes), &report);
    ASSERT_OK(log);
    EXPECT_EQ(report.tail_bytes, 0u) << report.tail_reason;
    EXPECT_EQ((*log)->durable_head(), Position(head));
    EXPECT_EQ((*log)->first_position(), Position(first));
    std::vector<ReadEntry> got;
    ASSERT_OK(ReadAll(log->get(), &got));
    ASSERT_EQ(got.size(), head - first + 1);
    for (uint64_t p = first; p <= head; ++p) {
      EXPECT_EQ(got[p - first].position, p);
      EXPECT_EQ(got[p - first].payload, PayloadFor(p, kPayload));
    }
    EXPECT_EQ(AppendDurable(log->get(), "next"), Position(head + 1));
  }

  TempDir dir_;
};

TEST_F(RepairTest, TruncateAfterAMiddlePosition) {
  RepairReport report;
  ASSERT_OK(TruncateAfter(dir_.path(), Position(17), &report));
  EXPECT_EQ(report.cut_segment, Seg(15));
  EXPECT_EQ(report.cut_offset, kSegmentHeaderBytes + 3 * kEntry);  // where 18 started
  EXPECT_EQ(report.cut_bytes, 4 * kEntry);
  EXPECT_EQ(report.removed_segments, (std::vector<std::string>{Seg(29), Seg(22)}));
  EXPECT_EQ(SegmentFiles(dir_.path()).size(), 3u);
  EXPECT_EQ(FileSize(Seg(15)), kSegmentHeaderBytes + 3 * kEntry);
  ExpectLogEndsAt(17);
}

TEST_F(RepairTest, TruncateAfterTheLastEntryOfASegment) {
  // 21 ends segment 15: segment 22 stays, empty, so that its name still
  // says where the log goes on.
  RepairReport report;
  ASSERT_OK(TruncateAfter(dir_.path(), Position(21), &report));
  EXPECT_EQ(report.cut_segment, Seg(22));
  EXPECT_EQ(report.cut_offset, kSegmentHeaderBytes);
  EXPECT_EQ(report.cut_bytes, 7 * kEntry);
  EXPECT_EQ(report.removed_segments, std::vector<std::string>{Seg(29)});
  EXPECT_EQ(FileSize(Seg(15)), kSegmentHeaderBytes + 7 * kEntry);
  EXPECT_EQ(FileSize(Seg(22)), kSegmentHeaderBytes);
  ExpectLogEndsAt(21);
}

TEST_F(RepairTest, TruncateAfterAtASegmentBoundaryThenAppendsThere) {
  RepairReport report;
  ASSERT_OK(TruncateAfter(dir_.path(), Position(14), &report));
  EXPECT_EQ(report.cut_segment, Seg(15));
  EXPECT_EQ(report.cut_offset, kSegmentHeaderBytes);
  ExpectLogEndsAt(14);
  // The append went into the emptied segment 15.
  EXPECT_EQ(FileSize(Seg(15)), kSegmentHeaderBytes + kEntryHeaderBytes + 4);
}

TEST_F(RepairTest, TruncateAfterTheFirstPosition) {
  RepairReport report;
  ASSERT_OK(TruncateAfter(dir_.path(), Position(1), &report));
  EXPECT_EQ(report.cut_segment, Seg(1));
  EXPECT_EQ(report.cut_offset, kSegmentHeaderBytes + kEntry);
  EXPECT_EQ(report.removed_segments.size(), 4u);
  EXPECT_EQ(SegmentFiles(dir_.path()), std::vector<std::string>{SegmentFileName(Position(1))});
  ExpectLogEndsAt(1);
}

TEST_F(RepairTest, TruncateAfterZeroEmptiesTheLog) {
  RepairReport report;
  ASSERT_OK(TruncateAfter(dir_.path(), Position(), &report));
  EXPECT_EQ(report.cut_segment, Seg(1));
  EXPECT_EQ(report.cut_offset, kSegmentHeaderBytes);
  EXPECT_EQ(FileSize(Seg(1)), kSegmentHeaderBytes);
  ExpectLogEndsAt(0);
}

TEST_F(RepairTest, TruncateAfterTheHeadChangesNothing) {
  auto before = Snapshot();
  RepairReport report;
  ASSERT_OK(TruncateAfter(dir_.path(), Position(30), &report));
  EXPECT_EQ(report.cut_segment, "");
  EXPECT_EQ(report.cut_bytes, 0u);
  EXPECT_TRUE(report.removed_segments.empty());
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(RepairTest, TruncateAfterPastTheEndIsAnError) {
  auto before = Snapshot();
  for (uint64_t last : {uint64_t{31}, uint64_t{1000}}) {
    RepairReport report;
    Status s = TruncateAfter(dir_.path(), Position(last), &report);
    EXPECT_TRUE(s.IsInvalidArgument()) << last << ": " << s.ToString();
    EXPECT_NE(s.message().find("ends at position 30"), std::string::npos) << s.ToString();
  }
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(RepairTest, TruncateAfterWithTheLockHeldIsAnError) {
  auto log = Log::Open(TestOptions(dir_.path(), kSegmentBytes));
  ASSERT_OK(log);
  auto before = Snapshot();
  RepairReport report;
  Status s = TruncateAfter(dir_.path(), Position(10), &report);
  EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
  EXPECT_EQ(Snapshot(), before);
  // And the open log is none the worse.
  EXPECT_EQ(AppendDurable(log->get(), PayloadFor(31, kPayload)), Position(31));
}

TEST_F(RepairTest, TruncateAfterBeforeTheOldestRetainedIsAnError) {
  {
    auto log = Log::Open(TestOptions(dir_.path(), kSegmentBytes));
    ASSERT_OK(log);
    ASSERT_OK((*log)->DeleteBefore(Position(15)));
  }
  auto before = Snapshot();
  RepairReport report;
  Status s = TruncateAfter(dir_.path(), Position(5), &report);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(Snapshot(), before);
  // Just before it is fine: the log is then empty, and positions go on.
  ASSERT_OK(TruncateAfter(dir_.path(), Position(14), &report));
  ExpectLogEndsAt(14, 15);
}

TEST_F(RepairTest, TruncateAfterRemovesEarlierCorruption) {
  // The operator's way out of "Corruption ... refusing to start".
  IncrementByte(Seg(8), kSegmentHeaderBytes + 2 * kEntry + kEntryHeaderBytes);  // entry 10
  auto log = Log::Open(TestOptions(dir_.path(), kSegmentBytes));
  ASSERT_FALSE(log.ok());
  ASSERT_TRUE(log.status().IsCorruption()) << log.status().ToString();
  RepairReport report;
  ASSERT_OK(TruncateAfter(dir_.path(), Position(9), &report));
  EXPECT_EQ(report.cut_segment, Seg(8));
  EXPECT_EQ(report.cut_offset, kSegmentHeaderBytes + 2 * kEntry);
  ExpectLogEndsAt(9);
}

TEST_F(RepairTest, CorruptionBeforeTheCutIsAnError) {
  IncrementByte(Seg(15), kSegmentHeaderBytes + kEntry + kEntryHeaderBytes);  // entry 16
  auto before = Snapshot();
  RepairReport report;
  Status s = TruncateAfter(dir_.path(), Position(18), &report);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(SegmentFileName(Position(15))), std::string::npos) << s.ToString();
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(RepairTest, TruncateAfterTheHeadCutsATornTail) {
  WriteFile(Seg(29), ReadFile(Seg(29)) + "torn");
  RepairReport report;
  ASSERT_OK(TruncateAfter(dir_.path(), Position(30), &report));
  EXPECT_EQ(report.cut_segment, Seg(29));
  EXPECT_EQ(report.cut_bytes, 4u);
  ExpectLogEndsAt(30);
}

TEST_F(RepairTest, RepairThatFailsMidwayLeavesALogThatOpens) {
  // The second removal (segment 22, after 29) fails: what is left must still
  // be a log, 1..28, and running the repair again finishes the job.
  FaultEnv env;
  env.FailRemove(2);
  RepairReport report;
  Status s = TruncateAfter(dir_.path(), Position(17), &report, &env);
  ASSERT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(FileSize(Seg(15)), kSegmentHeaderBytes + 7 * kEntry) << "cut before the removals";
  {
    auto log = Log::Open(TestOptions(dir_.path(), kSegmentBytes));
    ASSERT_OK(log);
    EXPECT_EQ((*log)->durable_head(), Position(28));
  }
  ASSERT_OK(TruncateAfter(dir_.path(), Position(17), &report, &env));
  ExpectLogEndsAt(17);
}

TEST(RepairEmptyTest, TruncateAfterWithoutSegmentsIsNotFound) {
  TempDir dir;
  RepairReport report;
  EXPECT_TRUE(TruncateAfter(dir.path(), Position(1), &report).IsNotFound());
}

}  // namespace
}  // namespace eventide::wal
