// Projection checkpoints: the projection's records as of a position, so that
// a restart replays only the log after it (SPEC section 4). The bytes are
// described in docs/CHECKPOINT.md.
//
// Files live in one directory (the server uses DATA/checkpoints), named by
// position: 00000000000000001234.ckpt. A checkpoint is written to a .tmp
// file, fdatasync'ed, renamed and the directory fsync'ed, so a crash leaves
// either the whole file or none; the newest two are kept.
#ifndef EVENTIDE_SRC_PROJECTION_CHECKPOINT_H_
#define EVENTIDE_SRC_PROJECTION_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "src/projection/projection.h"
#include "wal/log.h"
#include "wal/status.h"

namespace eventide::projection {

// Writes `snap` as a checkpoint in `dir` and deletes all but the newest two.
// Any thread (the server runs it on the libuv pool).
Status WriteCheckpoint(const std::string& dir, const Snapshot& snap, uint64_t* bytes_written);

struct RecoveryReport {
  wal::Position checkpoint;  // the checkpoint used; 0 = none
  uint64_t entries_replayed = 0;
  std::vector<std::string> skipped;  // unreadable checkpoints, and why
};

// Loads the newest valid checkpoint in `dir` into *out (a damaged one is
// skipped with a note and the next newest used), then applies the log's
// entries after it up to the durable head. Corruption when the log no longer
// holds the entries right after the checkpoint, or an entry does not decode
// (naming its position). REQUIRES: *out is empty.
Status Recover(const std::string& dir, wal::Log* log, Projection* out, RecoveryReport* report);

}  // namespace eventide::projection

#endif  // EVENTIDE_SRC_PROJECTION_CHECKPOINT_H_
