// Recovery (Log::Open): a torn or corrupt tail of the last segment is cut back
// to the last valid entry and reported; damage anywhere else refuses to open,
// naming the segment, offset and reason (FORMAT.md section 6).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/wal/test_util.h"
#include "wal/log.h"

namespace eventide::wal {
namespace {

constexpr uint64_t kSegmentBytes = 1024;

size_t SizeOf(uint64_t p) { return 5 + (p * 7) % 40; }

class RecoveryTest : public testing::Test {
 protected:
  // Writes `n` entries (payload PayloadFor(p, SizeOf(p))) with small segments.
  void BuildLog(uint64_t n) {
    auto log = Log::Open(TestOptions(dir_.path(), kSegmentBytes));
    ASSERT_OK(log);
    for (uint64_t p = 1; p <= n; ++p) ASSERT_OK((*log)->Append(PayloadFor(p, SizeOf(p))));
    ASSERT_OK((*log)->WaitDurable(Position(n)));
    segments_ = (*log)->Segments();
  }

  Result<std::unique_ptr<Log>> Open(RecoveryReport* report, bool read_only = false) {
    LogOptions o = TestOptions(dir_.path(), kSegmentBytes);
    o.read_only = read_only;
    return Log::Open(o, report);
  }

  // Every entry from 1 must be there up to `head`, and nothing after.
  void ExpectEntries(Log* log, uint64_t head) {
    EXPECT_EQ(log->durable_head(), Position(head));
    std::vector<ReadEntry> got;
    ASSERT_OK(ReadAll(log, &got));
    ASSERT_EQ(got.size(), head);
    for (uint64_t p = 1; p <= head; ++p) {
      ASSERT_EQ(got[p - 1].position, p);
      ASSERT_EQ(got[p - 1].payload, PayloadFor(p, SizeOf(p)));
    }
  }

  const SegmentInfo& Last() const { return segments_.back(); }

  // Rewrites SYNCED to say that only the first `bytes` of the last segment
  // were synced: the stale mark a power loss can leave, or the state of a
  // batch that was written and not yet synced when the process died. Damage
  // after that point is what a crash can explain.
  void SyncedUpTo(uint64_t bytes) {
    char mark[kSyncedMarkBytes];
    EncodeSyncedMark({Last().base, bytes}, mark);
    WriteFile(dir_.Sub("SYNCED"), std::string(mark, sizeof(mark)));
  }

  TempDir dir_;
  std::vector<SegmentInfo> segments_;  // as BuildLog left them
};

TEST_F(RecoveryTest, CleanLogIsNotCut) {
  BuildLog(40);
  RecoveryReport report;
  auto log = Open(&report);
  ASSERT_OK(log);
  EXPECT_EQ(report.segments, segments_.size());
  EXPECT_EQ(report.first, Position(1));
  EXPECT_EQ(report.head, Position(40));
  EXPECT_EQ(report.tail_bytes, 0u);
  EXPECT_EQ(report.tail_segment, "");
  EXPECT_EQ(report.tail_reason, "");
  ExpectEntries(log->get(), 40);
}

TEST_F(RecoveryTest, EmptyDirectoryStartsAtOne) {
  RecoveryReport report;
  auto log = Open(&report);
  ASSERT_OK(log);
  EXPECT_EQ(report.segments, 1u);
  EXPECT_EQ(report.head, Position());
  EXPECT_EQ(report.first, Position());
  EXPECT_EQ(AppendDurable(log->get(), "x"), Position(1));
}

// The main torn-tail test: the last segment cut at every byte offset across
// its last three entries, as a crash in the middle of a write leaves it.
TEST_F(RecoveryTest, TruncatedTailIsCutAtEveryOffset) {
  BuildLog(40);
  ASSERT_GE(segments_.size(), 2u);
  std::map<std::string, std::string> pristine;
  for (const auto& s : segments_) pristine[s.path] = ReadFile(s.path);
  const std::string last_path = Last().path;
  const std::string last_bytes = pristine[last_path];
  std::vector<uint64_t> offsets = EntryOffsets(last_bytes);
  ASSERT_GE(offsets.size(), 3u);
  const uint64_t base = Last().base.value();
  ASSERT_EQ(Last().last.value(), 40u);
  const uint64_t from = offsets[offsets.size() - 3];

  for (uint64_t cut = from; cut <= last_bytes.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut) + " of " + std::to_string(last_bytes.size()));
    // Entries of the last segment that end at or before the cut survive.
    uint64_t intact = 0;
    uint64_t end = kSegmentHeaderBytes;
    for (size_t i = 0; i < offsets.size(); ++i) {
      uint64_t next = i + 1 < offsets.size() ? offsets[i + 1] : last_bytes.size();
      if (next > cut) break;
      ++intact;
      end = next;
    }
    const uint64_t head = base + intact - 1;
    for (const auto& name : SegmentFiles(dir_.path())) {  // a roll of the last round
      if (!pristine.count(dir_.Sub(name))) std::filesystem::remove(dir_.Sub(name));
    }
    for (const auto& [path, bytes] : pristine) WriteFile(path, bytes);
    ShrinkTo(last_path, cut);
    SyncedUpTo(from);  // the last three entries were one batch, not yet synced

