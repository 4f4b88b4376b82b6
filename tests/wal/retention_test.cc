// Log::DeleteBefore: retention removes whole old segments, never the head.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/wal/fault_env.h"
#include "tests/wal/test_util.h"
#include "wal/log.h"

namespace eventide::wal {
namespace {

constexpr uint64_t kSegmentBytes = 1024;
constexpr size_t kPayload = 100;  // 7 entries per segment

class RetentionTest : public testing::Test {
 protected:
  void OpenLog(bool read_only = false) {
    log_.reset();
    LogOptions o = TestOptions(dir_.path(), kSegmentBytes, &env_);
    o.read_only = read_only;
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }

  void Append(uint64_t n) {
    uint64_t first = log_->durable_head().value() + 1;
    for (uint64_t p = first; p < first + n; ++p) ASSERT_OK(log_->Append(PayloadFor(p, kPayload)));
    ASSERT_OK(log_->WaitDurable(Position(first + n - 1)));
  }

  std::vector<uint64_t> Bases() const {
    std::vector<uint64_t> bases;
    for (const auto& s : log_->Segments()) bases.push_back(s.base.value());
    return bases;
  }

  std::vector<uint64_t> BasesOnDisk() const {
    std::vector<uint64_t> bases;
    for (const auto& name : SegmentFiles(dir_.path()))
      bases.push_back(ParseSegmentFileName(name)->value());
    return bases;
  }

  void ExpectReadable(uint64_t from, uint64_t to) {
    std::vector<ReadEntry> got;
    ASSERT_OK(ReadAll(log_.get(), &got));
    ASSERT_EQ(got.size(), to - from + 1);
    for (uint64_t p = from; p <= to; ++p) {
      ASSERT_EQ(got[p - from].position, p);
      ASSERT_EQ(got[p - from].payload, PayloadFor(p, kPayload));
    }
  }

