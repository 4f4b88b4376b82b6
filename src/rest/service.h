// Native REST (SPEC section 5) over one app's tables, and the write path that
// every write takes:
//
//   request --validate--> new record (against the latest accepted state:
//   projection + writes not yet durable) --encode--> EventLog::Append
//   (position N, at once for the WAL, at PubAck for JetStream) ... durable
//   in the local copy --uv_async--> OnDurable(N): apply every entry up to N
//   to the projection in order, then answer the client (201 +
//   Event-Position) once its position is both known and applied.
//
// So a client hears "created" only when its entry is durable under the
// log's mode, and a read after that answer sees the write. With several
// writers (JetStream) a write to a record is conditional on the record's
// newest position; a write that lost a race is validated again against the
// newer state (docs/CLUSTER.md). Loop thread only, except where noted.
#ifndef EVENTIDE_SRC_REST_SERVICE_H_
#define EVENTIDE_SRC_REST_SERVICE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/config/config.h"
#include "src/eventlog/event_log.h"
#include "src/http/request.h"
#include "src/http/response.h"
#include "src/http/session.h"
#include "src/policy/policy.h"
#include "src/projection/projection.h"
#include "src/schema/schema.h"

namespace eventide::rest {

// Counters the service keeps for /metrics.
struct RestStats {
  uint64_t events_written = 0;  // entries made durable and applied
  uint64_t writes_failed = 0;   // answered 503 after the log failed
  uint64_t write_latency_count = 0;
  uint64_t write_latency_us_sum = 0;
  uint64_t conflicts = 0;  // writes that lost a race to another node and were validated again
  std::map<std::string, uint64_t> rejected_by_code;  // error answers, by code
};

class Service {
 public:
  // Finds a live responder by id (nullptr when its connection is gone).
  using SessionLookup = std::function<http::Responder*(uint64_t id)>;

  // REQUIRES: every pointer outlives the service.
  // `limits`: what one record may hold (docs/HTTP.md "Limits"), refused
  // before anything is logged.
  Service(eventlog::EventLog* log, projection::Projection* projection, const config::Limits& limits,
          SessionLookup sessions);

  // Handles /{app}/{table}[/{id}] for a table with REST on, for `who`
  // (SPEC section 8: reads show only what the table's read rule lets `who`
  // see; writes must pass its write rule, else 403 policy_denied).
  // REQUIRES: segments.size() is 2 or 3 (app, table[, id]).
  void Handle(http::Responder* session, uint64_t slot, http::Request& request,
              const config::App& app, const schema::Table& table,
              const std::vector<std::string>& segments, const policy::Principal& who);

  // A publish (SPEC section 6): a message to the table topic (`id` empty) or
  // to a record topic, logged like any write (so a subscriber can resume
  // across it) and changing no record; the record need not exist. Answered
  // 200 with `data_json` (one JSON value) and Event-Position once durable.
  void Publish(http::Responder* r, uint64_t slot, const http::Request& request,
               const config::App& app, const schema::Table& table, const std::string& id,
               std::string data_json, const policy::Principal& who);

  // The durable head advanced to `durable` (or the log failed: `status`).
  // Applies every entry up to it to the projection in position order (its
  // own writes and other nodes' alike), then answers the clients whose
  // writes' positions are known. Loop thread (the server forwards the log's
  // listener).
  void OnDurable(wal::Position durable, const Status& status);
  // Queued appends resolved (EventLog::Listener): a write answered once
  // applied, refused, or, having lost a race, validated again.
  void OnOutcomes(std::vector<eventlog::Outcome>* outcomes);

  // Called for each durable entry right after the projection applied it, in
  // position order, before its writer is answered: the real-time hub
  // publishes it from here.
  std::function<void(wal::Position, const event::Event&)> on_applied;

  // Writes not yet answered.
  size_t pending_writes() const { return pending_.size() + queued_.size() + waiting_; }
  // OK while writes are accepted.
  const Status& failure() const { return failed_; }
  const RestStats& stats() const { return stats_; }

  // Adds the rest of the response headers every REST answer carries
  // (content type, CORS for the app). Used by the server for errors too.
  static void AddCors(const config::App& app, const http::Request& request,
                      std::vector<http::Header>* headers);