    RecoveryReport report;
    {
      auto log = Open(&report);
      ASSERT_OK(log);
      EXPECT_EQ(report.head, Position(head));
      EXPECT_EQ(report.tail_bytes, cut - end);
      if (cut > end) {
        EXPECT_EQ(report.tail_segment, last_path);
        EXPECT_EQ(report.tail_offset, end);
        if (cut - end < kEntryHeaderBytes) {
          EXPECT_NE(report.tail_reason.find("partial entry header"), std::string::npos)
              << report.tail_reason;
        } else {
          EXPECT_NE(report.tail_reason.find("extends past the end"), std::string::npos)
              << report.tail_reason;
        }
      } else {
        EXPECT_EQ(report.tail_reason, "");
      }
      EXPECT_EQ(FileSize(last_path), end) << "the cut bytes are still there";
      ExpectEntries(log->get(), head);
      EXPECT_EQ(AppendDurable(log->get(), "after"), Position(head + 1));
    }
    // The appended entry directly follows the intact prefix (or starts the
    // next segment when it does not fit).
    if (end + kEntryHeaderBytes + 5 <= kSegmentBytes) {
      EXPECT_EQ(FileSize(last_path), end + kEntryHeaderBytes + 5);
    } else {
      EXPECT_EQ(FileSize(last_path), end);
      EXPECT_EQ(FileSize(SegmentPath(dir_.path(), head + 1)),
                kSegmentHeaderBytes + kEntryHeaderBytes + 5);
    }
    auto log = Open(&report);
    ASSERT_OK(log);
    EXPECT_EQ(report.tail_bytes, 0u);
    EXPECT_EQ(report.head, Position(head + 1));
    auto reader = (*log)->NewReader();
    ASSERT_OK(reader->Seek(Position(head + 1)));
    Entry e;
    auto r = reader->Next(&e);
    ASSERT_OK(r);
    ASSERT_TRUE(*r);
    EXPECT_EQ(e.payload, "after");
    if (HasFatalFailure()) return;
  }
}

TEST_F(RecoveryTest, LastSegmentCutToItsHeaderKeepsItsBase) {
  BuildLog(40);
  ASSERT_GE(segments_.size(), 2u);
  const uint64_t base = Last().base.value();
  ShrinkTo(Last().path, kSegmentHeaderBytes + 3);
  SyncedUpTo(kSegmentHeaderBytes);
  RecoveryReport report;
  auto log = Open(&report);
  ASSERT_OK(log);
  EXPECT_EQ(report.head, Position(base - 1));
  EXPECT_EQ(report.tail_bytes, 3u);
  EXPECT_EQ(report.tail_offset, kSegmentHeaderBytes);
  EXPECT_EQ(FileSize(Last().path), kSegmentHeaderBytes);
  ExpectEntries(log->get(), base - 1);
  EXPECT_EQ(AppendDurable(log->get(), "x"), Position(base));
  EXPECT_EQ((*log)->Segments().back().base, Position(base));
}

