// A minimal client-side parser of an SSE stream, following the WHATWG
// "event stream interpretation" rules, for tests and fuzzers: lines end at
// CRLF, LF or CR; "field: value" with one optional space after the colon;
// data lines joined with LF; a blank line dispatches; comments start with ':'.
#ifndef EVENTIDE_TESTS_STREAM_SSE_CLIENT_H_
#define EVENTIDE_TESTS_STREAM_SSE_CLIENT_H_

#include <string>
#include <string_view>
#include <vector>

namespace eventide::stream {

// What a client makes of `data` after framing: every line ending (CRLF, CR or
// LF) becomes LF.
inline std::string NormalizeLineEndings(std::string_view data) {
  std::string out;
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < data.size() && data[i + 1] == '\n') ++i;
    } else {
      out.push_back(data[i]);
    }
  }
  return out;
}

struct ClientEvent {
  std::string type;  // "message" when no event: field
  std::string data;
  std::string last_event_id;  // the client's Last-Event-ID after this event
};

class SseClient {
 public:
  // Feeds bytes; complete events are appended to *out.
  void Feed(std::string_view bytes, std::vector<ClientEvent>* out) {
    for (char c : bytes) {
      if (after_cr_ && c == '\n') {
        after_cr_ = false;
        continue;  // the LF of a CRLF
      }
      after_cr_ = false;
      if (c == '\r' || c == '\n') {
        after_cr_ = c == '\r';
        Line(line_, out);
        line_.clear();
      } else {
        line_.push_back(c);
      }
    }
  }
  uint64_t retry_ms() const { return retry_ms_; }

 private:
  void Line(const std::string& line, std::vector<ClientEvent>* out) {
    if (line.empty()) {  // dispatch
      if (has_data_) {
        ClientEvent e;
        e.type = type_.empty() ? "message" : type_;
        e.data = data_;
        if (!e.data.empty() && e.data.back() == '\n') e.data.pop_back();
        e.last_event_id = last_id_;
        out->push_back(e);
      }
      data_.clear();
      type_.clear();
      has_data_ = false;
      return;
    }
    if (line[0] == ':') return;
    size_t colon = line.find(':');
    std::string field = line.substr(0, colon);
    std::string value;
    if (colon != std::string::npos) {
      value = line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    }
    if (field == "event") {
      type_ = value;
    } else if (field == "data") {
      data_ += value;
      data_ += '\n';
      has_data_ = true;
    } else if (field == "id") {
      if (value.find('\0') == std::string::npos) last_id_ = value;
    } else if (field == "retry") {
      if (!value.empty() && value.find_first_not_of("0123456789") == std::string::npos) {
        retry_ms_ = std::stoull(value);
      }
    }
  }

  std::string line_;
  bool after_cr_ = false;
  std::string type_, data_, last_id_;
  bool has_data_ = false;
  uint64_t retry_ms_ = 0;
};

}  // namespace eventide::stream

#endif  // EVENTIDE_TESTS_STREAM_SSE_CLIENT_H_
