#include "src/common/utf8.h"

#include <rapidjson/error/en.h>

#include <charconv>
#include <cstdint>
#include <cstring>

#include "src/common/json_shape.h"

namespace eventide {
namespace {

constexpr size_t kNpos = std::string_view::npos;

// In JSON that RapidJSON accepted, the first \u escape of a low surrogate
// (U+DC00..U+DFFF) that does not directly follow a high one, or npos.
// RapidJSON itself refuses a high surrogate without a low one after it, so
// this is the only lone surrogate it lets through. In valid JSON every
// backslash starts an escape inside a string, so the scan needs no string
// state; a body without backslashes costs one memchr.
size_t FindLoneLowSurrogateEscape(std::string_view t) {
  size_t after_high = kNpos;  // just past the last \uD800..\uDBFF escape
  for (size_t i = t.find('\\'); i != kNpos && i + 1 < t.size(); i = t.find('\\', i)) {
    if (t[i + 1] != 'u') {
      i += 2;  // \" \\ \/ \b \f \n \r \t
      continue;
    }
    if (i + 6 > t.size()) break;  // cannot happen in accepted JSON
    unsigned cp = 0;
    std::from_chars(t.data() + i + 2, t.data() + i + 6, cp, 16);
    if (cp >= 0xDC00 && cp <= 0xDFFF && after_high != i) return i;
    after_high = cp >= 0xD800 && cp <= 0xDBFF ? i + 6 : kNpos;
    i += 6;
  }
  return kNpos;
}

}  // namespace

size_t FindInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // Records are mostly ASCII: skip it a word at a time.
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // RFC 3629 section 4: the lead byte gives the length, and the second
    // byte's range excludes overlong forms (E0, F0), surrogates (ED) and
    // code points past U+10FFFF (F4). C0, C1 and F5..FF never occur.
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
    }
    i += len;
  }
  return kNpos;
}

std::string ToUtf8Lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t at = FindInvalidUtf8(s); at != kNpos; at = FindInvalidUtf8(s)) {
    out.append(s.substr(0, at)).append("\xef\xbf\xbd");
    s.remove_prefix(at + 1);
  }
  out.append(s);
  return out;
}

JsonInputResult ParseJsonInput(std::string_view text, rapidjson::Document* doc,
                               std::string_view what, size_t max_depth) {
  JsonInputResult r;
  if (ScanJsonShape(text, max_depth, text.size()).too_deep(max_depth)) {
    doc->SetNull();
    r.error = JsonInputError::kTooDeep;
    r.message.assign(what)
        .append(" nests arrays and objects deeper than ")
        .append(std::to_string(max_depth))
        .append(" levels (limits.json_depth)");
    return r;
  }
  // The raw bytes first, with our validator rather than RapidJSON's
  // kParseValidateEncodingFlag: that flag moves every string byte through
  // RapidJSON's transcoder and made a typical record's parse ~1.5x slower,
  // where this costs ~1.07x for an ASCII record and ~1.25x for one full of
  // accents and \u escapes (tests/bench/input_bench.cc). Outside strings
  // JSON is ASCII, so the whole text being UTF-8 is every string being so.
  if (size_t at = FindInvalidUtf8(text); at != kNpos) {
    doc->SetNull();
    r.error = JsonInputError::kEncoding;
    r.message.assign(what)
        .append(" is not valid UTF-8: an invalid byte sequence at byte ")
        .append(std::to_string(at));
    return r;
  }
  // RapidJSON takes a NUL for the end of its input and would ignore what
  // follows ("{}\0garbage" parses); raw, a NUL is never JSON (in a string
  // it must be escaped).
  if (const void* nul = std::memchr(text.data(), 0, text.size()); nul != nullptr) {
    doc->SetNull();
    r.error = JsonInputError::kSyntax;
    r.message.assign(what)
        .append(" is not valid JSON: a NUL byte at byte ")
        .append(std::to_string(static_cast<const char*>(nul) - text.data()));
    return r;
  }
  doc->Parse(text.data(), text.size());
  if (doc->HasParseError()) {
    const rapidjson::ParseErrorCode e = doc->GetParseError();
    // A high surrogate escape without its low one cannot be UTF-8 either.
    const bool encoding = e == rapidjson::kParseErrorStringUnicodeSurrogateInvalid;
    r.error = encoding ? JsonInputError::kEncoding : JsonInputError::kSyntax;
    r.message.assign(what).append(encoding ? " is not valid UTF-8: " : " is not valid JSON: ");
    r.message.append(rapidjson::GetParseError_En(e))
        .append(" at byte ")
        .append(std::to_string(doc->GetErrorOffset()));
    return r;
  }
  if (size_t at = FindLoneLowSurrogateEscape(text); at != kNpos) {
    doc->SetNull();  // no caller may use what was decoded
    r.error = JsonInputError::kEncoding;
    r.message.assign(what)
        .append(" is not valid UTF-8: the \\u escape at byte ")
        .append(std::to_string(at))
        .append(" is a lone surrogate");
  }
  return r;
}

}  // namespace eventide
