#include "src/common/json_shape.h"

#include <cstdint>
#include <cstring>

namespace eventide {
namespace {

// Bytes outside strings that change the shape; everything else (digits,
// letters of true/false/null, whitespace) is skipped by one table lookup.
constexpr auto kStructural = [] {
  struct Table {
    bool at[256] = {};
  } t;
  for (unsigned char c : {'"', '[', ']', '{', '}', ':', ','}) t.at[c] = true;
  return t;
}();

constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighs = 0x8080808080808080ull;

// Does the 8-byte word hold a '"' or a '\\'? (The classic SWAR zero-byte
// test on the word xor each of them.)
inline bool HasQuoteOrBackslash(uint64_t w) {
  const uint64_t q = w ^ (kOnes * '"');
  const uint64_t b = w ^ (kOnes * '\\');
  return (((q - kOnes) & ~q) | ((b - kOnes) & ~b)) & kHighs;
}

// The first '"' that ends the string starting at p (just past its opening
// quote), or end: runs without a quote or backslash are skipped 8 bytes at
// a time, which is most of a record's text.
const char* StringEnd(const char* p, const char* end) {
  while (true) {
    while (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if (HasQuoteOrBackslash(w)) break;
      p += 8;
    }
    while (p < end && *p != '"' && *p != '\\') ++p;
    if (p >= end) return end;
    if (*p == '"') return p;
    p += 2;  // an escape: its next byte cannot end the string
    if (p >= end) return end;
  }
}

}  // namespace

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
    if (!kStructural.at[static_cast<unsigned char>(c)]) {
      ++p;
      continue;
    }
    if (c == '"') {
      const char* str = ++p;
      p = StringEnd(p, end);
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
