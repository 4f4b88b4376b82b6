#include "tests/server/stream_clients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <random>

namespace eventide::testing {

RawSocket::RawSocket(int port, int rcvbuf) : fd_(ConnectLoopback(port, rcvbuf)) {}

RawSocket::~RawSocket() { Close(); }

void RawSocket::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawSocket::Send(std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

size_t RawSocket::SendUntilBlocked(std::string_view chunk, size_t max_bytes, milliseconds stall) {
  size_t sent = 0, off = 0;
  while (sent < max_bytes) {
    ssize_t n = ::send(fd_, chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      off = (off + static_cast<size_t>(n)) % chunk.size();
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) break;
    struct pollfd pfd = {fd_, POLLOUT, 0};
    if (::poll(&pfd, 1, static_cast<int>(stall.count())) <= 0) break;
  }
  return sent;
}

int RawSocket::ReadMore(milliseconds timeout) {
  if (fd_ < 0 || eof_) return -1;
  struct pollfd pfd = {fd_, POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return 0;
  char b[65536];
  ssize_t n = ::recv(fd_, b, sizeof(b), 0);
  if (n <= 0) {
    eof_ = true;
    return -1;
  }
  buf_.append(b, static_cast<size_t>(n));
  return static_cast<int>(n);
}

HttpResponse RawSocket::ReadHead(milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  HttpResponse r;
  for (;;) {
    size_t end = buf_.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::string head = buf_.substr(0, end);
      buf_.erase(0, end + 4);
      size_t line_end = head.find("\r\n");
      std::string status_line = head.substr(0, line_end);
      if (status_line.size() >= 12) r.status = std::stoi(status_line.substr(9, 3));
      size_t at = line_end == std::string::npos ? head.size() : line_end + 2;
      while (at < head.size()) {
        size_t eol = head.find("\r\n", at);
        if (eol == std::string::npos) eol = head.size();
        std::string line = head.substr(at, eol - at);
        size_t colon = line.find(':');
        if (colon != std::string::npos) {
          std::string name = line.substr(0, colon);
          for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          std::string value = line.substr(colon + 1);
          while (!value.empty() && value[0] == ' ') value.erase(0, 1);
          r.headers[name] = value;
        }
        at = eol + 2;
      }
      return r;
    }
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || ReadMore(left) < 0) return HttpResponse();
  }
}

// ---- SSE ----

SseConn::SseConn(int port, const std::string& path, std::vector<std::string> headers, int rcvbuf,
                 const std::string& method, const std::string& body)
    : sock_(port, rcvbuf) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n";
  for (const std::string& h : headers) req += h + "\r\n";
  req += "\r\n" + body;
  if (!sock_.Send(req)) return;
  head_ = sock_.ReadHead(milliseconds(10000));
  if (head_.status == 200 &&
      head_.Header("content-type").find("text/event-stream") != std::string::npos) {
    Parse();
  } else {
    // An error answer: its body follows the head.
    size_t want =
        head_.headers.count("content-length") ? std::stoul(head_.Header("content-length")) : 0;
    while (sock_.buffer().size() < want && sock_.ReadMore(milliseconds(5000)) > 0) {
    }
    head_.body = sock_.buffer().substr(0, want);
    sock_.buffer().erase(0, want);
  }
}

void SseConn::Parse() {
  parser_.Feed(sock_.buffer(), &events_);
  sock_.buffer().clear();
}

bool SseConn::WaitFor(const std::function<bool(const std::vector<stream::ClientEvent>&)>& pred,
                      milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred(events_)) return true;
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (sock_.ReadMore(left) < 0) {
      Parse();
      return pred(events_);
    }
    Parse();
  }
}

void SseConn::Drain(milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || sock_.ReadMore(left) < 0) break;
    Parse();
  }
  Parse();
}

std::vector<stream::ClientEvent> SseConn::Named(const std::string& type) const {
  std::vector<stream::ClientEvent> out;
  for (const auto& e : events_) {
    if (e.type == type) out.push_back(e);
  }
  return out;
}

