// Serializing HTTP/1.1 responses into a reused buffer, and the canonical
// error body (SPEC section 5).
#ifndef EVENTIDE_SRC_HTTP_RESPONSE_H_
#define EVENTIDE_SRC_HTTP_RESPONSE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/http/request.h"

namespace eventide::http {

std::string_view StatusText(int status);

struct ResponseHead {
  int status = 200;
  std::vector<Header> headers;  // names as they should appear
  // Header lines already rendered ("name: value\r\n" each), appended after
  // `headers`: the write path renders its headers once, into one string.
  std::string_view raw_headers;
  bool close = false;  // adds "Connection: close"
  // The Content-Length to state when it is not the body's: a HEAD answer
  // states the length its GET would send, and sends no body.
  int64_t content_length = -1;
};

// Appends status line, headers, Content-Length and body to *out. `close`
// adds "Connection: close" as head.close does.
void AppendResponse(const ResponseHead& head, std::string_view body, std::string* out,
                    bool close = false);
// Appends only the head of a streaming response (no Content-Length; SSE).
void AppendStreamHead(const ResponseHead& head, std::string* out);

// Content-Type for a static file by its extension.
std::string_view ContentTypeFor(std::string_view path);

// {"error":{"code":CODE,"message":MSG[,"field":FIELD]}}
std::string ErrorBody(std::string_view code, std::string_view message, std::string_view field = {});

// The head of a 405 method_not_allowed (a JSON ErrorBody follows), with the
// Allow header RFC 9110 requires: the methods the resource does take.
ResponseHead MethodNotAllowedHead(std::string_view allow);

}  // namespace eventide::http

#endif  // EVENTIDE_SRC_HTTP_RESPONSE_H_
