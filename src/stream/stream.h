// A stream: a connection taken over from HTTP after its response head (an SSE
// response, or a WebSocket after 101), whose subscriptions are cursors in the
// Hub (SPEC section 6). What SSE and WebSocket streams share: the connection
// they write to, the loop-wide context, the resume decision and the retained
// snapshot.
//
// Loop thread only.
#ifndef EVENTIDE_SRC_STREAM_STREAM_H_
#define EVENTIDE_SRC_STREAM_STREAM_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "src/projection/projection.h"
#include "src/stream/hub.h"
#include "src/stream/resume.h"
#include "wal/position.h"

namespace eventide::http {
class Responder;
}

namespace eventide::stream {

// The connection under a stream (the server's TCP or TLS connection).
class StreamTransport {
 public:
  virtual ~StreamTransport() = default;
  virtual void Send(std::string_view bytes) = 0;
  // A frame shared with other connections: written without a copy where the
  // transport can.
  virtual void SendShared(const Frame& frame) = 0;
  virtual size_t pending_output_bytes() const = 0;
  // Closes once queued output is written.
  virtual void Close() = 0;
  // Closes now, dropping queued output (a client that reads nothing).
  virtual void Abort() = 0;
  // The connection's single timer: fires the stream's OnTimer. 0 cancels.
  virtual void SetTimer(uint64_t timeout_ms) = 0;
  // Back-pressure on a client that sends faster than its writes are made
  // durable (WebSocket writes).
  virtual void PauseReading() = 0;
  virtual void ResumeReading() = 0;
};

struct StreamOptions {
  size_t output_limit = 1 << 20;      // limits.output_bytes
  uint64_t stall_timeout_ms = 60000;  // limits.stall_timeout_ms
  uint64_t sse_retry_ms = 3000;
  uint64_t sse_ping_ms = 15000;
  uint64_t ws_ping_ms = 5000;
  uint64_t ws_pong_timeout_ms = 10000;
  uint64_t ws_max_message_bytes = 1 << 20;
  // limits.json_depth: a record's nesting; a message may nest one level more
  // (its envelope: {"action":"put","data":{...}}).
  uint64_t json_depth = 64;
  uint64_t max_subscriptions = 100;  // per WebSocket connection
  // The SnackBase dialect's heartbeat (its document: every 30 s).
  uint64_t snackbase_heartbeat_ms = 30000;
};

// Counters for /metrics (SPEC section 10).
struct StreamStats {
  uint64_t sse_streams = 0;           // open SSE streams
  uint64_t ws_connections = 0;        // open WebSocket connections
  uint64_t subscriptions = 0;         // open subscriptions (SSE + WS)
  uint64_t events_delivered = 0;      // event frames sent to subscribers
  uint64_t retained_sent = 0;         // retained records sent
  uint64_t resets = 0;                // reset notices
  uint64_t resumes = 0;               // subscriptions that resumed from a position
  uint64_t resume_waits = 0;          // resumes that waited for this node to catch up
  uint64_t stalled_closed = 0;        // closed after stall_timeout
  uint64_t ws_pong_timeouts = 0;      // WebSocket connections closed without a Pong
  uint64_t ws_protocol_closes = 0;    // closed 1002/1003/1007/1009
  uint64_t ws_client_errors = 0;      // client messages answered with an error
  uint64_t token_expired_closed = 0;  // streams ended because their token expired
  // The compatibility dialects' streams (docs/DIALECTS.md), counted in
  // sse_streams / ws_connections too.
  uint64_t ayb_streams = 0;               // open AYB SSE streams
  uint64_t snackbase_sse_streams = 0;     // open SnackBase SSE streams
  uint64_t snackbase_ws_connections = 0;  // open SnackBase WebSocket connections
};

// What every stream on the loop shares. REQUIRES: every pointer outlives
// every stream.
struct StreamContext {
  Hub* hub = nullptr;
  const projection::Projection* projection = nullptr;
  // The oldest position still in the log (head + 1 when it is empty).
  std::function<wal::Position()> first_retained;
  // Several nodes on one log (JetStream): the newest position the log is
  // known to hold, and a way to run `then` once this node has applied `p`
  // (then(true)), or (then(false)) when it has not within `wait_ms`.
  // A resume id above this node's head is, in a cluster, most likely one
  // another node gave out: the stream starts once this node has caught up
  // to it, instead of being reset. Unset: one node, the head is all there is.
  std::function<wal::Position()> known_head;
  std::function<void(wal::Position p, uint64_t wait_ms, std::function<void(bool reached)> then)>
      when_applied;
  std::function<int64_t()> now_ms;   // a monotonic clock
  std::function<int64_t()> wall_ms;  // the wall clock (token expiry is wall time)
  StreamOptions options;
  StreamStats stats;
  // Real-time hooks (SPEC section 9): a stream on `transport` reports
  // "on_realtime_subscribe", "on_realtime_unsubscribe" or
  // "on_realtime_message" (`message_json`: the client's message, one JSON
  // value; else empty). Unset: nobody listens. Must not block.
  std::function<void(std::string_view hook, StreamTransport* transport, std::string_view topic,
                     std::string_view message_json)>
      on_hook;
};

// A taken-over connection.
class Stream {
 public:
  virtual ~Stream() = default;
  // The head went out; `early` holds the client's bytes that followed it.
  virtual void Start(std::string_view early) = 0;
  virtual void OnData(std::string_view data) = 0;
  virtual void OnEof() = 0;
  virtual void OnTimer() = 0;
  // Output was handed to the kernel: the connection may have drained.
  virtual void OnWritten() = 0;
  // The server is shutting down: say goodbye (with a reconnect hint) and close.
  virtual void OnShutdown() = 0;
  // The connection is gone; the stream is destroyed next.
  virtual void OnClose() = 0;
  // What answers the requests this stream makes (WebSocket writes), if any.
  virtual http::Responder* responder() { return nullptr; }
  // The stream ends when its token expires: at this wall-clock time (ms since
  // the epoch; 0 = never). Set before Start.
  void set_auth_deadline(int64_t wall_ms) { auth_deadline_wall_ms_ = wall_ms; }