  TempDir dir_;
  FaultEnv env_;
  std::unique_ptr<Log> log_;
};

TEST_F(RetentionTest, DeletesOnlyWholeSegmentsBelowThePosition) {
  OpenLog();
  Append(30);  // segments at 1, 8, 15, 22, 29
  ASSERT_EQ(Bases(), (std::vector<uint64_t>{1, 8, 15, 22, 29}));
  size_t deleted = 99;
  // 7 is the last entry of the first segment: position 7 itself must stay.
  ASSERT_OK(log_->DeleteBefore(Position(7), &deleted));
  EXPECT_EQ(deleted, 0u);
  EXPECT_EQ(Bases(), (std::vector<uint64_t>{1, 8, 15, 22, 29}));
  ASSERT_OK(log_->DeleteBefore(Position(8), &deleted));
  EXPECT_EQ(deleted, 1u);
  EXPECT_EQ(Bases(), (std::vector<uint64_t>{8, 15, 22, 29}));
  // Partway into the third segment: only the second goes.
  ASSERT_OK(log_->DeleteBefore(Position(18), &deleted));
  EXPECT_EQ(deleted, 1u);
  EXPECT_EQ(Bases(), (std::vector<uint64_t>{15, 22, 29}));
  EXPECT_EQ(BasesOnDisk(), Bases());
  ExpectReadable(15, 30);
}

TEST_F(RetentionTest, DeletingNothingIsOk) {
  OpenLog();
  size_t deleted = 99;
  ASSERT_OK(log_->DeleteBefore(Position(100), &deleted));  // empty log
  EXPECT_EQ(deleted, 0u);
  Append(3);
  ASSERT_OK(log_->DeleteBefore(Position(1), &deleted));
  EXPECT_EQ(deleted, 0u);
  ASSERT_OK(log_->DeleteBefore(Position(), &deleted));
  EXPECT_EQ(deleted, 0u);
  ExpectReadable(1, 3);
}

TEST_F(RetentionTest, NeverDeletesTheHeadSegment) {
  OpenLog();
  Append(30);
  size_t deleted = 0;
  ASSERT_OK(log_->DeleteBefore(Position(1000), &deleted));
  EXPECT_EQ(deleted, 4u);
  EXPECT_EQ(Bases(), (std::vector<uint64_t>{29}));
  EXPECT_EQ(BasesOnDisk(), Bases());
  EXPECT_EQ(log_->first_position(), Position(29));
  ExpectReadable(29, 30);
  // Once more: still the head segment.
  ASSERT_OK(log_->DeleteBefore(Position(1000), &deleted));
  EXPECT_EQ(deleted, 0u);
  EXPECT_EQ(Bases(), (std::vector<uint64_t>{29}));
}

TEST_F(RetentionTest, NeverDeletesTheHeadSegmentWhenTheNewestIsEmpty) {
  OpenLog();
  Append(28);  // fills four segments exactly: 1, 8, 15, 22
  ASSERT_EQ(Bases(), (std::vector<uint64_t>{1, 8, 15, 22}));
  log_.reset();
  // A roll interrupted before the first entry went in leaves an empty newest
  // segment.
  char header[kSegmentHeaderBytes];
  EncodeSegmentHeader(Position(29), header);
  WriteFile(SegmentPath(dir_.path(), 29), std::string(header, sizeof(header)));
  OpenLog();
  ASSERT_EQ(Bases(), (std::vector<uint64_t>{1, 8, 15, 22, 29}));
  EXPECT_EQ(log_->durable_head(), Position(28));
  size_t deleted = 0;
  ASSERT_OK(log_->DeleteBefore(Position(1000), &deleted));
  EXPECT_EQ(deleted, 3u);
  // The head entry (28) stays readable.
  EXPECT_EQ(Bases(), (std::vector<uint64_t>{22, 29}));
  EXPECT_EQ(log_->first_position(), Position(22));
  ExpectReadable(22, 28);
  Append(1);
  EXPECT_EQ(log_->durable_head(), Position(29));
  ExpectReadable(22, 29);
}

TEST_F(RetentionTest, FirstPositionMoves) {
  OpenLog();
  EXPECT_EQ(log_->first_position(), Position(1));
  Append(30);
  EXPECT_EQ(log_->first_position(), Position(1));
  ASSERT_OK(log_->DeleteBefore(Position(16)));
  EXPECT_EQ(log_->first_position(), Position(15));
  EXPECT_EQ(log_->NewReader()->next_position(), Position(15));
}

TEST_F(RetentionTest, SeekingBelowTheFirstPositionIsNotFound) {
  OpenLog();
  Append(30);
  auto reader = log_->NewReader();
  ASSERT_OK(reader->Seek(Position(3)));  // positioned, not yet opened
  ASSERT_OK(log_->DeleteBefore(Position(15)));
  EXPECT_TRUE(reader->Seek(Position(1)).IsNotFound());
  EXPECT_TRUE(reader->Seek(Position(14)).IsNotFound());
  ASSERT_OK(reader->Seek(Position(15)));
  Entry e;
  auto r = reader->Next(&e);
  ASSERT_OK(r);
  ASSERT_TRUE(*r);
  EXPECT_EQ(e.position, Position(15));
}

TEST_F(RetentionTest, ReaderPositionedOnADeletedSegmentGetsNotFound) {
  OpenLog();
  Append(30);
  auto reader = log_->NewReader();
  ASSERT_OK(reader->Seek(Position(3)));
  ASSERT_OK(log_->DeleteBefore(Position(15)));
  Entry e;
  auto r = reader->Next(&e);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
}

TEST_F(RetentionTest, OpenReaderOnADeletedSegmentKeepsReading) {
  OpenLog();
  Append(30);
  auto reader = log_->NewReader();
  Entry e;
  for (uint64_t p = 1; p <= 3; ++p) {
    auto r = reader->Next(&e);
    ASSERT_OK(r);
    ASSERT_TRUE(*r);
  }
  // The reader's segment file is unlinked; its descriptor still reads it.
  ASSERT_OK(log_->DeleteBefore(Position(8)));
  ASSERT_FALSE(std::filesystem::exists(SegmentPath(dir_.path(), 1)));
  for (uint64_t p = 4; p <= 30; ++p) {
    auto r = reader->Next(&e);
    ASSERT_OK(r);
    ASSERT_TRUE(*r);
    ASSERT_EQ(e.position, Position(p));
    ASSERT_EQ(e.payload, PayloadFor(p, kPayload));
  }
}

TEST_F(RetentionTest, DeletingSyncsTheDirectory) {
  OpenLog();
  Append(30);
  uint64_t before = env_.sync_dirs();
  ASSERT_OK(log_->DeleteBefore(Position(15)));
  EXPECT_EQ(env_.sync_dirs(), before + 1);
}

TEST_F(RetentionTest, LogWorksAfterReopen) {
  OpenLog();
  Append(30);
  ASSERT_OK(log_->DeleteBefore(Position(20)));
  OpenLog();
  EXPECT_EQ(log_->first_position(), Position(15));
  EXPECT_EQ(log_->durable_head(), Position(30));
  ExpectReadable(15, 30);
  Append(10);
  EXPECT_EQ(log_->durable_head(), Position(40));
  ExpectReadable(15, 40);
  ASSERT_OK(log_->DeleteBefore(Position(1000)));
  OpenLog();
  EXPECT_EQ(log_->first_position(), Position(36));
  Append(1);
  EXPECT_EQ(log_->durable_head(), Position(41));
  ExpectReadable(36, 41);
}

TEST_F(RetentionTest, ReadOnlyLogRefusesToDelete) {
  OpenLog();
  Append(30);
  log_.reset();
  OpenLog(/*read_only=*/true);
  std::vector<uint64_t> before = Bases();
  size_t deleted = 99;
  Status s = log_->DeleteBefore(Position(20), &deleted);
  EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
  EXPECT_EQ(deleted, 0u);
  // Nothing changed, on disk or in the open log.
  EXPECT_EQ(Bases(), before);
  EXPECT_EQ(BasesOnDisk(), before);
  EXPECT_EQ(log_->first_position(), Position(1));
  ExpectReadable(1, 30);
}

TEST_F(RetentionTest, DeletingWhileAppendingAndReading) {
  OpenLog();
  constexpr uint64_t kTotal = 2000;
  std::atomic<bool> done{false};
  std::thread retention([&] {
    while (!done) {
      Status s = log_->DeleteBefore(log_->durable_head());
      if (!s.ok()) {
        ADD_FAILURE() << s.ToString();
        return;
      }
      std::vector<SegmentInfo> segs = log_->Segments();
      if (segs.empty()) {
        ADD_FAILURE() << "no segments";
        return;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::thread tail([&] {
    // A reader that falls behind retention gets NotFound and starts over
    // from the oldest retained position.
    auto reader = log_->NewReader();
    Entry e;
    while (!done) {
      auto r = reader->Next(&e);
      if (!r.ok()) {
        if (!r.status().IsNotFound()) {
          ADD_FAILURE() << r.status().ToString();
          return;
        }
        reader = log_->NewReader();
        continue;
      }
      if (!*r) {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      } else if (e.payload != PayloadFor(e.position.value(), kPayload)) {
        ADD_FAILURE() << "bad payload at " << e.position.value();
        return;
      }
    }
  });
  for (uint64_t p = 1; p <= kTotal; ++p) {
    ASSERT_OK(log_->Append(PayloadFor(p, kPayload)));
    if (p % 16 == 0) ASSERT_OK(log_->WaitDurable(Position(p)));
  }
  ASSERT_OK(log_->WaitDurable(Position(kTotal)));
  done = true;
  retention.join();
  tail.join();
  OpenLog();
  EXPECT_EQ(log_->durable_head(), Position(kTotal));
  ExpectReadable(log_->first_position().value(), kTotal);
}

}  // namespace
}  // namespace eventide::wal
