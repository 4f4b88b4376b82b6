// eventide-load catchup: time for a subscriber that missed N entries to
// receive them all (docs/LOAD.md), on one server or, with write_url, from a
// second node of a cluster sharing one log.
#ifndef EVENTIDE_TOOLS_LOAD_CATCHUP_H_
#define EVENTIDE_TOOLS_LOAD_CATCHUP_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "tools/load_common.h"

namespace eventide::load {

struct CatchupOptions {
  Url url;  // the SSE URL (Eventide table, or Nchan's /sub/CHANNEL)
  // --write-url: the entries are written to this node (A) while the
  // subscriber reads from `url`'s node (B). Before it connects, B's
  // /healthz must show the last acknowledged position applied, and that wait
  // is reported apart (replicate_ms), so the catch-up time is B reading
  // missed entries from its own disk, not B still receiving them. Eventide
  // only (not with nchan_pub_path).
  std::optional<Url> write_url;
  // How long B may take to apply the last position before the run fails.
  int64_t replicate_timeout_us = 60'000'000;
  // --read-after: a pause between the last write (and B's applying it) and
  // the subscriber's request, so that work the writes set off on the server
  // (a checkpoint) is over before the read is timed.
  int64_t read_after_us = 0;
  size_t entries = 100000;
  int payload_bytes = 1;
  // Entries written per second (0: as fast as the server takes them). Nchan
  // numbers a channel's messages with a 16-bit counter per second, so more
  // than 65,535 in one second collide and some are lost.
  double write_rate = 0;
  std::string nchan_pub_path;  // non-empty: the server is Nchan
  bool json = false;
};

// 0 when every entry arrived once, in order; 1 otherwise.
int RunCatchup(const CatchupOptions& o);

}  // namespace eventide::load

#endif  // EVENTIDE_TOOLS_LOAD_CATCHUP_H_
