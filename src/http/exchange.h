// What a request handler sees of the connection a request came on, whatever
// its protocol: an HTTP/1.1 session (src/http/session.h) or an HTTP/2 session
// (src/http/h2_session.h). Requests are numbered by slot; the handler answers
// a slot now or later, with a whole response or with the head of a stream.
//
// Not thread-safe: the loop thread only.
#ifndef EVENTIDE_SRC_HTTP_EXCHANGE_H_
#define EVENTIDE_SRC_HTTP_EXCHANGE_H_

#include <cstdint>
#include <string_view>

#include "src/http/request.h"
#include "src/http/response.h"

namespace eventide::http {

// Whatever answers a request by slot: an HTTP session, or a WebSocket stream
// whose client messages become requests (a put, a delete, a publish).
class Responder {
 public:
  virtual ~Responder() = default;
  // The connection's id (stable while it lives).
  virtual uint64_t id() const = 0;
  virtual void Respond(uint64_t slot, const ResponseHead& head, std::string_view body) = 0;
};

// A connection's requests: HTTP/1.1 (a slot is the request's number on the
// connection) or HTTP/2 (a slot is the stream id).
class Exchange : public Responder {
 public:
  // Answers `slot` with the head of a response that does not end (SSE), and
  // then hands what carries it to the stream waiting for it: the whole
  // connection on HTTP/1.1 (after the answers before it), one stream on
  // HTTP/2. Ignored if the slot is unknown or answered.
  virtual void StartStream(uint64_t slot, const ResponseHead& head) = 0;
  // "http/1.1" or "h2".
  virtual std::string_view protocol() const = 0;
  // Answers with the canonical error body (SPEC section 5).
  void RespondError(uint64_t slot, int status, std::string_view code, std::string_view message,
                    std::string_view field = {}) {
    ResponseHead head;
    head.status = status;
    head.headers.push_back({"content-type", "application/json"});
    Respond(slot, head, ErrorBody(code, message, field));
  }
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // A complete request. The handler answers with exchange->Respond(slot, ...)
  // now or later; on HTTP/1.1 a request not answered holds back the
  // responses of the requests pipelined after it. `request` may be moved from.
  virtual void OnRequest(Exchange* exchange, uint64_t slot, Request& request) = 0;
  // Whether `request` may be handed over while requests before it on the
  // connection are still unanswered (HTTP/1.1 pipelining; HTTP/2 streams are
  // independent). A request that reads state (a GET, a stream's retained
  // snapshot) must not: it waits until every request before it is answered,
  // so it sees the writes before it (read-your-writes on a connection). A
  // write may, behind other writes only: writes are judged against the
  // accepted overlay, so they need not wait to be durable. The default,
  // false, makes a connection strictly sequential.
  virtual bool MayRunAhead(const Request& request) const {
    (void)request;
    return false;
  }
};

}  // namespace eventide::http

#endif  // EVENTIDE_SRC_HTTP_EXCHANGE_H_
