// Webhook delivery (SPEC section 9; the receiver's side is in docs/HOOKS.md).
//
// The server's event loop hands a delivery (hook name, URL, JSON body) to
// Enqueue and goes on: the Dispatcher owns a thread running its own libuv
// loop, which POSTs each body to its URL, up to `concurrency` at once, and
// retries failures with exponential back-off and jitter.
//
//   loop thread                         dispatcher thread (own uv loop)
//   -----------                         -------------------------------
//   Enqueue ──mutex──> incoming ──uv_async──> ready ──> attempts (≤ concurrency)
//                                               ^              │ 5xx, 408, 429, timeout,
//   Stats() <──mutex── counters <───────────────┼──────────────┤ refused, malformed
//                                               └── backing off┘ (timer)
//
// Guarantees: at-least-once delivery up to `max_attempts` (a receiver can see
// one delivery twice: it deduplicates by X-Eventide-Delivery), no ordering
// between deliveries, a bounded number of deliveries outstanding (waiting,
// backing off or in flight) — beyond it Enqueue drops and counts — and the
// caller never blocks: Enqueue takes a mutex for a queue push and signals a
// uv_async; DNS, connects, TLS and waiting all happen on the dispatcher's
// thread.
#ifndef EVENTIDE_SRC_HOOKS_DISPATCHER_H_
#define EVENTIDE_SRC_HOOKS_DISPATCHER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "wal/status.h"

namespace eventide::hooks {

struct DispatcherOptions {
  // Deliveries accepted and not finished (waiting, backing off or in flight).
  // 10000 bodies of a few KiB is tens of MiB at worst: a hook that is down
  // for a minute under a moderate write rate fits, a dead one cannot eat the
  // server's memory.
  size_t queue_capacity = 10000;
  // The first try and the retries. With the default back-off, five attempts
  // span about 3 s, long enough to ride out a receiver's restart.
  int max_attempts = 5;
  // Back-off before retry n: initial_backoff_ms * 2^(n-1), capped at
  // max_backoff_ms, then a uniform pick in [half of that, all of it] so
  // retries after a shared outage do not arrive in lock-step.
  uint64_t initial_backoff_ms = 200;
  uint64_t max_backoff_ms = 10000;
  // One attempt, from resolving the host to the end of the response's
  // headers. 5 s: a receiver should answer at once and work later.
  uint64_t timeout_ms = 5000;
  // Attempts in flight at once. A receiver that never answers holds one slot
  // until its timeout; the others go on.
  size_t concurrency = 4;
  // https: a PEM file of CA certificates to trust instead of the system's
  // store ("" = the system's default paths). Certificates are always
  // verified, with the URL's host name or IP address.
  std::string tls_ca_file;
};

// Counts since the Dispatcher started.
struct HookCounters {
  uint64_t queued = 0;              // accepted by Enqueue
  uint64_t delivered = 0;           // answered with a 2xx
  uint64_t failed_attempts = 0;     // attempts that did not deliver, the last one included
  uint64_t retries = 0;             // attempts scheduled after a failed one
  uint64_t gave_up = 0;             // max_attempts failed, or a final refusal (4xx, 3xx)
  uint64_t dropped_queue_full = 0;  // refused by Enqueue: queue_capacity reached
};

struct HookStats : HookCounters {  // the totals
  uint64_t in_flight = 0;          // attempts under way now
  uint64_t queue_depth = 0;        // accepted, not finished and not in flight
  // The same counters per hook name (the `name` given to Enqueue).
  std::map<std::string, HookCounters, std::less<>> by_hook;
};

class Worker;

class Dispatcher {
 public:
  // Starts the dispatcher's thread. InvalidArgument for a zero capacity,
  // concurrency, attempt count or timeout, or an unreadable tls_ca_file.
  static Result<std::unique_ptr<Dispatcher>> Create(const DispatcherOptions& options);
  // Stops the thread at once: attempts in flight are cut off, deliveries
  // waiting or backing off are abandoned (their number is logged). Returns
  // without waiting for any receiver. The one wait it cannot cut short is a
  // getaddrinfo under way (the system resolver's own timeouts bound it).
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Whether `url` is a hook target this dispatcher can deliver to (see
  // src/hooks/url.h): for checking config at start-up, with a message that
  // names the problem.
  static Status CheckUrl(std::string_view url);

  // Queues one delivery: POST `body` (a JSON document) to `url`. Never
  // blocks; any thread. False, counted in dropped_queue_full, when
  // queue_capacity deliveries are outstanding. A URL that CheckUrl would
  // refuse is counted as given up (and logged) by the dispatcher's thread.
  // `name` (the hook, e.g. "on_write") goes into X-Eventide-Hook and keys
  // the per-hook counters.
  // REQUIRES: `name` comes from a small fixed set (the hook names): each
  // distinct name keeps counters for the dispatcher's life.
  bool Enqueue(std::string_view name, std::string_view url, std::string body);

  // A snapshot of the counters; any thread.
  HookStats Stats() const;

 private:
  explicit Dispatcher(std::unique_ptr<Worker> worker);
  std::unique_ptr<Worker> worker_;
};

// The back-off before retry number `retry` (1 before the second attempt):
// see DispatcherOptions. `random` is any 64-bit random value. For tests.
uint64_t RetryDelayMs(const DispatcherOptions& options, int retry, uint64_t random);

}  // namespace eventide::hooks

#endif  // EVENTIDE_SRC_HOOKS_DISPATCHER_H_
