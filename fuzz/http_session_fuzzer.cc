// Bytes from a peer through the whole HTTP connection state machine
// (http::Session: parser, pipelining, in-order answers, limits, timeouts),
// with a handler that answers some requests at once and holds others for a
// later "durable" moment, like the REST write path.
//
// Input: byte 0 picks how to chunk the rest; bytes from the peer follow.
// Invariants: no crash; responses leave in request order (each carries its
// slot number); nothing is sent after the transport was closed; a session
// that was closed takes no more requests.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "src/http/session.h"

namespace {

using eventide::http::Request;
using eventide::http::ResponseHead;
using eventide::http::Session;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_session_fuzzer: check failed: %s\n", what);
    std::abort();
  }
}

class FakeTransport : public eventide::http::Transport {
 public:
  void Send(std::string_view bytes) override {
    Check(!closed, "Send after Close");
    out.append(bytes);
  }
  void Close() override { closed = true; }
  size_t pending_output_bytes() const override { return out.size(); }
  void PauseReading() override { paused = true; }
  void ResumeReading() override { paused = false; }
  void SetTimer(uint64_t ms) override { timer_ms = ms; }
  std::string out;
  bool closed = false;
  bool paused = false;
  uint64_t timer_ms = 0;
};

class Handler : public eventide::http::RequestHandler {
 public:
  // POSTs stand for writes: they may be handed over behind other POSTs.
  bool MayRunAhead(const Request& req) const override { return req.method == "POST"; }

  void OnRequest(eventide::http::Exchange* s, uint64_t slot, Request& req) override {
    ++requests;
    // Only a write goes while an earlier request is unanswered, and only
    // behind writes: a read sees every write before it.
    for (const std::string& m : held_methods) {
      Check(req.method == "POST" && m == "POST", "a request overtook an unanswered one");
    }
    // Every third request is answered later, out of order with the others.
    if (slot % 3 == 0) {
      held.push_back(slot);
      held_methods.push_back(req.method);
      return;
    }
    ResponseHead head;
    head.headers.push_back({"x-slot", std::to_string(slot)});
    // Not the body itself: it could hold "x-slot: " and fool Slots().
    s->Respond(slot, head, std::to_string(req.body.size()));
  }
  // Answers the held requests; answering may hand over waiting ones, which
  // may be held in turn.
  void AnswerHeld(Session* s, const char* body) {
    std::vector<uint64_t> now;
    now.swap(held);
    held_methods.clear();
    for (uint64_t slot : now) {
      ResponseHead head;
      head.headers.push_back({"x-slot", std::to_string(slot)});
      s->Respond(slot, head, body);
    }
  }
  std::vector<uint64_t> held;
  std::vector<std::string> held_methods;
  uint64_t requests = 0;
};

// The x-slot values in the output, in order.
std::vector<uint64_t> Slots(const std::string& out) {
  std::vector<uint64_t> slots;
  size_t at = 0;
  while ((at = out.find("x-slot: ", at)) != std::string::npos) {
    at += 8;
    slots.push_back(std::strtoull(out.c_str() + at, nullptr, 10));
  }
  return slots;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  FakeTransport transport;
  Handler handler;
  eventide::http::SessionOptions options;
  options.limits.header_bytes = 512;
  options.limits.body_bytes = 1024;
  options.max_pipelined_requests = 8;
  Session session(&transport, &handler, options);
  for (size_t at = 0; at < input.size() && !transport.closed; at += chunk) {
    if (transport.paused) {
      // A paused connection reads nothing until answers go out.
      handler.AnswerHeld(&session, "held");
      if (transport.paused) break;
    }
    session.OnData(input.substr(at, chunk));
  }
  if (!transport.closed && (input.size() % 2) == 1) session.OnTimer();
  // Until nothing is held: each round of answers may hand over more.
  for (int round = 0; round < 64 && !handler.held.empty(); ++round) {
    handler.AnswerHeld(&session, "late");
  }
  session.OnEof();
  std::vector<uint64_t> slots = Slots(transport.out);
  for (size_t i = 1; i < slots.size(); ++i) Check(slots[i] > slots[i - 1], "answers out of order");
  Check(slots.size() <= handler.requests, "more answers than requests");
  return 0;
}
