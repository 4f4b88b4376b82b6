// Offline repair of a log directory. Never called implicitly: recovery only
// ever cuts a torn tail of the last segment; anything else is an operator's
// decision (`eventide-log repair --truncate-after N`).
#ifndef EVENTIDE_WAL_REPAIR_H_
#define EVENTIDE_WAL_REPAIR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "wal/env.h"
#include "wal/position.h"
#include "wal/status.h"

namespace eventide::wal {

struct RepairReport {
  std::string cut_segment;  // segment cut short ("" when none was)
  uint64_t cut_offset = 0;
  uint64_t cut_bytes = 0;
  std::vector<std::string> removed_segments;
  bool lowered_mark = false;  // SYNCED promised more than the cut leaves
};

// Removes every entry after position `last`, keeping entries up to and
// including it: the segment holding last+1 is cut where that entry starts
// (left as an empty segment if last+1 is its base, so positions never
// restart) and every later segment is deleted; the SYNCED mark is lowered to
// the cut first when it records more. Entries up to `last` in that
// segment must be valid. Takes the directory's LOCK, so it refuses to run
// while a server has the log open. `env` (tests: a fault-injecting one)
// defaults to Env::Default().
Status TruncateAfter(const std::string& dir, Position last, RepairReport* report,
                     Env* env = nullptr);

}  // namespace eventide::wal

#endif  // EVENTIDE_WAL_REPAIR_H_
