// Text helpers for the command-line tools: times, byte counts, and making
// arbitrary bytes safe to print. JSON escaping is not here: that is RapidJSON's.
#ifndef EVENTIDE_TOOLS_TEXT_H_
#define EVENTIDE_TOOLS_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace eventide::tools {

// ISO-8601 UTC with `frac_digits` fractional digits of a count of
// 1/`per_second` seconds since the Unix epoch:
//   FormatUtc(1736937000000, 1000, 3) == "2025-01-15T10:30:00.000Z".
// A value gmtime cannot represent comes back as the plain number.
// REQUIRES: per_second == 10^frac_digits.
std::string FormatUtc(int64_t value, int64_t per_second, int frac_digits);

// "512 B", "1.5 MiB", "3.2 GiB".
std::string HumanBytes(uint64_t bytes);

// True when `s` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates).
bool IsValidUtf8(std::string_view s);
// `s` with every byte that is not part of a well-formed sequence replaced by
// U+FFFD.
std::string ToValidUtf8(std::string_view s);

// Appends `s` for a terminal: control characters and bytes that are not
// well-formed UTF-8 become \n, \t, \r or \xNN; everything else is kept.
void AppendPrintable(std::string_view s, std::string* out);

// `s` with every CR and LF replaced by a space: an error message is one line.
std::string OneLine(std::string_view s);

}  // namespace eventide::tools

#endif  // EVENTIDE_TOOLS_TEXT_H_