 private:
  // The state the next write to a record sees: a write accepted but not yet
  // durable, or else the projection's record.
  struct Overlay {
    wal::Position position;
    bool deleted = false;
    std::string json;
  };
  // A write to run again later: its record had a write of this node in
  // flight, or it lost a race (validated again against the newer state).
  struct Redo {
    uint64_t session = 0;
    uint64_t slot = 0;
    http::Request request;
    const config::App* app = nullptr;
    const schema::Table* table = nullptr;
    std::vector<std::string> segments;
    policy::Principal who;
    uint64_t hint = 0;  // the record's newest position, known from a conflict
  };
  // A record with writes of this node queued behind one in flight.
  struct KeyState {
    bool inflight = false;
    uint64_t wait_until = 0;  // run queue once the projection applied this
    std::deque<Redo> queue;
  };
  struct Pending {
    wal::Position position;
    uint64_t ticket = 0;
    std::string key;  // overlay key
    uint64_t session = 0;
    uint64_t slot = 0;
    int status = 200;
    std::string body;         // the response body
    std::string raw_headers;  // the response's header lines, rendered once
    int64_t accepted_us = 0;
    std::unique_ptr<Redo> redo;  // queued writes only: how to run it again
  };

  void List(http::Responder* s, uint64_t slot, const http::Request& req, const config::App& app,
            const schema::Table& table, const policy::Principal& who);
  void GetOne(http::Responder* s, uint64_t slot, const http::Request& req, const config::App& app,
              const schema::Table& table, const std::string& id, const policy::Principal& who);
  void Write(http::Responder* s, uint64_t slot, http::Request& req, const config::App& app,
             const schema::Table& table, const std::vector<std::string>& segments,
             const policy::Principal& who);
  // The writer's tenant (the app's tenant_claim in `who`'s token) as a JSON
  // value in *out; false when the app has tenants and the token names none.
  static bool Tenant(const config::App& app, const policy::Principal& who,
                     rapidjson::Document* out);
  // The record as the next write sees it; false when absent.
  bool Current(const config::App& app, const schema::Table& table, const std::string& id,
               std::string* json) const;
  // The position of the record's newest entry as this node knows it (0:
  // none known): what a conditional append expects.
  uint64_t LastPosition(const config::App& app, const schema::Table& table,
                        const std::string& id) const;
  // Answers one write whose position is known and applied.
  void Answer(Pending& w, int64_t now_us);
  // A record's in-flight write ended: runs what waited on it, if it may.
  void Release(const std::string& key);
  void RunRedos(const std::string& key);
  void RunRedo(Redo redo);
  // Answers every unanswered write 503 (the log failed or is closing).
  void FailAll(const Status& status);
  void Error(http::Responder* s, uint64_t slot, const config::App& app, const http::Request& req,
             int status, std::string_view code, std::string_view message,
             std::string_view field = {});
  void MethodNotAllowed(http::Responder* s, uint64_t slot, const config::App& app,
                        const http::Request& req, std::string_view allow, std::string_view message);
  // `prev`: for an update, the record before it (logged only for tables
  // with a read @policy, docs/POLICIES.md).
  void Append(http::Responder* s, uint64_t slot, const config::App& app, const http::Request& req,
              const schema::Table& table, int op, const std::string& id, std::string record_json,
              int status, const policy::Principal& who, std::string_view tenant,
              std::string_view prev = {}, const std::vector<std::string>* segments = nullptr);

  // A record limit `record_json` (as it would be logged) breaks: answers the
  // client and returns true. `prefix` names it ("the record", "the message").
  bool OverLimit(http::Responder* s, uint64_t slot, const config::App& app,
                 const http::Request& req, std::string_view record_json, std::string_view what);
  // An id longer than limits.id_bytes: answers 400 id_too_long, true.
  bool IdTooLong(http::Responder* s, uint64_t slot, const config::App& app,
                 const http::Request& req, const std::string& id);

  eventlog::EventLog* log_;
  projection::Projection* projection_;
  config::Limits limits_;
  SessionLookup sessions_;
  std::unordered_map<std::string, Overlay> overlay_;
  // Writes with a known position, in position order, waiting to be applied.
  std::deque<Pending> pending_;
  // Writes waiting for their position (EventLog::Appended::kQueued), by ticket.
  std::unordered_map<uint64_t, Pending> queued_;
  uint64_t next_ticket_ = 1;
  // Records with a write of this node in flight (queued backends only).
  std::unordered_map<std::string, KeyState> keys_;
  size_t waiting_ = 0;      // writes in keys_ queues
  uint64_t redo_hint_ = 0;  // while a Redo runs: its hint
  std::string entry_;       // the entry being applied (ReadEntry's buffer)
  Status failed_;
  RestStats stats_;
  // Scratch memory for the JSON documents of one write: RapidJSON's pool
  // allocator takes its first chunk from here, so parsing a body costs no
  // malloc of a 64 KiB chunk per request.
  static constexpr size_t kParseBufferBytes = 32 << 10;
  std::unique_ptr<char[]> parse_buffer_{new char[kParseBufferBytes]};
  std::unique_ptr<char[]> merge_buffer_{new char[kParseBufferBytes]};
  std::string scratch_;  // encoded event of the write being accepted
};

}  // namespace eventide::rest

#endif  // EVENTIDE_SRC_REST_SERVICE_H_
