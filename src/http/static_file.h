// Static files (an app's web/ folder) prepared once at start-up: content
// type, a strong ETag, and a gzip copy when it pays, so serving one is a
// lookup and a send, never disk or compression on the loop.
#ifndef EVENTIDE_SRC_HTTP_STATIC_FILE_H_
#define EVENTIDE_SRC_HTTP_STATIC_FILE_H_

#include <string>
#include <string_view>

namespace eventide::http {

struct StaticFile {
  std::string content_type;
  std::string etag;  // quoted: "\"<16 hex digits of XXH3-64>\""
  std::string body;
  std::string gzip;  // empty: not worth compressing (or not compressible)
  // The gzip copy's own strong ETag (`etag` with "-gz"): a strong validator
  // names one sequence of bytes (RFC 9110 section 8.8.3).
  std::string gzip_etag;
};

// Prepares `body`, served under `path` (its extension picks the content
// type). Text types above a few hundred bytes get a gzip copy when it is at
// least 10% smaller.
StaticFile MakeStaticFile(std::string_view path, std::string body);

// Whether an Accept-Encoding value allows gzip: a `gzip` (or `x-gzip`, or
// `*`) coding whose q is not 0 (RFC 9110 section 12.5.3).
bool AcceptsGzip(std::string_view accept_encoding);

// Whether an If-None-Match value names `etag` (or is `*`); weak comparison,
// as RFC 9110 section 13.1.2 asks for GET.
bool EtagMatches(std::string_view if_none_match, std::string_view etag);

}  // namespace eventide::http

#endif  // EVENTIDE_SRC_HTTP_STATIC_FILE_H_
