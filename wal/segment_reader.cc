#include "wal/segment_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace eventide::wal {
namespace {

// Sequential reads are done in chunks of this size: large enough that the
// syscall cost vanishes against the copy (scan rate is bounded by memcpy and
// XXH3, both well above 1 GB/s), small enough to stay in L2/L3.
constexpr size_t kChunkBytes = 1 << 20;

bool AllZero(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

}  // namespace

SegmentReader::SegmentReader(int fd, std::string path, Position base, std::string_view memory)
    : fd_(fd), path_(std::move(path)), base_(base), memory_(memory), next_(base) {}

SegmentReader::~SegmentReader() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<SegmentReader>> SegmentReader::Open(const std::string& path, Position base) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound("no segment file " + path);
    return Status::FromErrno("open " + path, err);
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::unique_ptr<SegmentReader> r(new SegmentReader(fd, path, base, {}));
  r->RefreshSize();
  if (r->io_error_) return Status::IOError("fstat " + path + " failed");
  r->offset_ = 0;
  size_t got = r->Fill(kSegmentHeaderBytes);
  if (r->io_error_) return Status::IOError("read " + path + " failed");
  std::string reason = CheckSegmentHeader(std::string_view(r->buffer_.data(), got), base);
  if (!reason.empty()) return Status::Corruption(path + " offset 0: " + reason);
  r->offset_ = kSegmentHeaderBytes;
  return r;
}

Result<std::unique_ptr<SegmentReader>> SegmentReader::OpenBuffer(std::string_view bytes,
                                                                 Position base) {
  std::string reason = CheckSegmentHeader(bytes, base);
  if (!reason.empty()) return Status::Corruption("offset 0: " + reason);
  std::unique_ptr<SegmentReader> r(new SegmentReader(-1, "<memory>", base, bytes));
  r->file_bytes_ = bytes.size();
  r->offset_ = kSegmentHeaderBytes;
  return r;
}

void SegmentReader::SeekTo(uint64_t offset, Position position) {
  offset_ = offset;
  next_ = position;
}

void SegmentReader::RefreshSize() {
  if (fd_ < 0) return;
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    io_error_ = true;
    return;
  }
  file_bytes_ = static_cast<uint64_t>(st.st_size);
}

size_t SegmentReader::Fill(size_t n) {
  if (fd_ < 0) {
    if (offset_ >= memory_.size()) return 0;
    return static_cast<size_t>(std::min<uint64_t>(n, memory_.size() - offset_));
  }
  uint64_t buffer_end = buffer_offset_ + buffer_len_;
  if (offset_ >= buffer_offset_ && offset_ + n <= buffer_end) return n;

  // Keep what the buffer already holds from offset_ on, then read more.
  size_t keep = 0;
  if (offset_ >= buffer_offset_ && offset_ < buffer_end) {
    keep = static_cast<size_t>(buffer_end - offset_);
    std::memmove(buffer_.data(), buffer_.data() + (offset_ - buffer_offset_), keep);
  }
  buffer_offset_ = offset_;
  buffer_len_ = keep;
  size_t want = std::max(n, kChunkBytes);
  if (buffer_.size() < want) buffer_.resize(want);
  while (buffer_len_ < n) {
    ssize_t r = ::pread(fd_, buffer_.data() + buffer_len_, buffer_.size() - buffer_len_,
                        static_cast<off_t>(buffer_offset_ + buffer_len_));
    if (r < 0) {
      if (errno == EINTR) continue;
      io_error_ = true;
      break;
    }
    if (r == 0) break;
    buffer_len_ += static_cast<size_t>(r);
  }
  return std::min(n, buffer_len_);
}

SegmentReader::Outcome SegmentReader::Fail(Outcome outcome, std::string reason) {
  problem_ = std::move(reason);
  return outcome;
}

SegmentReader::Outcome SegmentReader::Next(Entry* entry) {
  Outcome o = ReadNext(entry);
  if ((o == Outcome::kTorn || o == Outcome::kCorrupt) && fd_ >= 0) {
    // What was read ahead may be stale: a segment followed from another
    // process can be cut (recovery of a torn tail) and written again at the
    // same offsets. Judge the entry on what the file holds now.
    buffer_len_ = 0;
    RefreshSize();
    o = ReadNext(entry);
  }
  return o;
}

SegmentReader::Outcome SegmentReader::ReadNext(Entry* entry) {
  io_error_ = false;
  size_t avail = Fill(kEntryHeaderBytes);
  if (avail < kEntryHeaderBytes && fd_ >= 0) {
    // The file may have grown since we last looked (a log being written).
    RefreshSize();
    buffer_len_ = 0;  // drop the short read; what is there now is read again
    avail = Fill(kEntryHeaderBytes);
  }
  if (io_error_) return Fail(Outcome::kIOError, "read failed: " + std::string(strerror(errno)));
  if (avail == 0) return Fail(Outcome::kEnd, "end of segment");
  const char* p = fd_ < 0 ? memory_.data() + offset_ : buffer_.data() + (offset_ - buffer_offset_);
  if (avail < kEntryHeaderBytes) {
    if (AllZero(p, avail)) {
      return Fail(Outcome::kTorn, std::to_string(avail) + " zero bytes after the last entry");
    }
    return Fail(Outcome::kTorn, "partial entry header (" + std::to_string(avail) + " of " +
                                    std::to_string(kEntryHeaderBytes) + " bytes)");
  }
  if (AllZero(p, kEntryHeaderBytes)) {
    return Fail(Outcome::kTorn, "zero bytes where an entry header should be (space never written)");
  }
  EntryHeader h = DecodeEntryHeader(p);
  if (h.flags != 0) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "unknown entry flags 0x%x", h.flags);
    return Fail(Outcome::kCorrupt, buf);
  }
  if (h.length > kMaxPayloadBytes) {
    return Fail(Outcome::kCorrupt, "entry length " + std::to_string(h.length) +
                                       " exceeds the maximum " + std::to_string(kMaxPayloadBytes));
  }
  uint64_t total = kEntryHeaderBytes + uint64_t{h.length};
  uint64_t size = fd_ < 0 ? memory_.size() : file_bytes_;
  if (offset_ + total > size && fd_ >= 0) {
    RefreshSize();
    size = file_bytes_;
  }
  if (offset_ + total > size) {
    return Fail(Outcome::kTorn, "entry of " + std::to_string(total) +
                                    " bytes extends past the end of the file by " +
                                    std::to_string(offset_ + total - size) + " bytes");
  }
  avail = Fill(static_cast<size_t>(total));
  if (io_error_) return Fail(Outcome::kIOError, "read failed: " + std::string(strerror(errno)));
  if (avail < total) return Fail(Outcome::kTorn, "file shrank while reading an entry");
  p = fd_ < 0 ? memory_.data() + offset_ : buffer_.data() + (offset_ - buffer_offset_);
  std::string_view payload(p + kEntryHeaderBytes, h.length);
  if (Checksum(std::string_view(p, 24), payload) != h.checksum) {
    return Fail(Outcome::kCorrupt, "checksum mismatch (entry claims position " +
                                       h.position.ToString() + ", " + std::to_string(h.length) +
                                       " payload bytes)");
  }
  if (h.position != next_) {
    return Fail(Outcome::kCorrupt, "position " + h.position.ToString() + " where " +
                                       next_.ToString() + " was expected");
  }
  entry->position = h.position;
  entry->timestamp_us = h.timestamp_us;
  entry->payload = payload;
  entry->offset = offset_;
  offset_ += total;
  next_ = next_.Next();
  problem_.clear();
  return Outcome::kEntry;
}

}  // namespace eventide::wal
