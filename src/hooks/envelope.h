// The JSON bodies hook deliveries carry (SPEC section 9; docs/HOOKS.md is
// the contract receivers read). Every body is one envelope,
//
//   {"hook":"on_write","app":"blog","time":"2026-01-15T10:30:00.000Z","data":{...}}
//
// and `data` has one shape per hook, built by the helpers below so that the
// server's call sites cannot drift from the documented contract.
//
// Strings are escaped here; the `*_json` arguments are inserted verbatim.
// REQUIRES: every `*_json` argument is one valid JSON value (it comes from
// the server's own encoder or from a JSON parser), or "" for null where said.
#ifndef EVENTIDE_SRC_HOOKS_ENVELOPE_H_
#define EVENTIDE_SRC_HOOKS_ENVELOPE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wal/position.h"

namespace eventide::hooks {

// The hook names an app's `hooks:` config may map to URLs.
inline constexpr std::string_view kOnRealtimeConnect = "on_realtime_connect";
inline constexpr std::string_view kOnRealtimeDisconnect = "on_realtime_disconnect";
inline constexpr std::string_view kOnRealtimeSubscribe = "on_realtime_subscribe";
inline constexpr std::string_view kOnRealtimeUnsubscribe = "on_realtime_unsubscribe";
inline constexpr std::string_view kOnRealtimeMessage = "on_realtime_message";
inline constexpr std::string_view kOnWrite = "on_write";

// True for the six names above.
bool IsHookName(std::string_view name);

// {"hook":…,"app":…,"time":"<wall_ms as ISO-8601 UTC with milliseconds>","data":<data_json>}
std::string Envelope(std::string_view hook, std::string_view app, int64_t wall_ms,
                     std::string_view data_json);

// Who is on the other end: the token's subject, or null without a token.
using Subject = std::optional<std::string_view>;

// on_realtime_connect / on_realtime_disconnect:
//   {"connection":N,"dialect":"sse|ws|graphql|ayb|snackbase","subject":…,"remote":"ip:port"}
std::string ConnectionData(uint64_t connection, std::string_view dialect, Subject subject,
                           std::string_view remote);

// on_realtime_subscribe / on_realtime_unsubscribe:
//   {"connection":N,"topic":"…","subject":…}
std::string SubscriptionData(uint64_t connection, std::string_view topic, Subject subject);

// on_realtime_message: {"connection":N,"topic":"…"|null,"subject":…,"message":<message_json>}
// `topic` is null for a message that names none.
std::string MessageData(uint64_t connection, std::optional<std::string_view> topic, Subject subject,
                        std::string_view message_json);

// on_write: {"op":"create|update|delete|publish","table":"…","id":"…"|null,
//            "position":N,"subject":…,"record":<record_json>|null}
// `id` is null for a table-level publish; `record_json` "" writes null.
std::string WriteData(std::string_view op, std::string_view table,
                      std::optional<std::string_view> id, wal::Position position, Subject subject,
                      std::string_view record_json);

}  // namespace eventide::hooks

#endif  // EVENTIDE_SRC_HOOKS_ENVELOPE_H_
