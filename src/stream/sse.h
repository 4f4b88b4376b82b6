// Server-Sent Events framing (WHATWG HTML, "server-sent events"; SPEC
// section 6). Each event is serialized once and the same bytes go to every
// subscriber that receives it.
#ifndef EVENTIDE_SRC_STREAM_SSE_H_
#define EVENTIDE_SRC_STREAM_SSE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace eventide::stream {

// Appends one event to *out:
//
//   event: NAME\n        (omitted when `event` is empty: the client's "message")
//   id: ID\n             (omitted when `id` is empty, e.g. pings, which must not
//                         move the client's Last-Event-ID)
//   data: LINE\n         (one per line of `data`: CR, LF and CRLF all end a line
//                         for the client, so each becomes a new data: field)
//   \n
//
// REQUIRES: `event` and `id` hold no CR, LF or NUL (the server's own names and
// decimal positions).
void AppendSseEvent(std::string_view event, std::string_view id, std::string_view data,
                    std::string* out);

// "retry: MS\n\n": how long an EventSource waits before reconnecting.
void AppendSseRetry(uint64_t retry_ms, std::string* out);

}  // namespace eventide::stream

#endif  // EVENTIDE_SRC_STREAM_SSE_H_
