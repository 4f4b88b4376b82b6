// SegmentReader: reads the entries of one segment file in order, validating
// each one, and says precisely why it stopped. Recovery, the log's Reader,
// `eventide-log verify` and the segment fuzzer all read through it, so there
// is one definition of "a valid entry" (FORMAT.md, "Reading and recovery").
#ifndef EVENTIDE_WAL_SEGMENT_READER_H_
#define EVENTIDE_WAL_SEGMENT_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wal/format.h"
#include "wal/position.h"
#include "wal/status.h"

namespace eventide::wal {

// One entry as read from the log. `payload` points into the reader's buffer
// and stays valid until the reader's next call.
struct Entry {
  Position position;
  int64_t timestamp_us = 0;
  std::string_view payload;
  uint64_t offset = 0;  // file offset of the entry header within its segment
};

// Where an entry starts; the sparse per-segment index is a sorted list of them.
struct IndexPoint {
  Position position;
  uint64_t offset = 0;
};

class SegmentReader {
 public:
  enum class Outcome {
    kEntry,    // *entry holds the next entry
    kEnd,      // the file ends exactly after the previous entry
    kTorn,     // an incomplete entry: the file ends inside it, or the rest
               // of the file is zero bytes (never written)
    kCorrupt,  // a complete entry that is not valid (checksum, position, flags, length)
    kIOError,  // the OS failed a read
  };

  // Opens `path` (a segment whose file name gives `base`) and checks its header.
  // Fails with Corruption when the header is not valid, NotFound when the file
  // does not exist.
  static Result<std::unique_ptr<SegmentReader>> Open(const std::string& path, Position base);

  // Reads segment bytes from memory instead of a file (the fuzzer; tests).
  // `bytes` must outlive the reader.
  static Result<std::unique_ptr<SegmentReader>> OpenBuffer(std::string_view bytes, Position base);

  ~SegmentReader();
  SegmentReader(const SegmentReader&) = delete;
  SegmentReader& operator=(const SegmentReader&) = delete;

  // Continues reading at `offset`, where the entry at `position` starts.
  // REQUIRES: offset is an entry boundary previously reported by this
  // segment's reader or index.
  void SeekTo(uint64_t offset, Position position);

  // Reads the next entry. On anything but kEntry, problem() says why and
  // problem_offset() where; the reader stays at the same offset, so a caller
  // that follows a growing file may call Next() again later.
  Outcome Next(Entry* entry);

  Position base() const { return base_; }
  const std::string& path() const { return path_; }
  // Offset of the next entry to read (just past the last valid one).
  uint64_t offset() const { return offset_; }
  Position next_position() const { return next_; }
  uint64_t file_bytes() const { return file_bytes_; }
  const std::string& problem() const { return problem_; }
  uint64_t problem_offset() const { return offset_; }

 private:
  SegmentReader(int fd, std::string path, Position base, std::string_view memory);

  // Makes bytes [offset_, offset_ + n) available in the buffer; returns how
  // many are (fewer at end of file). Sets io_error_ on a failed read.
  size_t Fill(size_t n);
  // Re-reads the file size (the file may have grown since it was opened).
  void RefreshSize();
  Outcome Fail(Outcome outcome, std::string reason);
  // Next, from whatever the buffer holds.
  Outcome ReadNext(Entry* entry);

  int fd_;  // -1 when reading from memory
  std::string path_;
  Position base_;
  std::string_view memory_;  // the segment when reading from memory
  uint64_t file_bytes_ = 0;

  uint64_t offset_ = kSegmentHeaderBytes;
  Position next_;

  // buffer_[0, buffer_len_) holds file bytes [buffer_offset_, buffer_offset_ + buffer_len_).
  std::vector<char> buffer_;
  uint64_t buffer_offset_ = 0;
  size_t buffer_len_ = 0;

  bool io_error_ = false;
  std::string problem_;
};

}  // namespace eventide::wal

#endif  // EVENTIDE_WAL_SEGMENT_READER_H_
