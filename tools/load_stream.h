// The stream modes of eventide-load (SPEC section 11, docs/LOAD.md):
//
//   fanout  N subscribers (SSE or WebSocket) spread over one or more URLs
//           (the nodes of a cluster sharing one log), one paced writer
//           PUTting records that carry their send time, to the first URL or
//           another node; reports end-to-end latency and, per subscriber,
//           acknowledged positions missing, received twice, or received out
//           of order.
//   idle    N stream connections held open; the server's RSS per connection.
//
// Both run on one libuv loop in the calling thread and return the process
// exit code: 0 clean, 1 when the run saw a fault (a connect failure, a lost
// connection, a missing/duplicate/out-of-order delivery), 2 for bad usage.
#ifndef EVENTIDE_TOOLS_LOAD_STREAM_H_
#define EVENTIDE_TOOLS_LOAD_STREAM_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tools/load_common.h"

namespace eventide::load {

enum class StreamProtocol { kSse, kWs };

struct StreamOptions {
  // Every --url, http:// only (the stream modes speak no TLS), at least one:
  // subscriber i connects to urls[i % urls.size()]. Several are the nodes of
  // a cluster sharing one log, where a position means the same on each, so
  // one writer's acknowledged positions check every subscriber wherever it
  // is. idle and Nchan runs take one.
  std::vector<Url> urls;
  // fanout: where the writer PUTs (--write-url; main() sets it to urls[0]
  // when not given). Another node than the subscribers' makes the latency
  // write-on-A to event-on-B, replication included.
  Url write_url;
  StreamProtocol protocol = StreamProtocol::kSse;
  int connections = 100;  // fanout: subscribers; idle: connections held
  // At most this many connections between connect() and their first
  // notice: a burst of 10,000 SYNs overflows the server's accept backlog.
  int connect_concurrency = 200;
  int64_t connect_timeout_us = 60'000'000;
  // SSE subscribers as HTTP/2 streams (h2c, prior knowledge): spread
  // round-robin over h2_connections connections to each URL instead of one
  // HTTP/1.1 connection each. The writer stays on HTTP/1.1. Keep
  // subscribers per connection within the server's
  // limits.max_concurrent_streams (128 by default): the rest would wait.
  bool http2 = false;
  int h2_connections = 1;
  // The flow-control window this client grants the server, per stream and
  // per connection (nghttp2 sends a WINDOW_UPDATE when half is consumed):
  // 15 MiB, Chrome's connection window, so that a run measures what a
  // browser sees. Below the server's 256 KiB output high-water mark
  // (kHighWaterBytes in src/http/h2_session.cc), e.g. 196608, the server is
  // paced by our WINDOW_UPDATEs instead and never holds frames back, at a cost
  // in throughput (docs/LOAD.md, HTTP/2; it was the work-around for a server
  // stall, since fixed).
  int32_t h2_window_bytes = 15 << 20;

  // fanout
  double rate = 100;  // writes per second
  int64_t duration_us = 10'000'000;
  int64_t warmup_us = 1'000'000;
  // After the last acknowledgement, how long subscribers may take to receive
  // every acknowledged position before the rest count as missing.
  int64_t drain_us = 2'000'000;
  int writer_connections = 8;
  // PUTs in flight over all writer connections (pipelined): enough that a
  // group commit with --fsync always does not cap the rate.
  int max_in_flight = 64;
  int record_ids = 100;  // the writer cycles PUTs over ids w0 … w{record_ids-1}
  // Length of each record's "content" (the title carries the send time).
  // Past 65,535 bytes a WebSocket event needs a 64-bit frame length.
  int payload_bytes = 1;
  // Non-empty: the server is Nginx with the Nchan module, for comparisons
  // (tools/bench/). `urls[0]` is the subscriber location (/sub/CHANNEL) and this
  // the publisher location (/pub/CHANNEL); each message carries a sequence
  // number ("seq") that stands in for Eventide's position. Needs one writer
  // connection, so that the sequence is the order Nchan stores messages in.
  std::string nchan_pub_path;
  // Non-empty: subscriber i presents an HS256 token signed with this secret
  // for subject "user-i" (Authorization: Bearer), so that each is a
  // different user to the server's read rules (docs/PERFORMANCE.md, row
  // policies).
  std::string jwt_secret;
  // The server is Nchan (set with nchan_pub_path; alone for idle): a
  // subscription is ready when its response head arrives (Nchan sends no
  // notice), and events carry "seq".
  bool nchan = false;

  // idle
  int64_t hold_us = 10'000'000;
  // idle and fanout: the server's RSS before connecting and once all are
  // connected; fanout also its CPU time (utime + stime) over the measured
  // window. 0: no server figures.
  pid_t server_pid = 0;

  bool json = false;
};

// REQUIRES: !o.urls.empty().
int RunFanout(const StreamOptions& o);
int RunIdle(const StreamOptions& o);

}  // namespace eventide::load

#endif  // EVENTIDE_TOOLS_LOAD_STREAM_H_