// A flipped byte in an unsynced last entry: the shape of a batch whose later
// pages reached the disk before its earlier ones.
TEST_F(RecoveryTest, FlippedByteInAnUnsyncedLastEntryIsCutWithAChecksumReason) {
  BuildLog(40);
  std::vector<uint64_t> offsets = EntryOffsets(ReadFile(Last().path));
  const uint64_t last_entry = offsets.back();
  const uint64_t size = FileSize(Last().path);
  SyncedUpTo(last_entry);
  IncrementByte(Last().path, last_entry + kEntryHeaderBytes + 2);  // a payload byte
  RecoveryReport report;
  auto log = Open(&report);
  ASSERT_OK(log);
  EXPECT_EQ(report.head, Position(39));
  EXPECT_EQ(report.tail_segment, Last().path);
  EXPECT_EQ(report.tail_offset, last_entry);
  EXPECT_EQ(report.tail_bytes, size - last_entry);
  EXPECT_NE(report.tail_reason.find("checksum mismatch"), std::string::npos) << report.tail_reason;
  EXPECT_EQ(FileSize(Last().path), last_entry);
  ExpectEntries(log->get(), 39);
}

TEST_F(RecoveryTest, AnyFlippedByteInAnUnsyncedLastEntryIsCut) {
  BuildLog(40);
  const std::string pristine = ReadFile(Last().path);
  const uint64_t last_entry = EntryOffsets(pristine).back();
  for (uint64_t at = last_entry; at < pristine.size(); ++at) {
    SCOPED_TRACE("byte " + std::to_string(at));
    WriteFile(Last().path, pristine);
    IncrementByte(Last().path, at, 0x10);
    SyncedUpTo(last_entry);
    RecoveryReport report;
    auto log = Open(&report);
    ASSERT_OK(log);
    EXPECT_EQ(report.head, Position(39));
    EXPECT_EQ(report.tail_offset, last_entry);
    EXPECT_EQ(report.tail_bytes, pristine.size() - last_entry);
    EXPECT_NE(report.tail_reason, "");
    EXPECT_EQ(FileSize(Last().path), last_entry);
  }
}

// Issue 13: a corrupt entry followed by valid ones is not a torn tail, even
// with no synced mark to go by: start-up stops, naming the segment, the
// offset, the reason and what a cut would lose, and nothing is cut.
TEST_F(RecoveryTest, CorruptEntryFollowedByValidEntriesStopsStartUp) {
  BuildLog(40);
  const std::string pristine = ReadFile(Last().path);
  std::vector<uint64_t> offsets = EntryOffsets(pristine);
  ASSERT_GE(offsets.size(), 3u);
  std::filesystem::remove(dir_.Sub("SYNCED"));
  IncrementByte(Last().path, offsets[1] + kEntryHeaderBytes);
  const std::string damaged = ReadFile(Last().path);
  RecoveryReport report;
  auto log = Open(&report);
  ASSERT_FALSE(log.ok());
  const std::string msg = log.status().ToString();
  EXPECT_TRUE(log.status().IsCorruption()) << msg;
  const uint64_t second = Last().base.value() + 1;
  EXPECT_NE(msg.find(Last().path + " offset " + std::to_string(offsets[1])), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("checksum mismatch"), std::string::npos) << msg;
  EXPECT_NE(msg.find("a valid entry (position " + std::to_string(second + 1) +
                     ") follows at offset " + std::to_string(offsets[2])),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("repair --truncate-after " + std::to_string(second - 1)), std::string::npos)
      << msg;
  EXPECT_EQ(ReadFile(Last().path), damaged) << "start-up changed the damaged segment";
  // The read-only view (eventide-log) opens, reports it, and reads up to it.
  auto ro = Open(&report, /*read_only=*/true);
  ASSERT_OK(ro);
  EXPECT_TRUE(report.tail_corrupt);
  EXPECT_EQ(report.tail_offset, offsets[1]);
  ExpectEntries(ro->get(), second - 1);
}

