// An HTTP/1.1 request as the server sees it, and URL helpers.
#ifndef EVENTIDE_SRC_HTTP_REQUEST_H_
#define EVENTIDE_SRC_HTTP_REQUEST_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace eventide::http {

struct Header {
  std::string name;  // lower-cased by the parser
  std::string value;
};

struct Request {
  std::string method;  // "GET", ...
  std::string target;  // the raw request-target
  std::string path;    // target before '?', not decoded
  std::string query;   // after '?', not decoded ("" if none)
  std::vector<Header> headers;
  std::string body;
  bool keep_alive = true;  // per llhttp_should_keep_alive (version and Connection)
  bool upgrade = false;    // an Upgrade request (WebSocket)
  int version_minor = 1;

  // The first header with this (lower-case) name, or nullptr.
  const std::string* FindHeader(std::string_view lower_name) const;
};

// "/a/b%20c" -> {"a", "b c"}. Empty segments (from "//" or a trailing "/")
// are dropped. False on a bad %-escape or a decoded '/' or NUL inside a
// segment (which would let a client smuggle a path separator).
bool SplitPath(std::string_view path, std::vector<std::string>* segments);

// "a=b&c=d" with '+' as space and %-decoding; repeated keys kept in order.
// A key without '=' has an empty value. False on a bad %-escape.
bool ParseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>* params);

// Appends `segment` to *out as one URL path segment: every byte but the
// unreserved ones (RFC 3986: ALPHA DIGIT - . _ ~) %-encoded, so SplitPath
// gives it back whole and no byte of it can end a header line (a record id
// in a Location header).
void AppendPathSegment(std::string_view segment, std::string* out);

// True when the request-target, %-decoded, is UTF-8: every path segment
// (app, table, record id, topic) and every query key and value SplitPath and
// ParseQuery would give. Checked once per request before routing, so no id or
// parameter that is not UTF-8 reaches the log or a frame (SPEC section 12).
// A bad %-escape is left to SplitPath and ParseQuery (bad_path, bad_query).
bool TargetIsUtf8(std::string_view target);

}  // namespace eventide::http

#endif  // EVENTIDE_SRC_HTTP_REQUEST_H_
