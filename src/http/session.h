// One HTTP/1.1 connection's state machine, independent of sockets: bytes in
// (OnData), requests out to a RequestHandler, responses back in request order
// (pipelining), timeouts and limits. The server wires it to a net::Connection;
// the fuzzer wires it to a byte sink.
//
//   bytes --> RequestParser --> Request --in turn--> handler.OnRequest(session, slot)
//                                                          |  (now, or later when
//                                                          v   a write is durable)
//   transport <-- in-order flush <-- Respond(slot, head, body)
//
// "In turn": a request is handed over once every request before it is
// answered, so a read sees the writes before it on the connection; only a
// write behind writes goes early (RequestHandler::MayRunAhead), which keeps
// pipelined writes batched into one group commit.
//
// Not thread-safe: the loop thread only.
#ifndef EVENTIDE_SRC_HTTP_SESSION_H_
#define EVENTIDE_SRC_HTTP_SESSION_H_

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "src/http/exchange.h"
#include "src/http/parser.h"
#include "src/http/request.h"
#include "src/http/response.h"

namespace eventide::http {

// Where a session's bytes go. Implemented over a net::Connection.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void Send(std::string_view bytes) = 0;
  // Closes after queued bytes are written.
  virtual void Close() = 0;
  virtual size_t pending_output_bytes() const = 0;
  virtual void PauseReading() = 0;
  virtual void ResumeReading() = 0;
  // (Re)arms the session's single timer; 0 cancels. Fires Session::OnTimer.
  virtual void SetTimer(uint64_t timeout_ms) = 0;
  // A stream's head went out (Session::StartStream): from now on the
  // connection belongs to the stream. `early` holds bytes the peer sent
  // after an upgrade request (the new protocol's first bytes). Later input
  // must go to the stream, not to the session.
  virtual void OnStreamStarted(std::string_view early) { (void)early; }
};

struct SessionOptions {
  Limits limits;
  uint64_t header_timeout_ms = 10000;  // from a request's first byte to its end
  uint64_t idle_timeout_ms = 60000;    // between requests on a kept-alive connection
  size_t max_pipelined_requests = 64;  // stop reading beyond this many unanswered
  uint64_t id = 0;                     // the connection's id, for the handler
};

class Session final : public Exchange {
 public:
  // REQUIRES: transport and handler outlive the session.
  Session(Transport* transport, RequestHandler* handler, const SessionOptions& options);

  uint64_t id() const override { return options_.id; }

  // Feed bytes received from the peer.
  void OnData(std::string_view data);
  // The session's timer fired.
  void OnTimer();
  // The peer sent EOF: answer what is pending, then close.
  void OnEof();

  // Answers request `slot`. Ignored if the slot is unknown (already answered)
  // or the session is closed. Responses are sent in request order.
  void Respond(uint64_t slot, const ResponseHead& head, std::string_view body) override;
  // Answers `slot` with the head of a response that does not end (SSE:
  // 200 without Content-Length, or 101 Switching Protocols), in request
  // order, and then hands the connection over (Transport::OnStreamStarted).
  // Requests pipelined after it are not answered; the session reads no more.
  void StartStream(uint64_t slot, const ResponseHead& head) override;
  std::string_view protocol() const override { return "http/1.1"; }

  bool closed() const { return closed_; }
  // Requests handed to the handler and not yet answered, plus those parsed
  // and waiting for the ones before them.
  size_t pending_requests() const { return slots_.size() + waiting_.size(); }
  uint64_t requests_total() const { return next_slot_ - 1; }

 private:
  struct Slot {
    uint64_t id;
    bool done = false;
    bool close_after = false;
    bool stream = false;         // a stream's head: the session ends after it
    bool may_run_ahead = false;  // a write (RequestHandler::MayRunAhead)
    bool head = false;           // a HEAD: its answer's body is not sent
    std::string bytes;           // the serialized response, once done
  };
  // An error the session itself answers (a framing error, a request that did
  // not arrive in time); sent after the requests parsed before it.
  struct Failure {
    int status = 0;
    std::string code;
    std::string message;
  };
  bool CanDispatch(const Request& r) const;
  void Dispatch(Request& r);
  void DispatchWaiting();
  void Fail(int status, std::string code, std::string message);
  void AnswerFailure(int status, std::string_view code, std::string_view message);
  void BeginStream();
  void FlushInOrder();
  void ArmTimer();
  Slot* FindSlot(uint64_t slot);

  Transport* transport_;
  RequestHandler* handler_;
  SessionOptions options_;
  RequestParser parser_;
  std::vector<Request> parsed_;
  std::string scratch_;          // the response being sent, reused
  std::deque<Slot> slots_;       // unanswered and answered-but-held, in request order
  std::deque<Request> waiting_;  // parsed, not yet handed over (CanDispatch)
  Failure failure_;              // status 0: none; else answered after waiting_
  bool dispatching_ = false;     // inside DispatchWaiting (re-entered via Respond)
  uint64_t next_slot_ = 1;
  bool closed_ = false;         // no more requests are read or answered
  bool close_pending_ = false;  // close once the held responses are out
  bool paused_ = false;
  bool was_in_request_ = false;
  std::string early_bytes_;  // received after an upgrade request
};

}  // namespace eventide::http

#endif  // EVENTIDE_SRC_HTTP_SESSION_H_
