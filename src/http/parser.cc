#include "src/http/parser.h"

#include <utility>

namespace eventide::http {
namespace {

// Bytes each header line costs beyond its name and value (": " and CRLF).
constexpr size_t kHeaderLineOverhead = 4;

}  // namespace

RequestParser::RequestParser(const Limits& limits) : limits_(limits) {
  static llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &RequestParser::OnMessageBegin;
    s.on_url = &RequestParser::OnUrl;
    s.on_header_field = &RequestParser::OnHeaderField;
    s.on_header_value = &RequestParser::OnHeaderValue;
    s.on_headers_complete = &RequestParser::OnHeadersComplete;
    s.on_body = &RequestParser::OnBody;
    s.on_message_complete = &RequestParser::OnMessageComplete;
    return s;
  }();
  llhttp_init(&parser_, HTTP_REQUEST, &settings);
  parser_.data = this;
}

void RequestParser::SetError(int status, std::string code, std::string message) {
  if (error_) return;
  error_ = ParseError{status, std::move(code), std::move(message)};
}

bool RequestParser::CountHeaderBytes(size_t n) {
  header_bytes_ += n;
  if (header_bytes_ <= limits_.header_bytes) return true;
  SetError(
      431, "header_too_large",
      "the request line and headers exceed " + std::to_string(limits_.header_bytes) + " bytes");
  return false;
}

int RequestParser::OnMessageBegin(llhttp_t* p) {
  auto* self = static_cast<RequestParser*>(p->data);
  self->cur_ = Request();
  self->header_bytes_ = 0;
  self->in_value_ = false;
  self->in_request_ = true;
  return 0;
}

int RequestParser::OnUrl(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<RequestParser*>(p->data);
  if (!self->CountHeaderBytes(len)) return -1;
  self->cur_.target.append(at, len);
  return 0;
}

int RequestParser::OnHeaderField(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<RequestParser*>(p->data);
  if (!self->CountHeaderBytes(len + (self->in_value_ ? kHeaderLineOverhead : 0))) return -1;
  std::vector<Header>& hs = self->cur_.headers;
  if (self->in_value_ || hs.empty()) {
    hs.emplace_back();
    self->in_value_ = false;
  }
  std::string& name = hs.back().name;
  for (size_t i = 0; i < len; ++i) {
    char c = at[i];
    name.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
  }
  return 0;
}

int RequestParser::OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<RequestParser*>(p->data);
  if (!self->CountHeaderBytes(len)) return -1;
  self->in_value_ = true;
  self->cur_.headers.back().value.append(at, len);
  return 0;
}

int RequestParser::OnHeadersComplete(llhttp_t* p) {
  auto* self = static_cast<RequestParser*>(p->data);
  Request& r = self->cur_;
  r.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  r.version_minor = p->http_minor;
  if (p->http_major != 1) {
    self->SetError(505, "http_version_not_supported",
                   "only HTTP/1.0 and HTTP/1.1 are served, not HTTP/" +
                       std::to_string(p->http_major) + "." + std::to_string(p->http_minor));
    return -1;
  }
  size_t q = r.target.find('?');
  if (q == std::string::npos) {
    r.path = r.target;
  } else {
    r.path = r.target.substr(0, q);
    r.query = r.target.substr(q + 1);
  }
  r.keep_alive = llhttp_should_keep_alive(p) != 0;
  r.upgrade = p->upgrade != 0;
  // Content-Length is known here: refuse an oversize body before reading it.
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > self->limits_.body_bytes) {
    self->SetError(413, "body_too_large",
                   "the body of " + std::to_string(p->content_length) + " bytes exceeds " +
                       std::to_string(self->limits_.body_bytes) + " bytes");
    return -1;
  }
  if (p->flags & F_CONTENT_LENGTH) r.body.reserve(p->content_length);
  return 0;
}

int RequestParser::OnBody(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<RequestParser*>(p->data);
  if (self->cur_.body.size() + len > self->limits_.body_bytes) {
    self->SetError(
        413, "body_too_large",
        "the chunked body exceeds " + std::to_string(self->limits_.body_bytes) + " bytes");
    return -1;
  }
  self->cur_.body.append(at, len);
  return 0;
}

int RequestParser::OnMessageComplete(llhttp_t* p) {
  auto* self = static_cast<RequestParser*>(p->data);
  self->in_request_ = false;
  self->out_->push_back(std::move(self->cur_));
  self->cur_ = Request();
  return 0;
}

size_t RequestParser::Feed(std::string_view data, std::vector<Request>* out) {
  if (stopped_ || data.empty()) return 0;
  out_ = out;
  llhttp_errno_t err = llhttp_execute(&parser_, data.data(), data.size());
  out_ = nullptr;
  if (err == HPE_OK) return data.size();
  stopped_ = true;
  size_t used = data.size();
  if (const char* pos = llhttp_get_error_pos(&parser_)) {
    used = static_cast<size_t>(pos - data.data());
  }
  if (err == HPE_PAUSED_UPGRADE) {
    upgraded_ = true;
    return used;
  }
  if (!error_) {
    SetError(400, "bad_request",
             std::string("malformed HTTP request: ") + llhttp_errno_name(err) + ": " +
                 llhttp_get_error_reason(&parser_));
  }
  in_request_ = false;
  return used;
}

void RequestParser::Finish() {
  if (stopped_) return;
  stopped_ = true;
  if (in_request_) {
    SetError(400, "bad_request", "the connection closed in the middle of a request");
    in_request_ = false;
  }
}

}  // namespace eventide::http
