#include "src/http/session.h"

#include <utility>

namespace eventide::http {

Session::Session(Transport* transport, RequestHandler* handler, const SessionOptions& options)
    : transport_(transport), handler_(handler), options_(options), parser_(options.limits) {
  ArmTimer();
}

void Session::OnData(std::string_view data) {
  if (closed_ || close_pending_) return;
  if (parser_.upgraded()) {
    // Bytes of the new protocol before its head went out: kept for it.
    early_bytes_.append(data);
    return;
  }
  parsed_.clear();
  size_t used = parser_.Feed(data, &parsed_);
  if (parser_.upgraded()) early_bytes_.append(data.substr(used));
  for (Request& r : parsed_) {
    if (closed_ || close_pending_) break;
    const bool last = !r.keep_alive;
    // In order: nothing overtakes a request that is waiting.
    if (waiting_.empty() && CanDispatch(r)) {
      Dispatch(r);
    } else {
      waiting_.push_back(std::move(r));
    }
    if (closed_) break;  // answered with a close, or a stream took over
    if (last) {
      // Nothing after a Connection: close request is read.
      close_pending_ = true;
      transport_->PauseReading();
      break;
    }
  }
  if (closed_) return;  // a stream took over (or the session closed)
  if (!close_pending_ && parser_.error()) {
    const ParseError& e = *parser_.error();
    Fail(e.status, e.code, e.message);
    return;
  }
  if (!close_pending_ && pending_requests() >= options_.max_pipelined_requests && !paused_) {
    paused_ = true;
    transport_->PauseReading();
  }
  ArmTimer();
}

bool Session::CanDispatch(const Request& r) const {
  if (slots_.empty()) return true;
  // Behind unanswered requests only a write may go, and only behind writes.
  if (!handler_->MayRunAhead(r)) return false;
  for (const Slot& s : slots_) {
    if (!s.done && !s.may_run_ahead) return false;
  }
  return true;
}

void Session::Dispatch(Request& r) {
  uint64_t slot = next_slot_++;
  slots_.push_back(Slot{slot, false, false, false, false, false, {}});
  slots_.back().close_after = !r.keep_alive;
  slots_.back().may_run_ahead = handler_->MayRunAhead(r);
  slots_.back().head = r.method == "HEAD";
  handler_->OnRequest(this, slot, r);
}

void Session::DispatchWaiting() {
  if (dispatching_) return;  // an answer given inside Dispatch: the loop below goes on
  dispatching_ = true;
  while (!closed_ && !waiting_.empty() && CanDispatch(waiting_.front())) {
    Request r = std::move(waiting_.front());
    waiting_.pop_front();
    Dispatch(r);
  }
  dispatching_ = false;
  if (!closed_ && waiting_.empty() && failure_.status != 0) {
    Failure f = std::move(failure_);
    failure_ = Failure();
    AnswerFailure(f.status, f.code, f.message);
  }
}

void Session::AnswerFailure(int status, std::string_view code, std::string_view message) {
  uint64_t slot = next_slot_++;
  slots_.push_back(Slot{slot, false, /*close_after=*/true, false, false, false, {}});
  RespondError(slot, status, code, message);
}

void Session::Fail(int status, std::string code, std::string message) {
  close_pending_ = true;
  transport_->PauseReading();
  if (!waiting_.empty()) {
    // Answered after the requests parsed before the failure.
    failure_ = Failure{status, std::move(code), std::move(message)};
    return;
  }
  AnswerFailure(status, code, message);
}

void Session::OnTimer() {
  if (closed_) return;
  if (parser_.in_request() && !close_pending_) {
    // Slowloris: the request did not complete in time.
    Fail(408, "request_timeout",
         "the request was not complete within " + std::to_string(options_.header_timeout_ms) +
             " ms");
    return;
  }
  if (slots_.empty() && waiting_.empty()) {  // idle keep-alive connection
    closed_ = true;
    transport_->Close();
  }
}

void Session::OnEof() {
  if (closed_) return;
  parser_.Finish();
  close_pending_ = true;
  if (slots_.empty() && waiting_.empty() && failure_.status == 0) {
    closed_ = true;
    transport_->Close();
  }
}

Session::Slot* Session::FindSlot(uint64_t slot) {
  if (slots_.empty() || slot < slots_.front().id) return nullptr;
  size_t i = slot - slots_.front().id;  // slots are consecutive
  return i < slots_.size() ? &slots_[i] : nullptr;
}

void Session::Respond(uint64_t slot, const ResponseHead& head, std::string_view body) {
  if (closed_) return;
  Slot* s = FindSlot(slot);
  if (s == nullptr || s->done) return;
  if (s->head && !body.empty()) {
    // A HEAD's answer ends after its head, an error's as well as a GET's
    // (RFC 9110 section 9.3.2): body bytes would be read as the start of the
    // next answer on the connection. Its Content-Length is the body's.
    ResponseHead h = head;
    if (h.content_length < 0) h.content_length = static_cast<int64_t>(body.size());
    return Respond(slot, h, {});
  }
  const bool close = s->close_after || head.close;
  if (s == &slots_.front()) {
    // The common case: the oldest request is answered; it goes out now,
    // serialized into a reused buffer, and any answers held behind it follow.
    scratch_.clear();
    AppendResponse(head, body, &scratch_, close);
    transport_->Send(scratch_);
    slots_.pop_front();
    if (close) {
      closed_ = true;
      slots_.clear();
      transport_->Close();
      return;
    }
    FlushInOrder();
    return;
  }
  s->done = true;
  s->close_after = close;
  AppendResponse(head, body, &s->bytes, close);
}

void Session::StartStream(uint64_t slot, const ResponseHead& head) {
  if (closed_) return;
  Slot* s = FindSlot(slot);
  if (s == nullptr || s->done) return;
  s->done = true;
  s->stream = true;
  AppendStreamHead(head, &s->bytes);
  if (s == &slots_.front()) FlushInOrder();
}

void Session::BeginStream() {
  closed_ = true;
  slots_.clear();
  waiting_.clear();  // requests pipelined after a stream are not answered
  transport_->SetTimer(0);
  std::string early;
  early.swap(early_bytes_);
  transport_->OnStreamStarted(early);
}

void Session::FlushInOrder() {
  while (!slots_.empty() && slots_.front().done) {
    Slot& s = slots_.front();
    transport_->Send(s.bytes);
    if (s.stream) {
      BeginStream();
      return;
    }
    bool close = s.close_after;
    slots_.pop_front();
    if (close) {
      closed_ = true;
      slots_.clear();
      transport_->Close();
      return;
    }
  }
  // Requests that waited for these answers may go now.
  DispatchWaiting();
  if (closed_) return;
  if (close_pending_ && slots_.empty() && waiting_.empty() && failure_.status == 0) {
    closed_ = true;
    transport_->Close();
    return;
  }
  if (paused_ && !close_pending_ && pending_requests() < options_.max_pipelined_requests) {
    paused_ = false;
    transport_->ResumeReading();
  }
  ArmTimer();
}

void Session::ArmTimer() {
  if (closed_) return;
  bool in_request = parser_.in_request();
  if (in_request) {
    // The deadline runs from the request's first byte; more bytes do not
    // extend it (a slowloris client sends one byte at a time).
    if (!was_in_request_) transport_->SetTimer(options_.header_timeout_ms);
  } else if (slots_.empty() && waiting_.empty() && !close_pending_) {
    transport_->SetTimer(options_.idle_timeout_ms);
  } else {
    transport_->SetTimer(0);  // waiting for our own answers: no client deadline
  }
  was_in_request_ = in_request;
}

}  // namespace eventide::http
