#include "src/common/json_shape.h"

namespace eventide {

JsonShape ScanJsonShape(std::string_view text, size_t max_depth, size_t field_bytes) {
  JsonShape s;
  const char* p = text.data();
  const char* const end = p + text.size();
  size_t depth = 0;
  bool top_object = false;  // the outermost value open now is an object
  // At depth 1 of an object: the last member name, and where the value of
  // the member being read began (nullptr between a ',' and the next ':').
  std::string_view name;
  const char* value_begin = nullptr;
  auto end_member = [&](const char* at) {
    if (value_begin != nullptr && !s.has_big_field() &&
        static_cast<size_t>(at - value_begin) > field_bytes) {
      s.big_field = name;
      s.big_field_bytes = static_cast<size_t>(at - value_begin);
    }
    value_begin = nullptr;
  };
  while (p < end) {
    const char c = *p;
    if (c == '"') {
      const char* str = ++p;
      while (p < end && *p != '"') p += *p == '\\' ? 2 : 1;
      if (p > end) p = end;
      if (depth == 1 && top_object && value_begin == nullptr) {
        name = std::string_view(str, static_cast<size_t>(p - str));
      }
      if (p < end) ++p;  // the closing quote
      continue;
    }
    switch (c) {
      case '[':
      case '{':
        if (depth == 0) top_object = c == '{';
        if (++depth > s.depth) {
          s.depth = depth;
          if (depth > max_depth) return s;
        }
        break;
      case ']':
      case '}':
        if (depth == 1 && top_object) end_member(p);
        if (depth > 0) --depth;
        break;
      case ':':
        ++s.members;
        if (depth == 1 && top_object) value_begin = p + 1;
        break;
      case ',':
        if (depth == 1 && top_object) end_member(p);
        break;
      default:
        break;
    }
    ++p;
  }
  return s;
}

}  // namespace eventide
