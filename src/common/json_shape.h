// The shape of a JSON text, read off its bytes in one pass without parsing
// it: how deep it nests, how many object members it holds, and how long
// each top-level member's value is. Input limits (docs/HTTP.md "Limits")
// are judged on it:
//   - nesting before a parse, because RapidJSON's DOM recurses per level
//     (parse, copy, serialize): a body of 1,000,000 '[' must be refused by
//     a loop, not by a stack overflow;
//   - members and field sizes on the record as it will be logged (the
//     serialized text), so a PATCH is judged on the merged result.
// The text need not be valid JSON: a malformed one gets some shape, and the
// parser that runs afterwards refuses it.
#ifndef EVENTIDE_SRC_COMMON_JSON_SHAPE_H_
#define EVENTIDE_SRC_COMMON_JSON_SHAPE_H_

#include <cstddef>
#include <string_view>

namespace eventide {

struct JsonShape {
  // The deepest nesting of arrays and objects, capped at max_depth + 1 (the
  // scan stops there); a bare scalar is 0, {} is 1, {"a":[1]} is 2.
  size_t depth = 0;
  // Object members at every depth: {"a":{"b":1,"c":2}} has 3.
  size_t members = 0;
  // The first top-level member whose value's text is longer than the
  // field_bytes given (only when the text is an object): its name as written
  // between the quotes (escapes kept; it may be ""), and its value's length
  // in bytes (0 when no field is over).
  std::string_view big_field;
  size_t big_field_bytes = 0;

  bool has_big_field() const { return big_field_bytes > 0; }
  bool too_deep(size_t max_depth) const { return depth > max_depth; }
};

// One pass over `text`. A scan that passes max_depth stops, with depth set
// to max_depth + 1 and the other counts partial.
JsonShape ScanJsonShape(std::string_view text, size_t max_depth, size_t field_bytes);

}  // namespace eventide

#endif  // EVENTIDE_SRC_COMMON_JSON_SHAPE_H_
