// EventLog: the one place where the write path and the readers meet the log.
//
// Two backends sit behind it (docs/ARCHITECTURE.md):
//   - the embedded WAL (wal_event_log.h): this process assigns positions; an
//     append has its position at once and is durable after fdatasync.
//   - JetStream (jetstream_event_log.h): a replicated NATS stream assigns
//     positions (its sequence) at PubAck; every node consumes the stream in
//     order into a local copy.
// Both keep a local wal::Log holding every entry at its position, so catch-up
// reads, retention, checkpoints and eventide-log work on local disk alike.
//
// The write side and the apply side are separate on purpose: a write is
// answered once its position is both assigned (Append or an Outcome) and
// applied (the loop reads it back with ReadEntry after OnDurable), in that
// order or the other.
//
// Threads: Append, Flush, ReadEntry, Start and Close on the loop thread; the
// rest from any thread. Listener calls come on the loop thread.
#ifndef EVENTIDE_SRC_EVENTLOG_EVENT_LOG_H_
#define EVENTIDE_SRC_EVENTLOG_EVENT_LOG_H_

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wal/log.h"
#include "wal/position.h"
#include "wal/status.h"

namespace eventide::eventlog {

// One write.
struct AppendRequest {
  std::string_view payload;  // the encoded event (src/event)
  // The record it writes; `id` empty for a publish, which orders against
  // nothing.
  std::string_view app, table, id;
  // The position of the record's newest entry as the writer saw it (0: it
  // never had one). A backend with several writers makes the append
  // conditional on it; the WAL, with one writer, needs no check.
  uint64_t expect_last = 0;
  uint64_t ticket = 0;  // names this append in its Outcome
};

// What Append did at once.
struct Appended {
  enum class Kind {
    kAssigned,  // `position` is the entry's; it becomes durable later
    kQueued,    // the position comes later, in an Outcome for the ticket
    kRejected,  // not logged: `status` says why
  };
  Kind kind = Kind::kRejected;
  wal::Position position;
  Status status;
};

// What a queued append came to.
struct Outcome {
  uint64_t ticket = 0;
  // OK: `position` is the entry's. Otherwise not logged; when `conflict`,
  // because the record's newest position is `last`, not expect_last.
  Status status;
  wal::Position position;
  bool conflict = false;
  uint64_t last = 0;
};

class EventLog {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // The local copy's durable head moved, or the log's health changed.
    virtual void OnLogDurable() = 0;
    // Queued appends resolved, in no particular order.
    virtual void OnLogOutcomes(std::vector<Outcome>* outcomes) = 0;
  };

  virtual ~EventLog() = default;

  // Starts delivering to `listener` on `loop`. Once, before the first Append.
  virtual Status Start(uv_loop_t* loop, Listener* listener) = 0;
  // Stops: waits for what is in flight (bounded), closes the loop handles
  // and the local copy. The listener is not called after Close.
  virtual void Close() = 0;

  virtual Appended Append(const AppendRequest& request) = 0;
  // The end of a loop turn: sends what the turn appended as one batch.
  virtual void Flush() = 0;

  // Moves the entry at `p` into *payload. Called in position order for every
  // p up to the local copy's durable head.
  virtual Status ReadEntry(wal::Position p, std::string* payload) = 0;

  // The local copy: every entry up to durable_head(), at its position.
  virtual wal::Log* local() = 0;
  wal::Position durable_head() { return local()->durable_head(); }
  // The newest position the log is known to hold; above durable_head() while
  // this node catches up. A resume id up to it is one the log gave out.
  virtual wal::Position known_head() = 0;
  // Asks the log for its newest position, to raise known_head() (a client
  // resumes from a position this node has not heard of). Any thread; the
  // answer arrives as OnLogDurable.
  virtual void RefreshKnownHead() {}
  // OK while writes are taken.
  virtual Status Health() const = 0;

  // The Event-Durability header value: what an answered write's ack means.
  virtual const std::string& durability() const = 0;
  // "wal" or "jetstream".
  virtual std::string_view kind() const = 0;
  // Prometheus lines of the backend's own (after the local copy's).
  virtual void AppendMetrics(std::string* out) = 0;
};

}  // namespace eventide::eventlog

#endif  // EVENTIDE_SRC_EVENTLOG_EVENT_LOG_H_