TEST_F(RecoveryTest, UnknownFlagsInAnUnsyncedLastEntryAreCut) {
  BuildLog(40);
  const uint64_t last_entry = EntryOffsets(ReadFile(Last().path)).back();
  SyncedUpTo(last_entry);
  IncrementByte(Last().path, last_entry + 4);  // flags
  FixEntryChecksum(Last().path, last_entry);
  RecoveryReport report;
  auto log = Open(&report);
  ASSERT_OK(log);
  EXPECT_EQ(report.head, Position(39));
  EXPECT_NE(report.tail_reason.find("flags"), std::string::npos) << report.tail_reason;
}

// A whole, checksummed entry one position ahead is a gap, not a torn write:
// no crash of an in-order writer leaves entry 41 without entry 40.
TEST_F(RecoveryTest, WrongPositionInAnUnsyncedLastEntryStopsStartUp) {
  BuildLog(40);
  const uint64_t last_entry = EntryOffsets(ReadFile(Last().path)).back();
  IncrementByte(Last().path, last_entry + 8);  // position 40 -> 41
  FixEntryChecksum(Last().path, last_entry);
  SyncedUpTo(last_entry);
  RecoveryReport report;
  auto log = Open(&report);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().IsCorruption());
  EXPECT_NE(log.status().message().find("position 41 where 40 was expected"), std::string::npos)
      << log.status().ToString();
  EXPECT_NE(log.status().message().find("a valid entry (position 41)"), std::string::npos)
      << log.status().ToString();
}

TEST_F(RecoveryTest, ZeroFilledTailIsCut) {
  BuildLog(40);
  const uint64_t size = FileSize(Last().path);
  for (uint64_t zeros : {uint64_t{10}, uint64_t{32}, uint64_t{4096}}) {
    SCOPED_TRACE(std::to_string(zeros) + " zero bytes");
    WriteFile(Last().path, ReadFile(Last().path) + std::string(zeros, '\0'));
    RecoveryReport report;
    auto log = Open(&report);
    ASSERT_OK(log);
    EXPECT_EQ(report.head, Position(40));
    EXPECT_EQ(report.tail_bytes, zeros);
    EXPECT_EQ(report.tail_offset, size);
    EXPECT_NE(report.tail_reason.find("zero bytes"), std::string::npos) << report.tail_reason;
    EXPECT_EQ(FileSize(Last().path), size);
  }
}

TEST_F(RecoveryTest, ZeroedLastEntryIsCut) {
  // The file system extended the file but the data never reached the disk.
  BuildLog(40);
  std::string bytes = ReadFile(Last().path);
  const uint64_t last_entry = EntryOffsets(bytes).back();
  bytes.replace(last_entry, bytes.size() - last_entry, bytes.size() - last_entry, '\0');
  WriteFile(Last().path, bytes);
  SyncedUpTo(last_entry);
  RecoveryReport report;
  auto log = Open(&report);
  ASSERT_OK(log);
  EXPECT_EQ(report.head, Position(39));
  EXPECT_EQ(report.tail_offset, last_entry);
  EXPECT_EQ(FileSize(Last().path), last_entry);
}

// ---- Telling a torn tail from corruption (issue 13) ----

