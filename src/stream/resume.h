// Parsing the position a subscriber resumes from: the `Last-Event-ID` header an
// EventSource sends back, the `lastEventId` query parameter, or a WebSocket
// subscribe message's "lastEventId" (SPEC section 6). A malformed id never
// fails a request: the caller sends a `reset` notice and continues as for a
// fresh connection.
#ifndef EVENTIDE_SRC_STREAM_RESUME_H_
#define EVENTIDE_SRC_STREAM_RESUME_H_

#include <string_view>

#include "wal/position.h"

namespace eventide::stream {

struct ResumeId {
  enum class Kind {
    kNone,       // no id (absent or empty): a fresh subscription
    kPosition,   // a position: resume after it
    kMalformed,  // not a position at all: reset
  };
  Kind kind = Kind::kNone;
  wal::Position position;  // when kPosition (0 = before the first entry)
};

// The canonical decimal spelling the server puts in `id:` and `"seq"`: ASCII
// digits, no sign, no leading zero (except "0"), at most 2^64-1. Spaces and
// tabs around it are ignored. Anything else is kMalformed.
ResumeId ParseResumeId(std::string_view text);

}  // namespace eventide::stream

#endif  // EVENTIDE_SRC_STREAM_RESUME_H_
