// Helpers shared by the log tests: temporary directories, status assertions,
// read-back helpers and damage helpers in the manner of LevelDB's
// db/log_test.cc (IncrementByte, ShrinkSize, FixChecksum).
#ifndef EVENTIDE_TESTS_WAL_TEST_UTIL_H_
#define EVENTIDE_TESTS_WAL_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "wal/format.h"
#include "wal/log.h"
#include "wal/status.h"

namespace eventide::wal {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "eventide-test-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    if (p == nullptr) std::abort();
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Adds `delta` to the byte at `offset` of `path` (LevelDB's IncrementByte).
inline void IncrementByte(const std::string& path, uint64_t offset, int delta = 1) {
  std::string bytes = ReadFile(path);
  bytes[offset] = static_cast<char>(bytes[offset] + delta);
  WriteFile(path, bytes);
}

// Cuts `path` to its first `bytes` bytes (LevelDB's ShrinkSize).
inline void ShrinkTo(const std::string& path, uint64_t bytes) {
  std::filesystem::resize_file(path, bytes);
}

inline uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

// Recomputes the checksum of the segment header of `path`, so that a test can
// change a header field and see the check that field fails, not the checksum.
inline void FixSegmentHeaderChecksum(const std::string& path) {
  std::string bytes = ReadFile(path);
  std::string header = bytes.substr(0, 24);
  char sum[8];
  // XXH3 of the first 24 bytes == Checksum(header24, "").
  PutU64(sum, Checksum(header, {}));
  bytes.replace(24, 8, sum, 8);
  WriteFile(path, bytes);
}

// Recomputes the checksum of the entry whose header starts at `offset`
// (LevelDB's FixChecksum).
inline void FixEntryChecksum(const std::string& path, uint64_t offset) {
  std::string bytes = ReadFile(path);
  uint32_t length = GetU32(bytes.data() + offset);
  char sum[8];
  PutU64(sum, Checksum(std::string_view(bytes.data() + offset, 24),
                       std::string_view(bytes.data() + offset + kEntryHeaderBytes, length)));
  bytes.replace(offset + 24, 8, sum, 8);
  WriteFile(path, bytes);
}

// Segment file names in `dir`, in position order.
inline std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& de : std::filesystem::directory_iterator(dir)) {
    std::string name = de.path().filename().string();
    if (ParseSegmentFileName(name)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline std::string SegmentPath(const std::string& dir, uint64_t base) {
  return dir + "/" + SegmentFileName(Position(base));
}

// The offsets at which the entries of a whole, valid segment file start.
inline std::vector<uint64_t> EntryOffsets(const std::string& bytes) {
  std::vector<uint64_t> offsets;
  uint64_t off = kSegmentHeaderBytes;
  while (off + kEntryHeaderBytes <= bytes.size()) {
    offsets.push_back(off);
    off += kEntryHeaderBytes + GetU32(bytes.data() + off);
  }
  return offsets;
}

// The status of a Status or of a Result, for the assertion macros below.
inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

#define ASSERT_OK(expr)                                                             \
  do {                                                                              \
    const auto& assert_ok_value_ = (expr);                                          \
    ASSERT_TRUE(assert_ok_value_.ok())                                              \
        << #expr << ": " << ::eventide::wal::StatusOf(assert_ok_value_).ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                                             \
  do {                                                                              \
    const auto& expect_ok_value_ = (expr);                                          \
    EXPECT_TRUE(expect_ok_value_.ok())                                              \
        << #expr << ": " << ::eventide::wal::StatusOf(expect_ok_value_).ToString(); \
  } while (0)

inline LogOptions TestOptions(const std::string& dir, uint64_t segment_bytes = 64ull << 20,
                              Env* env = nullptr) {
  LogOptions o;
  o.dir = dir;
  o.segment_bytes = segment_bytes;
  o.env = env;
  return o;
}

// The payload the tests append at position `p`: `size` bytes that depend on
// `p`, so that an entry read back at the wrong position is noticed.
inline std::string PayloadFor(uint64_t p, size_t size) {
  std::string s = "p" + std::to_string(p) + ":";
  std::string out;
  out.reserve(size);
  while (out.size() < size) out += s;
  out.resize(size);
  return out;
}

struct ReadEntry {
  uint64_t position = 0;
  std::string payload;
};

// Reads every entry from `from` (the oldest retained one when None) up to
// the durable head.
inline Status ReadAll(Log* log, std::vector<ReadEntry>* out, Position from = Position()) {
  out->clear();
  auto reader = log->NewReader();
  if (!from.IsNone()) {
    Status s = reader->Seek(from);
    if (!s.ok()) return s;
  }
  Entry e;
  for (;;) {
    auto r = reader->Next(&e);
    if (!r.ok()) return r.status();
    if (!*r) return Status::OK();
    out->push_back({e.position.value(), std::string(e.payload)});
  }
}

// Appends `payload`, waits for it to be durable and returns its position
// (None on failure).
inline Position AppendDurable(Log* log, std::string_view payload) {
  auto p = log->Append(payload);
  if (!p.ok()) return Position();
  if (!log->WaitDurable(*p).ok()) return Position();
  return *p;
}

}  // namespace eventide::wal

#endif  // EVENTIDE_TESTS_WAL_TEST_UTIL_H_