// Every single-byte flip anywhere in a fully synced last segment (its header
// included) stops start-up with Corruption and changes nothing: no
// acknowledged entry is ever cut, and no position is ever given out twice.
TEST_F(RecoveryTest, EveryFlippedByteOfASyncedLastSegmentStopsStartUp) {
  BuildLog(40);
  const std::string pristine = ReadFile(Last().path);
  ASSERT_GE(EntryOffsets(pristine).size(), 5u);
  for (uint64_t at = 0; at < pristine.size(); ++at) {
    SCOPED_TRACE("byte " + std::to_string(at) + " of " + std::to_string(pristine.size()));
    WriteFile(Last().path, pristine);
    IncrementByte(Last().path, at, 0x10);
    const std::string damaged = ReadFile(Last().path);
    auto log = Open(nullptr);
    ASSERT_FALSE(log.ok()) << "opened with byte " << at << " flipped";
    EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
    EXPECT_NE(log.status().message().find(Last().path + " offset "), std::string::npos)
        << log.status().ToString();
    ASSERT_EQ(ReadFile(Last().path), damaged);
  }
  WriteFile(Last().path, pristine);
  RecoveryReport report;
  auto log = Open(&report);
  ASSERT_OK(log);
  EXPECT_EQ(report.tail_bytes, 0u);
  ExpectEntries(log->get(), 40);
  EXPECT_EQ(AppendDurable(log->get(), "next"), Position(41));
}

// With no mark to go by (a mark lost to a power loss, or a log from before
// SYNCED existed), a flip is cut only when nothing valid follows it: only
// ever the final entry, never an entry with a valid one after it.
TEST_F(RecoveryTest, WithoutAMarkOnlyAFinalDamagedEntryIsEverCut) {
  BuildLog(40);
  const std::string pristine = ReadFile(Last().path);
  const std::vector<uint64_t> offsets = EntryOffsets(pristine);
  const uint64_t last_entry = offsets.back();
  for (uint64_t at = kSegmentHeaderBytes; at < pristine.size(); ++at) {
    SCOPED_TRACE("byte " + std::to_string(at));
    WriteFile(Last().path, pristine);
    std::filesystem::remove(dir_.Sub("SYNCED"));
    IncrementByte(Last().path, at, 0x10);
    RecoveryReport report;
    auto log = Open(&report);
    if (at < last_entry) {
      ASSERT_FALSE(log.ok()) << "cut entries followed by valid ones";
      EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
      EXPECT_NE(log.status().message().find("a valid entry"), std::string::npos)
          << log.status().ToString();
    } else {
      ASSERT_OK(log);
      EXPECT_EQ(report.head, Position(39));
      EXPECT_EQ(report.tail_offset, last_entry);
      EXPECT_EQ(FileSize(Last().path), last_entry);
      EXPECT_NE(report.mark_problem, "");
    }
  }
}

// Every truncation point of the last segment, against marks that record
// nothing, half, or all of it as synced: a cut below the synced length stops
// start-up; above it, the torn tail is cut back to the last whole entry.
TEST_F(RecoveryTest, TruncationIsCutOnlyAfterTheSyncedLength) {
  BuildLog(40);
  const std::string pristine = ReadFile(Last().path);
  const std::vector<uint64_t> offsets = EntryOffsets(pristine);
  ASSERT_GE(offsets.size(), 3u);
  for (uint64_t synced :
       {uint64_t{kSegmentHeaderBytes}, offsets[offsets.size() / 2], uint64_t{pristine.size()}}) {
    for (uint64_t cut = kSegmentHeaderBytes; cut < pristine.size(); ++cut) {
      SCOPED_TRACE("synced " + std::to_string(synced) + ", cut at " + std::to_string(cut));
      WriteFile(Last().path, pristine.substr(0, cut));
      SyncedUpTo(synced);
      RecoveryReport report;
      auto log = Open(&report);
      if (cut < synced) {
        ASSERT_FALSE(log.ok());
        EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
        EXPECT_EQ(FileSize(Last().path), cut);
        continue;
      }
      ASSERT_OK(log);
      uint64_t end = kSegmentHeaderBytes;
      uint64_t intact = 0;
      for (size_t i = 0; i < offsets.size(); ++i) {
        uint64_t next = i + 1 < offsets.size() ? offsets[i + 1] : pristine.size();
        if (next > cut) break;
        end = next;
        ++intact;
      }
      EXPECT_EQ(report.synced_bytes, synced);
      EXPECT_EQ(FileSize(Last().path), end);
      EXPECT_EQ(report.head, Position(Last().base.value() + intact - 1));
    }
  }
}