 protected:
  // Milliseconds until the token's deadline (0 when past); -1 without one.
  int64_t AuthLeftMs(const StreamContext& ctx) const {
    if (auth_deadline_wall_ms_ == 0) return -1;
    const int64_t left = auth_deadline_wall_ms_ - ctx.wall_ms();
    return left > 0 ? left : 0;
  }
  int64_t auth_deadline_wall_ms_ = 0;
};

// Notices a client that reads nothing: output waiting, and none of it taken
// for stall_timeout (SPEC section 6, "Slow consumers").
class StallWatch {
 public:
  // Output was taken (some or all).
  void Progress(int64_t now_ms) { last_progress_ms_ = now_ms; }
  // On a timer tick: true when the client has stalled.
  bool Stalled(int64_t now_ms, size_t pending_output_bytes, uint64_t stall_timeout_ms) {
    if (pending_output_bytes == 0) {
      last_progress_ms_ = now_ms;
      return false;
    }
    return now_ms - last_progress_ms_ >= static_cast<int64_t>(stall_timeout_ms);
  }

 private:
  int64_t last_progress_ms_ = 0;
};

// How a subscription starts, from what the client presented.
struct StartPlan {
  std::string reset;    // "" (no reset), "expired" or "unknown"
  bool replay = false;  // send the retained snapshot, then synced
  wal::Position after;  // when !replay: the cursor to subscribe at
};
// `want_retained`: a record topic, or a table topic with retained=true.
StartPlan PlanStart(const ResumeId& resume, bool want_retained, wal::Position head,
                    wal::Position first_retained);

// The records a retained replay sends for `topic` as of now (the projection's
// applied position): the one record of a record topic, or every record of
// the table in id order. Shares the records.
std::vector<projection::RecordPtr> RetainedRecords(const projection::Projection& projection,
                                                   const Topic& topic);

// Parses "true"/"1"/"" (present) as true; "false"/"0" as false.
bool QueryFlag(std::string_view value);

}  // namespace eventide::stream

#endif  // EVENTIDE_SRC_STREAM_STREAM_H_
