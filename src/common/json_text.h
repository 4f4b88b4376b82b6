// Writing JSON text by hand where a DOM would cost an allocation per event:
// string escaping per RFC 8259.
#ifndef EVENTIDE_SRC_COMMON_JSON_TEXT_H_
#define EVENTIDE_SRC_COMMON_JSON_TEXT_H_

#include <string>
#include <string_view>

namespace eventide {

// Appends `s` as a quoted JSON string to *out. Invalid UTF-8 is passed
// through unchanged (callers only hand it text that came from a JSON parser
// or from the server itself).
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace eventide

#endif  // EVENTIDE_SRC_COMMON_JSON_TEXT_H_