TEST_F(RecoveryTest, MarkNamingAMissingSegmentStopsStartUp) {
  BuildLog(40);
  char mark[kSyncedMarkBytes];
  EncodeSyncedMark({Position(41), kSegmentHeaderBytes}, mark);
  WriteFile(dir_.Sub("SYNCED"), std::string(mark, sizeof(mark)));
  auto log = Open(nullptr);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().IsCorruption());
  EXPECT_NE(log.status().message().find("00000000000000000041.log offset 0: SYNCED records"),
            std::string::npos)
      << log.status().ToString();
}

TEST_F(RecoveryTest, AnInvalidOrMissingMarkIsReportedAndRewritten) {
  BuildLog(40);
  for (std::string bad : {std::string(), std::string("garbage"), std::string(32, 'x')}) {
    SCOPED_TRACE("mark '" + bad + "'");
    if (bad.empty()) {
      std::filesystem::remove(dir_.Sub("SYNCED"));
    } else {
      WriteFile(dir_.Sub("SYNCED"), bad);
    }
    RecoveryReport report;
    auto log = Open(&report);
    ASSERT_OK(log);
    EXPECT_NE(report.mark_problem, "");
    EXPECT_EQ(report.synced_bytes, 0u);
    ExpectEntries(log->get(), 40);
    log->reset();
    // Open recorded what it kept.
    SyncedMark m;
    ASSERT_EQ(DecodeSyncedMark(ReadFile(dir_.Sub("SYNCED")), &m), "");
    EXPECT_EQ(m.base, Last().base);
    EXPECT_EQ(m.bytes, FileSize(Last().path));
  }
}

// ---- The newest segment's header ----

class TornHeaderTest : public RecoveryTest, public testing::WithParamInterface<std::string> {};

TEST_P(TornHeaderTest, NewestSegmentWithATornHeaderIsRemovedAndRecreated) {
  BuildLog(40);
  const std::string path = SegmentPath(dir_.path(), 41);
  WriteFile(path, GetParam());
  RecoveryReport report;
  {
    auto log = Open(&report);
    ASSERT_OK(log);
    EXPECT_EQ(report.head, Position(40));
    EXPECT_EQ(report.tail_segment, path);
    EXPECT_EQ(report.tail_offset, 0u);
    EXPECT_EQ(report.tail_bytes, GetParam().size());
    EXPECT_NE(report.tail_reason.find("header incomplete"), std::string::npos)
        << report.tail_reason;
    // Created again, whole and empty.
    std::string header = ReadFile(path);
    ASSERT_EQ(header.size(), kSegmentHeaderBytes);
    EXPECT_EQ(CheckSegmentHeader(header, Position(41)), "");
    ExpectEntries(log->get(), 40);
    EXPECT_EQ(AppendDurable(log->get(), PayloadFor(41, SizeOf(41))), Position(41));
    EXPECT_EQ((*log)->Segments().back().base, Position(41));
  }
  auto log = Open(&report);
  ASSERT_OK(log);
  EXPECT_EQ(report.tail_bytes, 0u);
  ExpectEntries(log->get(), 41);
}

std::string HeaderPrefix(size_t n) {
  char h[kSegmentHeaderBytes];
  EncodeSegmentHeader(Position(41), h);
  return std::string(h, n);
}

