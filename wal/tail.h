// How the end of the last segment is judged: a torn tail, which a crash can
// leave and recovery cuts, or damage that no crash explains, which stops
// start-up (FORMAT.md section 6). Log::Open and `eventide-log verify` both
// judge through here, so they cannot disagree.
#ifndef EVENTIDE_WAL_TAIL_H_
#define EVENTIDE_WAL_TAIL_H_

#include <cstdint>
#include <optional>
#include <string>

#include "wal/format.h"
#include "wal/position.h"
#include "wal/status.h"

namespace eventide::wal {

// Reads DIR/SYNCED. nullopt when the file does not exist, or when it is not a
// valid mark (then *problem says why; the mark is never synced on the write
// path, so a power loss may tear it, and recovery then judges by the scan
// alone). Fails only on an I/O error.
Result<std::optional<SyncedMark>> ReadSyncedMark(const std::string& dir, std::string* problem);

// The bytes of the segment at `base` that `mark` records as synced; 0 when
// it records nothing for that segment (it names an older one, or is absent).
uint64_t SyncedBytesFor(const std::optional<SyncedMark>& mark, Position base);

struct TailVerdict {
  // True: what follows the valid entries is a torn tail, which recovery cuts.
  // False: corruption; `why_not` says why it is not a torn tail.
  bool torn = true;
  std::string why_not;
  // The first valid entry found after the damage (offset within the file),
  // and how far the valid chain starting there runs.
  std::optional<FoundEntry> later;
  Position later_last;
  uint64_t later_entries = 0;
};

// Judges the last segment `path` of `file_bytes` bytes whose valid entries
// end at `offset`, where position `next` was expected, given that its first
// `synced_bytes` bytes are known to have been fdatasync'ed. The tail is torn
// only when it starts at or after the synced length, the file is not shorter
// than that length, and no valid entry at `next` or later appears anywhere
// (at any byte offset) after the damage.
Result<TailVerdict> JudgeTail(const std::string& path, uint64_t offset, uint64_t file_bytes,
                              Position next, uint64_t synced_bytes);

}  // namespace eventide::wal

#endif  // EVENTIDE_WAL_TAIL_H_
