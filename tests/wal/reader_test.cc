// Log::Reader: seeking by position through the per-segment index, following
// the durable head, and reading back what was written.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/wal/fault_env.h"
#include "tests/wal/test_util.h"
#include "wal/log.h"

namespace eventide::wal {
namespace {

class ReaderTest : public testing::Test {
 protected:
  void OpenLog(uint64_t segment_bytes = 64ull << 20) {
    log_.reset();
    auto log = Log::Open(TestOptions(dir_.path(), segment_bytes, &env_));
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }

  // Appends `sizes.size()` entries of the given payload sizes.
  void AppendSizes(const std::vector<size_t>& sizes) {
    uint64_t first = log_->durable_head().value() + 1;
    for (size_t i = 0; i < sizes.size(); ++i) {
      auto p = log_->Append(PayloadFor(first + i, sizes[i]));
      ASSERT_OK(p);
      ASSERT_EQ(p->value(), first + i);
    }
    ASSERT_OK(log_->WaitDurable(Position(first + sizes.size() - 1)));
  }

  static std::vector<size_t> RandomSizes(size_t n, size_t max, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> dist(0, max);
    std::vector<size_t> sizes(n);
    for (auto& s : sizes) s = dist(rng);
    return sizes;
  }

  // Next() must return the entry at `p` with the payload AppendSizes gave it.
  void ExpectNext(Reader* reader, uint64_t p, size_t size) {
    Entry e;
    auto r = reader->Next(&e);
    ASSERT_OK(r);
    ASSERT_TRUE(*r) << "no entry at " << p;
    ASSERT_EQ(e.position, Position(p));
    ASSERT_EQ(e.payload, PayloadFor(p, size));
  }

  void ExpectCaughtUp(Reader* reader) {
    Entry e;
    auto r = reader->Next(&e);
    ASSERT_OK(r);
    EXPECT_FALSE(*r) << "unexpected entry at " << e.position.value();
  }

  void CheckSeekToEveryPosition(const std::vector<size_t>& sizes) {
    auto reader = log_->NewReader();
    for (uint64_t p = 1; p <= sizes.size(); ++p) {
      ASSERT_OK(reader->Seek(Position(p)));
      EXPECT_EQ(reader->next_position(), Position(p));
      ExpectNext(reader.get(), p, sizes[p - 1]);
      // And on, across a segment boundary when p ends one.
      if (p < sizes.size()) ExpectNext(reader.get(), p + 1, sizes[p]);
    }
  }