INSTANTIATE_TEST_SUITE_P(Headers, TornHeaderTest,
                         testing::Values(std::string(), HeaderPrefix(1), HeaderPrefix(10),
                                         HeaderPrefix(31), std::string(32, '\0'),
                                         std::string(4096, '\0')));

TEST_F(RecoveryTest, OnlySegmentWithATornHeaderIsRecreated) {
  WriteFile(SegmentPath(dir_.path(), 1), std::string(7, '\0'));
  RecoveryReport report;
  auto log = Open(&report);
  ASSERT_OK(log);
  EXPECT_EQ(report.head, Position());
  EXPECT_EQ(report.tail_bytes, 7u);
  EXPECT_EQ(AppendDurable(log->get(), "x"), Position(1));
}

TEST_F(RecoveryTest, NewestSegmentWithACorruptWholeHeaderFailsOpen) {
  // 32 bytes that are not zeros and not a header: damage, not an
  // interrupted creation.
  BuildLog(40);
  std::string header = HeaderPrefix(kSegmentHeaderBytes);
  header[20] = 'x';
  WriteFile(SegmentPath(dir_.path(), 41), header);
  RecoveryReport report;
  auto log = Open(&report);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
  EXPECT_NE(log.status().message().find(SegmentFileName(Position(41))), std::string::npos);
}

// ---- Damage before the last segment ----

TEST_F(RecoveryTest, CorruptionInAnEarlierSegmentFailsOpen) {
  BuildLog(40);
  ASSERT_GE(segments_.size(), 3u);
  const SegmentInfo& seg = segments_[1];
  std::vector<uint64_t> offsets = EntryOffsets(ReadFile(seg.path));
  ASSERT_GE(offsets.size(), 2u);
  const uint64_t size = FileSize(seg.path);
  IncrementByte(seg.path, offsets[1] + kEntryHeaderBytes + 1);
  RecoveryReport report;
  auto log = Open(&report);
  ASSERT_FALSE(log.ok());
  const Status& s = log.status();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(SegmentFileName(seg.base)), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("offset " + std::to_string(offsets[1])), std::string::npos)
      << s.ToString();
  EXPECT_NE(s.message().find("checksum mismatch"), std::string::npos) << s.ToString();
  EXPECT_EQ(FileSize(seg.path), size) << "an earlier segment was changed";
}

TEST_F(RecoveryTest, TornEarlierSegmentFailsOpen) {
  BuildLog(40);
  ASSERT_GE(segments_.size(), 2u);
  const SegmentInfo& seg = segments_[0];
  ShrinkTo(seg.path, seg.bytes - 3);
  auto log = Open(nullptr);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
  EXPECT_NE(log.status().message().find(SegmentFileName(seg.base)), std::string::npos);
  EXPECT_EQ(FileSize(seg.path), seg.bytes - 3);
}

TEST_F(RecoveryTest, ZeroTailInAnEarlierSegmentFailsOpen) {
  BuildLog(40);
  ASSERT_GE(segments_.size(), 2u);
  WriteFile(segments_[0].path, ReadFile(segments_[0].path) + std::string(64, '\0'));
  auto log = Open(nullptr);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
}

TEST_F(RecoveryTest, BadHeaderInAnEarlierSegmentFailsOpen) {
  BuildLog(40);
  ASSERT_GE(segments_.size(), 2u);
  IncrementByte(segments_[0].path, 0);
  auto log = Open(nullptr);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
  EXPECT_NE(log.status().message().find("offset 0"), std::string::npos);
  EXPECT_NE(log.status().message().find("bad magic"), std::string::npos);
}

TEST_F(RecoveryTest, TornHeaderInAnEarlierSegmentFailsOpen) {
  BuildLog(40);
  ASSERT_GE(segments_.size(), 3u);
  WriteFile(segments_[1].path, std::string(10, '\0'));
  auto log = Open(nullptr);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(segments_[1].path));
}

