// A minimal HTTP/2 client for the server tests: nghttp2's client session
// over a blocking loopback socket, prior knowledge (no TLS). Tests submit
// requests, run the connection until a condition holds, and read each
// stream's response as it arrives. Flow control can be left to the test
// (auto_window = false: a stream's window is given back only by Consume),
// which is how a reader that stops reading one stream is played.
#ifndef EVENTIDE_TESTS_SERVER_H2_CLIENT_H_
#define EVENTIDE_TESTS_SERVER_H2_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

struct nghttp2_session;

namespace eventide::testing {

class H2Client {
 public:
  struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::string body;
    bool ended = false;   // END_STREAM received
    bool closed = false;  // the stream is closed (ended or reset)
    uint32_t error = 0;   // the close's error code (RST_STREAM)
    std::string Header(const std::string& n) const {
      auto it = headers.find(n);
      return it == headers.end() ? "" : it->second;
    }
  };

  // `window`: this client's initial stream window (SETTINGS_INITIAL_WINDOW_SIZE).
  explicit H2Client(int port, uint32_t window = 1 << 20, bool auto_window = true);
  ~H2Client();
  H2Client(const H2Client&) = delete;
  H2Client& operator=(const H2Client&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Submits a request (headers as lower-case name/value); returns its stream id.
  int32_t Submit(const std::string& method, const std::string& path,
                 std::vector<std::pair<std::string, std::string>> headers = {},
                 const std::string& body = "");
  // Sends and receives until `done()` or the timeout; false on timeout or
  // when the connection ended first (then `done()` is checked once more).
  bool RunUntil(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Runs until stream `id` has ended; returns its response.
  const Response& Wait(int32_t id, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  const Response& response(int32_t id) { return responses_[id]; }
  // Gives `n` received bytes of stream `id` back to its window.
  void Consume(int32_t id, size_t n);
  // The peer closed the connection (EOF or error).
  bool eof() const { return eof_; }
  bool goaway() const { return goaway_; }
  uint32_t goaway_code() const { return goaway_code_; }
  // Writes raw bytes on the socket (after the session's own).
  bool SendRaw(const std::string& bytes);

 private:
  friend struct H2ClientCallbacks;
  bool Pump(int wait_ms);

  int fd_ = -1;
  nghttp2_session* s_ = nullptr;
  std::map<int32_t, Response> responses_;
  std::map<int32_t, std::pair<std::string, size_t>> bodies_;  // request bodies being sent
  bool eof_ = false;
  bool goaway_ = false;
  uint32_t goaway_code_ = 0;
};

}  // namespace eventide::testing

#endif  // EVENTIDE_TESTS_SERVER_H2_CLIENT_H_