  TempDir dir_;
  FaultEnv env_;
  std::unique_ptr<Log> log_;
};

TEST_F(ReaderTest, EmptyLogHasNothingToRead) {
  OpenLog();
  auto reader = log_->NewReader();
  EXPECT_EQ(reader->next_position(), Position(1));
  ExpectCaughtUp(reader.get());
  EXPECT_OK(reader->Seek(Position(1)));
  ExpectCaughtUp(reader.get());
}

TEST_F(ReaderTest, SeekLandsOnEveryPositionAcrossSegments) {
  // Segments of ~32 KiB hold several 4 KiB index intervals each.
  OpenLog(32 << 10);
  std::vector<size_t> sizes = RandomSizes(1500, 700, 1);
  AppendSizes(sizes);
  ASSERT_GT(log_->Segments().size(), 10u);
  CheckSeekToEveryPosition(sizes);
}

TEST_F(ReaderTest, SeekLandsOnEveryPositionAfterReopen) {
  // The index is rebuilt by recovery, not written: seeks must agree with it.
  OpenLog(32 << 10);
  std::vector<size_t> sizes = RandomSizes(1500, 700, 2);
  AppendSizes(sizes);
  OpenLog(32 << 10);
  CheckSeekToEveryPosition(sizes);
}

TEST_F(ReaderTest, SeekBackwardsAndForwards) {
  OpenLog(4096);
  std::vector<size_t> sizes = RandomSizes(300, 300, 3);
  AppendSizes(sizes);
  auto reader = log_->NewReader();
  std::mt19937 rng(4);
  for (int i = 0; i < 200; ++i) {
    uint64_t p = 1 + rng() % sizes.size();
    ASSERT_OK(reader->Seek(Position(p)));
    for (uint64_t q = p; q < p + 3 && q <= sizes.size(); ++q)
      ExpectNext(reader.get(), q, sizes[q - 1]);
  }
}

TEST_F(ReaderTest, NewReaderStartsAtTheOldestRetainedEntry) {
  OpenLog(1024);
  std::vector<size_t> sizes(40, 100);
  AppendSizes(sizes);
  ASSERT_OK(log_->DeleteBefore(Position(20)));
  Position first = log_->first_position();
  ASSERT_GT(first, Position(1));
  auto reader = log_->NewReader();
  EXPECT_EQ(reader->next_position(), first);
  for (uint64_t p = first.value(); p <= 40; ++p) ExpectNext(reader.get(), p, 100);
  ExpectCaughtUp(reader.get());
}

TEST_F(ReaderTest, SeekBeforeTheFirstRetainedIsNotFound) {
  OpenLog(1024);
  std::vector<size_t> sizes(40, 100);
  AppendSizes(sizes);
  ASSERT_OK(log_->DeleteBefore(Position(20)));
  Position first = log_->first_position();
  ASSERT_GT(first, Position(1));
  auto reader = log_->NewReader();
  EXPECT_TRUE(reader->Seek(Position(1)).IsNotFound());
  EXPECT_TRUE(reader->Seek(first.Prev()).IsNotFound());
  ASSERT_OK(reader->Seek(first));
  ExpectNext(reader.get(), first.value(), 100);
}

TEST_F(ReaderTest, SeekPastHeadPlusOneIsInvalidArgument) {
  OpenLog();
  AppendSizes(std::vector<size_t>(10, 5));
  auto reader = log_->NewReader();
  EXPECT_TRUE(reader->Seek(Position(12)).IsInvalidArgument());
  EXPECT_TRUE(reader->Seek(Position(1000)).IsInvalidArgument());
  EXPECT_OK(reader->Seek(Position(11)));
  EXPECT_OK(reader->Seek(Position(10)));
  ExpectNext(reader.get(), 10, 5);
}

TEST_F(ReaderTest, SeekToHeadPlusOneFollowsTheHead) {
  OpenLog();
  AppendSizes(std::vector<size_t>(10, 5));
  auto reader = log_->NewReader();
  ASSERT_OK(reader->Seek(Position(11)));
  ExpectCaughtUp(reader.get());
  ExpectCaughtUp(reader.get());
  AppendSizes({7});
  ExpectNext(reader.get(), 11, 7);
  ExpectCaughtUp(reader.get());
  AppendSizes({8, 9});
  ExpectNext(reader.get(), 12, 8);
  ExpectNext(reader.get(), 13, 9);
  ExpectCaughtUp(reader.get());
}

TEST_F(ReaderTest, FollowingReaderCrossesSegmentRolls) {
  OpenLog(1024);
  AppendSizes({100});
  auto reader = log_->NewReader();
  ExpectNext(reader.get(), 1, 100);
  ExpectCaughtUp(reader.get());
  for (uint64_t round = 0; round < 5; ++round) {
    // Each round rolls at least one segment while the reader is caught up.
    uint64_t first = log_->durable_head().value() + 1;
    std::vector<size_t> sizes(9, 100);
    AppendSizes(sizes);
    for (uint64_t p = first; p < first + sizes.size(); ++p) ExpectNext(reader.get(), p, 100);
    ExpectCaughtUp(reader.get());
  }
  EXPECT_GE(log_->Segments().size(), 6u);
}

TEST_F(ReaderTest, FollowingReaderFromAnEmptyNewSegment) {
  // The reader waits at the base of a segment that does not exist yet.
  OpenLog(1024);
  AppendSizes(std::vector<size_t>(7, 100));  // fills the first segment exactly
  ASSERT_EQ(log_->Segments().size(), 1u);
  auto reader = log_->NewReader();
  for (uint64_t p = 1; p <= 7; ++p) ExpectNext(reader.get(), p, 100);
  ExpectCaughtUp(reader.get());
  AppendSizes({100});
  ASSERT_EQ(log_->Segments().size(), 2u);
  ExpectNext(reader.get(), 8, 100);
}

TEST_F(ReaderTest, ReaderNeverReturnsAnEntryAboveTheDurableHead) {
  OpenLog();
  AppendSizes({10});
  auto reader = log_->NewReader();
  ExpectNext(reader.get(), 1, 10);
  uint64_t size_before = FileSize(SegmentPath(dir_.path(), 1));
  env_.BlockSyncs();
  ASSERT_OK(log_->Append(PayloadFor(2, 10)));
  env_.WaitForBlockedSync();
  // Entry 2 is in the file, whole, but not yet synced.
  ASSERT_EQ(FileSize(SegmentPath(dir_.path(), 1)), size_before + kEntryHeaderBytes + 10);
  EXPECT_EQ(log_->durable_head(), Position(1));
  ExpectCaughtUp(reader.get());
  // Nor can a seek get at it.
  auto other = log_->NewReader();
  EXPECT_TRUE(other->Seek(Position(3)).IsInvalidArgument());
  ASSERT_OK(other->Seek(Position(2)));
  ExpectCaughtUp(other.get());
  env_.UnblockSyncs();
  ASSERT_OK(log_->WaitDurable(Position(2)));
  ExpectNext(reader.get(), 2, 10);
  ExpectNext(other.get(), 2, 10);
}

TEST_F(ReaderTest, TailingReaderStaysAtOrBelowTheDurableHead) {
  OpenLog(8192);
  constexpr uint64_t kTotal = 3000;
  std::atomic<bool> bad{false};
  std::thread tail([&] {
    auto reader = log_->NewReader();
    Entry e;
    uint64_t next = 1;
    while (next <= kTotal) {
      auto r = reader->Next(&e);
      if (!r.ok()) {
        ADD_FAILURE() << r.status().ToString();
        return;
      }
      if (!*r) {
        std::this_thread::yield();
        continue;
      }
      // durable_head only grows, so reading it after Next is a fair check.
      if (e.position.value() != next || e.position > log_->durable_head() ||
          e.payload != PayloadFor(next, next % 200)) {
        bad = true;
        ADD_FAILURE() << "entry " << e.position.value() << " where " << next << " expected";
        return;
      }
      ++next;
    }
  });
  for (uint64_t p = 1; p <= kTotal; ++p) ASSERT_OK(log_->Append(PayloadFor(p, p % 200)));
  tail.join();
  EXPECT_FALSE(bad.load());
}

TEST_F(ReaderTest, RandomSizedEntriesRoundTrip) {
  OpenLog(256 << 10);
  std::vector<size_t> sizes = RandomSizes(2000, 20000, 5);
  // Some entries larger than a segment and than the readers' 1 MiB chunk.
  sizes[10] = 0;
  sizes[500] = (1 << 20) + 17;
  sizes[501] = 3 << 20;
  sizes[1999] = (1 << 20) - 1;
  AppendSizes(sizes);
  for (int round = 0; round < 2; ++round) {
    auto reader = log_->NewReader();
    for (uint64_t p = 1; p <= sizes.size(); ++p) ExpectNext(reader.get(), p, sizes[p - 1]);
    ExpectCaughtUp(reader.get());
    OpenLog(256 << 10);  // and again from what recovery finds
  }
}

TEST_F(ReaderTest, ReadersAreIndependent) {
  OpenLog(2048);
  std::vector<size_t> sizes(50, 60);
  AppendSizes(sizes);
  auto a = log_->NewReader();
  auto b = log_->NewReader();
  ASSERT_OK(b->Seek(Position(25)));
  for (uint64_t p = 1; p <= 50; ++p) {
    ExpectNext(a.get(), p, 60);
    if (p + 24 <= 50) ExpectNext(b.get(), p + 24, 60);
  }
  ExpectCaughtUp(a.get());
  ExpectCaughtUp(b.get());
}

TEST_F(ReaderTest, SeekUsesTheIndexInsteadOfScanningTheSegment) {
  // One large segment; then an early entry is damaged behind the open log's
  // back. A seek far past it must not read it (the index skips it), while a
  // seek to it reports the damage.
  OpenLog();
  std::vector<size_t> sizes(200, 500);
  AppendSizes(sizes);
  ASSERT_EQ(log_->Segments().size(), 1u);
  const std::string path = SegmentPath(dir_.path(), 1);
  const uint64_t entry10 = EntryOffsets(ReadFile(path))[9];
  IncrementByte(path, entry10 + kEntryHeaderBytes);
  auto reader = log_->NewReader();
  ASSERT_OK(reader->Seek(Position(150)));
  ExpectNext(reader.get(), 150, 500);
  ASSERT_OK(reader->Seek(Position(10)));
  Entry e;
  auto r = reader->Next(&e);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("offset " + std::to_string(entry10)), std::string::npos)
      << r.status().ToString();
}

// ---- SegmentReader: the one definition of a valid entry (FORMAT.md 6) ----

class SegmentReaderTest : public testing::Test {
 protected:
  // A segment with base 10 and entries 10, 11, 12 with payloads "a", "bb", "ccc".
  void SetUp() override {
    char h[kSegmentHeaderBytes];
    EncodeSegmentHeader(Position(10), h);
    bytes_.assign(h, sizeof(h));
    offsets_.clear();
    for (uint64_t i = 0; i < 3; ++i) AddEntry(Position(10 + i), std::string(i + 1, 'a' + i));
  }

