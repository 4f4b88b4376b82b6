// Env: the file operations the log's write path uses, behind an interface so
// that tests can fail a write or an fdatasync on purpose (see
// tests/wal/fault_env.h). Reads go straight to POSIX: they have no failure
// that the log must survive differently from an I/O error.
#ifndef EVENTIDE_WAL_ENV_H_
#define EVENTIDE_WAL_ENV_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "wal/status.h"

namespace eventide::wal {

// A file opened for appending. Not thread-safe: the log's writer thread is
// its only user.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of `data` at the end of the file, or fails. A failure may
  // leave a prefix of `data` in the file.
  virtual Status Append(std::string_view data) = 0;
  // fdatasync: returns OK only when every byte appended so far is durable.
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
};

// A small file rewritten in place: the log's SYNCED mark (FORMAT.md section
// 6). Not thread-safe: the log's writer thread is its only user.
class MarkFile {
 public:
  virtual ~MarkFile() = default;
  // Writes all of `data` at offset 0 (one pwrite), replacing what was there.
  virtual Status Write(std::string_view data) = 0;
  // fsync: returns OK only when what was written is durable.
  virtual Status Sync() = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX environment. Never deleted.
  static Env* Default();

  // Opens `path` for appending; creates it when `create` is true (and then
  // fails if it exists already).
  virtual Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path,
                                                              bool create) = 0;
  // Opens `path` for rewriting in place, creating it empty when missing;
  // *created says whether it did (the caller then syncs the directory).
  virtual Result<std::unique_ptr<MarkFile>> OpenMarkFile(const std::string& path,
                                                         bool* created) = 0;
  // fsync on the directory, so that created and removed names are durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Cuts `path` to `bytes` and makes the new size durable.
  virtual Status TruncateFile(const std::string& path, uint64_t bytes) = 0;
};

}  // namespace eventide::wal

#endif  // EVENTIDE_WAL_ENV_H_
