// Incremental HTTP/1.1 request parsing over llhttp, with the server's limits
// (SPEC section 10). No I/O: the connection feeds it bytes.
#ifndef EVENTIDE_SRC_HTTP_PARSER_H_
#define EVENTIDE_SRC_HTTP_PARSER_H_

#include <llhttp.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/http/request.h"

namespace eventide::http {

struct Limits {
  // Request line plus header lines. 16 KiB holds any sane request (browsers
  // send ~1-2 KiB) and bounds what a client makes us buffer.
  size_t header_bytes = 16 << 10;
  // A record or message is JSON of modest size; 1 MiB is generous.
  size_t body_bytes = 1 << 20;
};

// What the connection answers before closing. Codes are stable (SPEC §12):
// 400 bad_request, 413 body_too_large, 431 header_too_large,
// 505 http_version_not_supported.
struct ParseError {
  int status = 400;
  std::string code;
  std::string message;
};

// One connection's parser. Not thread-safe.
class RequestParser {
 public:
  explicit RequestParser(const Limits& limits);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Consumes bytes; each complete request is appended to *out (pipelined
  // requests: several per call). Returns the bytes consumed: fewer than
  // data.size() only after an upgrade request (the rest belongs to the new
  // protocol) or an error. After either, the parser takes no more input.
  size_t Feed(std::string_view data, std::vector<Request>* out);
  // The peer sent EOF. Sets error() if a request was incomplete.
  void Finish();

  const std::optional<ParseError>& error() const { return error_; }
  // A request has begun but is not complete: the header timeout runs.
  bool in_request() const { return in_request_; }
  bool upgraded() const { return upgraded_; }

 private:
  static int OnMessageBegin(llhttp_t* p);
  static int OnUrl(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t len);
  static int OnMessageComplete(llhttp_t* p);
  // Counts request-line and header bytes; false (and error_) past the limit.
  bool CountHeaderBytes(size_t n);
  void SetError(int status, std::string code, std::string message);

  Limits limits_;
  llhttp_t parser_;
  Request cur_;
  std::vector<Request>* out_ = nullptr;
  size_t header_bytes_ = 0;
  bool in_value_ = false;  // the last header callback was a value
  bool in_request_ = false;
  bool upgraded_ = false;
  bool stopped_ = false;
  std::optional<ParseError> error_;
};

}  // namespace eventide::http

#endif  // EVENTIDE_SRC_HTTP_PARSER_H_
