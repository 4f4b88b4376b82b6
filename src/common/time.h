// Wall-clock helpers for what clients see: ISO-8601 timestamps in UTC with
// milliseconds ("2025-01-15T10:30:00.000Z"), as the SPEC's messages show.
#ifndef EVENTIDE_SRC_COMMON_TIME_H_
#define EVENTIDE_SRC_COMMON_TIME_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace eventide {

// Milliseconds since the Unix epoch, from the realtime clock.
int64_t WallMillis();

// Appends `ms` (since the epoch) as "YYYY-MM-DDTHH:MM:SS.mmmZ" to *out.
void AppendIso8601Millis(int64_t ms, std::string* out);
std::string Iso8601Millis(int64_t ms);
// Writes the 24 characters (no NUL) to buf; returns 24.
size_t FormatIso8601Millis(int64_t ms, char buf[32]);

}  // namespace eventide

#endif  // EVENTIDE_SRC_COMMON_TIME_H_