// ---- WebSocket ----

WsConn::WsConn(int port, const std::string& path, std::vector<std::string> headers, std::string key,
               std::string version, int rcvbuf)
    : sock_(port, rcvbuf) {
  std::string req = "GET " + path +
                    " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  if (!key.empty()) req += "Sec-WebSocket-Key: " + key + "\r\n";
  if (!version.empty()) req += "Sec-WebSocket-Version: " + version + "\r\n";
  for (const std::string& h : headers) req += h + "\r\n";
  req += "\r\n";
  if (!sock_.Send(req)) return;
  head_ = sock_.ReadHead(milliseconds(10000));
  if (head_.status != 101 && head_.headers.count("content-length")) {
    size_t want = std::stoul(head_.Header("content-length"));
    while (sock_.buffer().size() < want && sock_.ReadMore(milliseconds(5000)) > 0) {
    }
    head_.body = sock_.buffer().substr(0, want);
  }
}

bool WsConn::SendFrame(uint8_t opcode, std::string_view payload, bool fin, bool masked) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  const uint8_t mask_bit = masked ? 0x80 : 0;
  const uint64_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xFFFF) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<char>(n >> s));
  }
  if (!masked) return sock_.Send(f + std::string(payload));
  static thread_local std::mt19937 rng(std::random_device{}());
  char key[4];
  for (char& k : key) k = static_cast<char>(rng());
  f.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    f.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
  return sock_.Send(f);
}

std::optional<WsMessage> WsConn::Next(milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::string& b = sock_.buffer();
    // One whole frame in the buffer?
    if (b.size() >= 2) {
      const auto* u = reinterpret_cast<const unsigned char*>(b.data());
      const bool fin = (u[0] & 0x80) != 0;
      const uint8_t opcode = u[0] & 0x0F;
      uint64_t len = u[1] & 0x7F;
      size_t at = 2;
      bool whole = true;
      if (len == 126) {
        whole = b.size() >= 4;
        if (whole) len = (uint64_t{u[2]} << 8) | u[3];
        at = 4;
      } else if (len == 127) {
        whole = b.size() >= 10;
        if (whole) {
          len = 0;
          for (int i = 0; i < 8; ++i) len = (len << 8) | u[2 + i];
        }
        at = 10;
      }
      if (whole && b.size() >= at + len) {
        std::string payload = b.substr(at, len);
        b.erase(0, at + len);
        if (opcode == 9) {  // Ping
          ++pings_seen;
          if (auto_pong) SendFrame(10, payload);
          return WsMessage{opcode, payload, 0};
        }
        if (opcode >= 8) {
          WsMessage m{opcode, payload, 0};
          if (opcode == 8 && payload.size() >= 2) {
            m.close_code = static_cast<uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                 static_cast<unsigned char>(payload[1]));
          }
          return m;
        }
        if (opcode != 0) partial_opcode_ = opcode;
        partial_ += payload;
        if (fin) {
          WsMessage m{partial_opcode_, std::move(partial_), 0};
          partial_.clear();
          return m;
        }
        continue;
      }
    }
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || sock_.ReadMore(left) <= 0) return std::nullopt;
  }
}

std::string WsConn::NextText(milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    std::optional<WsMessage> m = Next(left);
    if (!m || m->opcode == 8) return "";
    if (m->opcode == 1) return m->payload;
  }
}

std::vector<std::string> WsConn::TextsUntil(const std::string& needle, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::string> out;
  for (;;) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    std::string t = left.count() > 0 ? NextText(left) : "";
    if (t.empty()) return {};
    out.push_back(t);
    if (t.find(needle) != std::string::npos) return out;
  }
}

uint16_t WsConn::WaitClose(milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return 0;
    std::optional<WsMessage> m = Next(left);
    if (!m) return 0;
    if (m->opcode == 8) return m->close_code;
  }
}

}  // namespace eventide::testing
