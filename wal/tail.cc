#include "wal/tail.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace eventide::wal {
namespace {

// Reads bytes [offset, offset + n) of `path` into *out.
Status ReadRange(const std::string& path, uint64_t offset, uint64_t n, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  out->resize(n);
  uint64_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, out->data() + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno("read " + path, err);
    }
    if (r == 0) break;
    got += static_cast<uint64_t>(r);
  }
  ::close(fd);
  out->resize(got);
  return Status::OK();
}

}  // namespace

Result<std::optional<SyncedMark>> ReadSyncedMark(const std::string& dir, std::string* problem) {
  problem->clear();
  std::string path = dir + "/" + std::string(kSyncedMarkFileName);
  if (::access(path.c_str(), F_OK) != 0) {
    if (errno == ENOENT) return std::optional<SyncedMark>();
    return Status::FromErrno("access " + path, errno);
  }
  std::string bytes;
  // One byte more than a mark, so that a longer file is seen as such.
  Status s = ReadRange(path, 0, kSyncedMarkBytes + 1, &bytes);
  if (!s.ok()) return s;
  SyncedMark mark;
  std::string reason = DecodeSyncedMark(bytes, &mark);
  if (!reason.empty()) {
    *problem = path + " " + reason;
    return std::optional<SyncedMark>();
  }
  return std::optional<SyncedMark>(mark);
}

uint64_t SyncedBytesFor(const std::optional<SyncedMark>& mark, Position base) {
  return mark && mark->base == base ? mark->bytes : 0;
}

Result<TailVerdict> JudgeTail(const std::string& path, uint64_t offset, uint64_t file_bytes,
                              Position next, uint64_t synced_bytes) {
  TailVerdict v;
  if (file_bytes < synced_bytes) {
    v.torn = false;
    v.why_not = "the segment is " + std::to_string(file_bytes) + " bytes, but its first " +
                std::to_string(synced_bytes) +
                " bytes were recorded as synced (SYNCED): synced bytes are missing";
  } else if (offset < synced_bytes) {
    v.torn = false;
    v.why_not = "the damage lies within the first " + std::to_string(synced_bytes) +
                " bytes, recorded as synced (SYNCED): no crash changes bytes after their "
                "fdatasync";
  }
  if (offset >= file_bytes) return v;
  std::string tail;
  Status s = ReadRange(path, offset, file_bytes - offset, &tail);
  if (!s.ok()) return s;
  std::optional<FoundEntry> found = FindValidEntry(tail, next);
  if (!found) return v;
  // Walk the valid chain from there, for the report: how much good data a
  // cut at the damage would throw away.
  uint64_t at = found->offset;
  Position expect = found->position;
  while (at + kEntryHeaderBytes <= tail.size()) {
    EntryHeader h = DecodeEntryHeader(tail.data() + at);
    if (h.flags != 0 || h.position != expect || h.length > tail.size() - at - kEntryHeaderBytes) {
      break;
    }
    std::string_view payload(tail.data() + at + kEntryHeaderBytes, h.length);
    if (Checksum(std::string_view(tail.data() + at, 24), payload) != h.checksum) break;
    v.later_last = expect;
    ++v.later_entries;
    expect = expect.Next();
    at += kEntryHeaderBytes + h.length;
  }
  found->offset += offset;
  v.later = found;
  if (v.torn) {
    v.torn = false;
    v.why_not = "a valid entry (position " + found->position.ToString() + ") follows at offset " +
                std::to_string(found->offset) + ", so this is not a torn tail";
  }
  return v;
}

}  // namespace eventide::wal