  void AddEntry(Position p, const std::string& payload) {
    offsets_.push_back(bytes_.size());
    char e[kEntryHeaderBytes];
    EncodeEntryHeader(p, 1000 + static_cast<int64_t>(p.value()), payload, e);
    bytes_.append(e, sizeof(e));
    bytes_ += payload;
  }

  // Reads the entries before the last one, then returns the outcome for it.
  SegmentReader::Outcome LastOutcome(std::string* problem = nullptr) {
    auto r = SegmentReader::OpenBuffer(bytes_, Position(10));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return SegmentReader::Outcome::kIOError;
    Entry e;
    for (size_t i = 0; i + 1 < offsets_.size(); ++i) {
      EXPECT_EQ((*r)->Next(&e), SegmentReader::Outcome::kEntry);
    }
    SegmentReader::Outcome o = (*r)->Next(&e);
    if (o != SegmentReader::Outcome::kEntry) {
      EXPECT_EQ((*r)->problem_offset(), offsets_.back());
      if (problem) *problem = (*r)->problem();
    }
    return o;
  }

  std::string bytes_;
  std::vector<uint64_t> offsets_;
};

TEST_F(SegmentReaderTest, ReadsEveryEntryThenEnds) {
  auto r = SegmentReader::OpenBuffer(bytes_, Position(10));
  ASSERT_OK(r);
  Entry e;
  for (uint64_t i = 0; i < 3; ++i) {
    ASSERT_EQ((*r)->Next(&e), SegmentReader::Outcome::kEntry);
    EXPECT_EQ(e.position, Position(10 + i));
    EXPECT_EQ(e.payload, std::string(i + 1, 'a' + i));
    EXPECT_EQ(e.timestamp_us, static_cast<int64_t>(1010 + i));
    EXPECT_EQ(e.offset, offsets_[i]);
  }
  EXPECT_EQ((*r)->Next(&e), SegmentReader::Outcome::kEnd);
  EXPECT_EQ((*r)->offset(), bytes_.size());
  EXPECT_EQ((*r)->next_position(), Position(13));
  EXPECT_EQ((*r)->Next(&e), SegmentReader::Outcome::kEnd);  // and stays there
}

TEST_F(SegmentReaderTest, HeaderOnlySegmentEndsAtOnce) {
  bytes_.resize(kSegmentHeaderBytes);
  auto r = SegmentReader::OpenBuffer(bytes_, Position(10));
  ASSERT_OK(r);
  Entry e;
  EXPECT_EQ((*r)->Next(&e), SegmentReader::Outcome::kEnd);
}

TEST_F(SegmentReaderTest, BadHeaderIsCorruption) {
  bytes_[0] = 'X';
  EXPECT_TRUE(SegmentReader::OpenBuffer(bytes_, Position(10)).status().IsCorruption());
  SetUp();
  EXPECT_TRUE(SegmentReader::OpenBuffer(bytes_, Position(11)).status().IsCorruption());
  EXPECT_TRUE(
      SegmentReader::OpenBuffer(bytes_.substr(0, 31), Position(10)).status().IsCorruption());
}

TEST_F(SegmentReaderTest, PartialEntryHeaderIsTorn) {
  for (size_t keep = 1; keep < kEntryHeaderBytes; ++keep) {
    SetUp();
    bytes_.resize(offsets_.back() + keep);
    std::string problem;
    EXPECT_EQ(LastOutcome(&problem), SegmentReader::Outcome::kTorn) << keep;
  }
}

TEST_F(SegmentReaderTest, ZeroEntryHeaderIsTorn) {
  bytes_ += std::string(kEntryHeaderBytes + 100, '\0');
  offsets_.push_back(bytes_.size() - kEntryHeaderBytes - 100);
  std::string problem;
  EXPECT_EQ(LastOutcome(&problem), SegmentReader::Outcome::kTorn);
  EXPECT_NE(problem.find("zero bytes"), std::string::npos) << problem;
}

TEST_F(SegmentReaderTest, UnknownFlagsAreCorrupt) {
  PutU32(bytes_.data() + offsets_.back() + 4, 1);
  std::string problem;
  EXPECT_EQ(LastOutcome(&problem), SegmentReader::Outcome::kCorrupt);
  EXPECT_NE(problem.find("flags"), std::string::npos) << problem;
}

TEST_F(SegmentReaderTest, OverlongLengthIsCorruptNotTorn) {
  // Rule 4 comes before rule 5: a length above the maximum is damage, even
  // though the file also ends inside the claimed entry.
  PutU32(bytes_.data() + offsets_.back(), kMaxPayloadBytes + 1);
  std::string problem;
  EXPECT_EQ(LastOutcome(&problem), SegmentReader::Outcome::kCorrupt);
  EXPECT_NE(problem.find("exceeds the maximum"), std::string::npos) << problem;
}

TEST_F(SegmentReaderTest, EntryPastTheEndOfTheFileIsTorn) {
  for (size_t cut = 1; cut <= 3; ++cut) {
    SetUp();
    bytes_.resize(bytes_.size() - cut);
    std::string problem;
    EXPECT_EQ(LastOutcome(&problem), SegmentReader::Outcome::kTorn) << cut;
    EXPECT_NE(problem.find("extends past the end"), std::string::npos) << problem;
  }
}

TEST_F(SegmentReaderTest, ChecksumMismatchIsCorrupt) {
  bytes_.back() = 'z';
  std::string problem;
  EXPECT_EQ(LastOutcome(&problem), SegmentReader::Outcome::kCorrupt);
  EXPECT_NE(problem.find("checksum mismatch"), std::string::npos) << problem;
}

TEST_F(SegmentReaderTest, UnexpectedPositionIsCorrupt) {
  AddEntry(Position(14), "skips 13");
  std::string problem;
  EXPECT_EQ(LastOutcome(&problem), SegmentReader::Outcome::kCorrupt);
  EXPECT_NE(problem.find("position 14 where 13 was expected"), std::string::npos) << problem;
}

TEST_F(SegmentReaderTest, FollowsAGrowingFile) {
  // A reader at the end of a file being appended to sees what comes next,
  // including an entry that was torn when first read.
  TempDir dir;
  const std::string path = dir.Sub(SegmentFileName(Position(10)));
  const std::string whole = bytes_;
  WriteFile(path, whole.substr(0, offsets_[1]));
  auto r = SegmentReader::Open(path, Position(10));
  ASSERT_OK(r);
  Entry e;
  ASSERT_EQ((*r)->Next(&e), SegmentReader::Outcome::kEntry);
  EXPECT_EQ((*r)->Next(&e), SegmentReader::Outcome::kEnd);
  WriteFile(path, whole.substr(0, offsets_[1] + 10));  // header of 11, in part
  EXPECT_EQ((*r)->Next(&e), SegmentReader::Outcome::kTorn);
  WriteFile(path, whole.substr(0, offsets_[1] + kEntryHeaderBytes + 1));  // 11 lacks a byte
  EXPECT_EQ((*r)->Next(&e), SegmentReader::Outcome::kTorn);
  WriteFile(path, whole);
  ASSERT_EQ((*r)->Next(&e), SegmentReader::Outcome::kEntry);
  EXPECT_EQ(e.position, Position(11));
  EXPECT_EQ(e.payload, "bb");
  ASSERT_EQ((*r)->Next(&e), SegmentReader::Outcome::kEntry);
  EXPECT_EQ(e.payload, "ccc");
  EXPECT_EQ((*r)->Next(&e), SegmentReader::Outcome::kEnd);
}

TEST_F(SegmentReaderTest, MissingFileIsNotFound) {
  TempDir dir;
  EXPECT_TRUE(SegmentReader::Open(dir.Sub(SegmentFileName(Position(1))), Position(1))
                  .status()
                  .IsNotFound());
}

}  // namespace
}  // namespace eventide::wal
