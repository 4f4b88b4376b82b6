// A webhook receiver for the dispatcher's tests: listens on 127.0.0.1:0, a
// thread accepts and a thread per connection reads one request (head and
// Content-Length body), records it, and answers with what `reply` says for
// it — or, for std::nullopt, holds the connection open without a word until
// the receiver is destroyed or the client goes away. Optionally TLS (a
// blocking OpenSSL server over the accepted socket).
#ifndef EVENTIDE_TESTS_HOOKS_RECEIVER_H_
#define EVENTIDE_TESTS_HOOKS_RECEIVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace eventide::hooks::testing {

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::string version;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// Raw bytes of a complete response with an empty body.
inline std::string StatusResponse(int code) {
  return "HTTP/1.1 " + std::to_string(code) +
         " Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}

// Polls `done` every 5 ms for up to 10 s: how the tests wait for the
// dispatcher's thread without assuming how fast it is.
inline bool Eventually(const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

class Receiver {
 public:
  // `reply(n)` answers the n-th request (0-based) this receiver completed.
  using Reply = std::function<std::optional<std::string>(size_t n)>;

  // REQUIRES: `tls`, when given, outlives the receiver.
  explicit Receiver(Reply reply, SSL_CTX* tls = nullptr) : reply_(std::move(reply)), tls_(tls) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 64);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (pipe(stop_pipe_) != 0) stop_pipe_[0] = stop_pipe_[1] = -1;
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~Receiver() {
    // Never read: every poll on it reports readable from now on.
    [[maybe_unused]] ssize_t n = write(stop_pipe_[1], "x", 1);
    acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(connections_);
    }
    for (auto& t : threads) t.join();
    close(listen_fd_);
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
  }

  uint16_t port() const { return port_; }
  std::string Url(const std::string& path = "/hook") const {
    return std::string(tls_ != nullptr ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(port_) + path;
  }
  size_t accepted() const { return accepted_.load(); }
  std::vector<ReceivedRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  size_t request_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.size();
  }

 private:
  // Waits for fd to be readable; false when the receiver is stopping.
  bool WaitReadable(int fd) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    for (;;) {
      int rc = poll(fds, 2, -1);
      if (rc < 0) return false;
      if (fds[1].revents != 0) return false;
      if (fds[0].revents != 0) return true;
    }
  }

  void AcceptLoop() {
    for (;;) {
      if (!WaitReadable(listen_fd_)) return;
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      accepted_.fetch_add(1);
      std::lock_guard<std::mutex> lock(mu_);
      connections_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    SSL* ssl = nullptr;
    if (tls_ != nullptr) {
      ssl = SSL_new(tls_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) != 1) {
        SSL_free(ssl);
        close(fd);
        return;
      }
    }
    auto read_some = [&](char* buf, size_t n) -> ssize_t {
      if (ssl != nullptr && SSL_pending(ssl) > 0) return SSL_read(ssl, buf, static_cast<int>(n));
      if (!WaitReadable(fd)) return -1;
      if (ssl != nullptr) return SSL_read(ssl, buf, static_cast<int>(n));
      return read(fd, buf, n);
    };
    std::string in;
    char buf[4096];
    size_t head_end = std::string::npos;
    size_t body_bytes = 0;
    ReceivedRequest req;
    for (;;) {
      if (head_end != std::string::npos && in.size() >= head_end + 4 + body_bytes) break;
      ssize_t n = read_some(buf, sizeof(buf));
      if (n <= 0) return Finish(fd, ssl);
      in.append(buf, static_cast<size_t>(n));
      if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
        req = ParseHead(in.substr(0, head_end));
        body_bytes =
            std::stoul(req.headers.count("content-length") != 0 ? req.headers["content-length"]
                                                                : std::string("0"));
      }
    }
    req.body = in.substr(head_end + 4, body_bytes);
    size_t index;
    {
      std::lock_guard<std::mutex> lock(mu_);
      index = requests_.size();
      requests_.push_back(req);
    }
    std::optional<std::string> answer = reply_(index);
    if (answer.has_value()) {
      if (ssl != nullptr) {
        SSL_write(ssl, answer->data(), static_cast<int>(answer->size()));
      } else {
        [[maybe_unused]] ssize_t n = write(fd, answer->data(), answer->size());
      }
    } else {
      // Say nothing until stopped or the client hangs up.
      while (read_some(buf, sizeof(buf)) > 0) {
      }
    }
    Finish(fd, ssl);
  }

  static void Finish(int fd, SSL* ssl) {
    if (ssl != nullptr) SSL_free(ssl);
    close(fd);
  }

  static ReceivedRequest ParseHead(const std::string& head) {
    ReceivedRequest r;
    size_t eol = head.find("\r\n");
    std::string line = head.substr(0, eol);
    size_t sp1 = line.find(' ');
    size_t sp2 = line.find(' ', sp1 + 1);
    r.method = line.substr(0, sp1);
    r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    r.version = line.substr(sp2 + 1);
    size_t at = eol == std::string::npos ? head.size() : eol + 2;
    while (at < head.size()) {
      size_t end = head.find("\r\n", at);
      if (end == std::string::npos) end = head.size();
      std::string h = head.substr(at, end - at);
      size_t colon = h.find(':');
      std::string name = h.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = colon == std::string::npos ? "" : h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
      at = end + 2;
    }
    return r;
  }

  Reply reply_;
  SSL_CTX* tls_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<size_t> accepted_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> connections_;   // guarded by mu_
  std::vector<ReceivedRequest> requests_;  // guarded by mu_
};

// A port on 127.0.0.1 where nothing listens (bound once, then let go).
inline uint16_t ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace eventide::hooks::testing

#endif  // EVENTIDE_TESTS_HOOKS_RECEIVER_H_
