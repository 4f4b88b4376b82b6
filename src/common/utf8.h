// UTF-8 on input (SPEC section 12): JSON is UTF-8 (RFC 8259 section 8.1), so
// the server refuses client bytes that are not, once, where they enter, and
// nothing it stores or sends is checked again. That is what lets every frame
// that leaves the server be valid UTF-8 without a check per delivery.
//
// The input kinds and their one check each:
//   JSON bodies and WebSocket messages  ParseJsonInput (below)
//   request targets (ids, query values) http::TargetIsUtf8 (src/http/request.h)
//   WebSocket text frames               wslay (RFC 6455 section 8.1, close 1007)
#ifndef EVENTIDE_SRC_COMMON_UTF8_H_
#define EVENTIDE_SRC_COMMON_UTF8_H_

#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace eventide {

// The offset of the first byte of `s` that does not begin a well-formed
// UTF-8 sequence (RFC 3629: no overlong forms, no surrogates U+D800..U+DFFF,
// nothing past U+10FFFF), or std::string_view::npos when all of it is UTF-8.
// ASCII runs are checked 8 bytes at a time.
size_t FindInvalidUtf8(std::string_view s);
inline bool IsUtf8(std::string_view s) { return FindInvalidUtf8(s) == std::string_view::npos; }

// `s` with every byte that does not begin a well-formed sequence replaced by
// U+FFFD. For error messages, which may quote what a client sent in a
// header (not checked on input: headers are not JSON); never on the path of
// stored data, which is refused instead.
std::string ToUtf8Lossy(std::string_view s);

// The error code a client gets for input that is not UTF-8 (HTTP 400, a
// WebSocket error message): docs/HTTP.md.
inline constexpr std::string_view kInvalidUtf8Code = "invalid_utf8";

// Why ParseJsonInput refused its input.
enum class JsonInputError {
  kNone,
  kSyntax,    // not JSON: answer "invalid_json"
  kEncoding,  // JSON, but not UTF-8: answer kInvalidUtf8Code
  kTooDeep,   // nests deeper than its limit: answer kJsonTooDeepCode
};

// The error code for JSON nested past limits.json_depth (HTTP 400).
inline constexpr std::string_view kJsonTooDeepCode = "json_too_deep";

// How deep client JSON may nest where no configured limit applies (token
// headers and claims, GraphQL requests, SnackBase messages): deep enough for
// any real document, shallow enough that RapidJSON's recursion is safe.
inline constexpr size_t kDefaultJsonDepth = 64;

struct JsonInputResult {
  JsonInputError error = JsonInputError::kNone;
  // For the client: "<what> is not valid JSON: <reason> at byte N", or
  // "<what> is not valid UTF-8: …".
  std::string message;
  bool ok() const { return error == JsonInputError::kNone; }
  // The error code to answer with: "invalid_json", "invalid_utf8" or
  // "json_too_deep" (all HTTP 400).
  std::string_view code() const {
    switch (error) {
      case JsonInputError::kEncoding:
        return kInvalidUtf8Code;
      case JsonInputError::kTooDeep:
        return kJsonTooDeepCode;
      default:
        return "invalid_json";
    }
  }
};

// Parses `text`, JSON from a client, into *doc, refusing text that is not
// UTF-8 or that would decode into text that is not: the raw bytes are
// checked with FindInvalidUtf8 before parsing, and \u escapes of surrogates
// after it, since RapidJSON 1.1 encodes a lone low surrogate ("\udc00") as
// the three bytes ED B0 80, which are not UTF-8, even under its
// kParseValidateEncodingFlag (that flag checks raw bytes only). Every JSON
// value a client hands the server (REST bodies, WebSocket messages of every
// dialect, GraphQL requests) goes through this one function. On an error
// *doc holds nothing a caller may use.
// Text nesting deeper than `max_depth` arrays and objects is refused before
// RapidJSON sees it (ScanJsonShape, src/common/json_shape.h): its DOM
// recurses per level, and 1,000,000 '[' would overflow the stack.
// `what` names the input in the message ("the body", "the message").
[[nodiscard]] JsonInputResult ParseJsonInput(std::string_view text, rapidjson::Document* doc,
                                             std::string_view what,
                                             size_t max_depth = kDefaultJsonDepth);

}  // namespace eventide

#endif  // EVENTIDE_SRC_COMMON_UTF8_H_