TEST_F(RecoveryTest, EmptySealedSegmentFailsOpen) {
  BuildLog(40);
  ASSERT_GE(segments_.size(), 3u);
  ShrinkTo(segments_[1].path, kSegmentHeaderBytes);
  auto log = Open(nullptr);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
  EXPECT_NE(log.status().message().find(SegmentFileName(segments_[1].base)), std::string::npos);
}

TEST_F(RecoveryTest, MissingMiddleSegmentIsCorruption) {
  BuildLog(40);
  ASSERT_GE(segments_.size(), 3u);
  std::filesystem::remove(segments_[1].path);
  auto log = Open(nullptr);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
  EXPECT_NE(log.status().message().find("missing"), std::string::npos) << log.status().ToString();
  EXPECT_NE(log.status().message().find(SegmentFileName(segments_[2].base)), std::string::npos);
}

TEST_F(RecoveryTest, SegmentWhoseHeaderNamesAnotherBaseFailsOpen) {
  BuildLog(40);
  ASSERT_GE(segments_.size(), 3u);
  // Segment 2's bytes under segment 3's name (and segment 3 gone).
  std::filesystem::remove(segments_[2].path);
  std::filesystem::copy_file(segments_[1].path, segments_[2].path);
  auto log = Open(nullptr);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
}

TEST_F(RecoveryTest, OtherFilesAreIgnored) {
  BuildLog(10);
  WriteFile(dir_.Sub("notes.txt"), "hello");
  WriteFile(dir_.Sub("1.log"), "junk");
  WriteFile(dir_.Sub("00000000000000000001.log.bak"), "junk");
  RecoveryReport report;
  auto log = Open(&report);
  ASSERT_OK(log);
  EXPECT_EQ(report.segments, segments_.size());
  ExpectEntries(log->get(), 10);
}

// ---- Read-only ----

TEST_F(RecoveryTest, ReadOnlyOpenReportsButDoesNotCut) {
  BuildLog(40);
  const uint64_t last_entry = EntryOffsets(ReadFile(Last().path)).back();
  const uint64_t cut = last_entry + 10;
  ShrinkTo(Last().path, cut);
  SyncedUpTo(last_entry);
  {
    RecoveryReport report;
    auto log = Open(&report, /*read_only=*/true);
    ASSERT_OK(log);
    EXPECT_EQ(report.head, Position(39));
    EXPECT_EQ(report.tail_segment, Last().path);
    EXPECT_EQ(report.tail_offset, last_entry);
    EXPECT_EQ(report.tail_bytes, 10u);
    EXPECT_EQ(FileSize(Last().path), cut);
    ExpectEntries(log->get(), 39);
  }
  EXPECT_EQ(FileSize(Last().path), cut);
  RecoveryReport report;
  auto log = Open(&report);
  ASSERT_OK(log);
  EXPECT_EQ(report.tail_bytes, 10u);
  EXPECT_EQ(FileSize(Last().path), last_entry);
}

TEST_F(RecoveryTest, ReadOnlyOpenLeavesATornHeaderAlone) {
  BuildLog(40);
  const std::string path = SegmentPath(dir_.path(), 41);
  WriteFile(path, HeaderPrefix(9));
  RecoveryReport report;
  auto log = Open(&report, /*read_only=*/true);
  ASSERT_OK(log);
  EXPECT_EQ(report.head, Position(40));
  EXPECT_EQ(report.tail_segment, path);
  EXPECT_EQ(report.tail_bytes, 9u);
  EXPECT_EQ(FileSize(path), 9u);
  ExpectEntries(log->get(), 40);
}

TEST_F(RecoveryTest, ReadOnlyOpenStillRefusesEarlierCorruption) {
  BuildLog(40);
  ASSERT_GE(segments_.size(), 2u);
  IncrementByte(segments_[0].path, kSegmentHeaderBytes + kEntryHeaderBytes);
  auto log = Open(nullptr, /*read_only=*/true);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
}

}  // namespace
}  // namespace eventide::wal
