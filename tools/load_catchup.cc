// eventide-load catchup: how long a subscriber that missed N entries takes
// to receive them all (SPEC section 6, resume; issue 4's comparison).
//
//   1. write N entries as fast as the server takes them (one keep-alive
//      connection, pipelined), remembering the first and last positions;
//   2. connect one SSE subscriber that presents the position before the
//      first (Last-Event-ID) and time it until it has received the Nth,
//      checking that they come contiguous and in order.
//
// With --write-url the entries go to that node (A) and the subscriber reads
// from --url's node (B) of a cluster sharing one log. Between 1 and 2, B's
// GET /healthz is polled until its applied "position" reaches the last
// acknowledged one: that wait (replicate_ms) is replication, reported apart,
// so that the catch-up time is B serving missed entries from its own copy
// of the log, as it would to a client that reconnects after a while.
//
// Against Nchan (--nchan-pub) the messages carry a sequence number and the
// subscriber asks for the whole buffer (Last-Event-ID: 0:0). Blocking
// sockets: one connection at a time, nothing to multiplex.
#include "tools/load_catchup.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace eventide::load {
namespace {

int Connect(const Url& u) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(u.port));
  if (::inet_pton(AF_INET, u.host == "localhost" ? "127.0.0.1" : u.host.c_str(), &a.sin_addr) !=
          1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

bool SendAll(int fd, std::string_view b) {
  while (!b.empty()) {
    ssize_t n = ::send(fd, b.data(), b.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    b.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

uint64_t Digits(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') break;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// Reads whole responses off `fd` until `count` were read; records the
// Event-Position of the first and last. False on a non-2xx or a dead socket.
bool ReadResponses(int fd, size_t count, std::string* buf, uint64_t* first, uint64_t* last) {
  size_t done = 0;
  size_t at = 0;
  char tmp[65536];
  while (done < count) {
    size_t head_end = buf->find("\r\n\r\n", at);
    if (head_end == std::string::npos) {
      buf->erase(0, at);
      at = 0;
      ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
      if (n <= 0) return false;
      buf->append(tmp, static_cast<size_t>(n));
      continue;
    }
    std::string_view head(buf->data() + at, head_end - at);
    if (head.size() < 12 || head[9] != '2') {
      std::fprintf(stderr, "eventide-load catchup: write answered %.*s\n",
                   static_cast<int>(std::min<size_t>(head.find('\r'), head.size())), head.data());
      return false;
    }
    size_t body = 0;
    for (std::string_view name : {"content-length: ", "Content-Length: "}) {
      size_t cl = head.find(name);
      if (cl != std::string_view::npos) body = Digits(head.substr(cl + name.size()));
    }
    size_t ep = head.find("event-position: ");
    if (ep != std::string_view::npos) {
      uint64_t p = Digits(head.substr(ep + 16));
      if (done == 0) *first = p;
      *last = p;
    }
    size_t end = head_end + 4 + body;
    while (buf->size() < end) {
      ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
      if (n <= 0) return false;
      buf->append(tmp, static_cast<size_t>(n));
    }
    at = end;
    ++done;
  }
  buf->erase(0, at);
  return true;
}

// A health answer slower than this counts as no answer (and is asked again).
constexpr int kHealthzTimeoutMs = 5000;
// Between two polls of /healthz: replicate_ms is this coarse.
constexpr useconds_t kHealthzPollUs = 1000;

// The position `u`'s node has applied, from the body of its GET /healthz
// ({"status":"ok","position":N,…}, docs/OPERATIONS.md); false when it cannot
// be reached or does not answer 200 with one.
bool AppliedPosition(const Url& u, uint64_t* position) {
  int fd = Connect(u);
  if (fd < 0) return false;
  timeval tv{kHealthzTimeoutMs / 1000, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: " + u.host + ":" +
                          std::to_string(u.port) + "\r\nConnection: close\r\n\r\n";
  std::string resp;
  size_t head_end = std::string::npos, body_len = 0;
  char tmp[4096];
  bool ok = SendAll(fd, req);
  // Read the head, then Content-Length bytes of body (not to EOF: the answer
  // is complete before the server gets round to closing).
  while (ok && resp.size() < 65536 &&
         (head_end == std::string::npos || resp.size() < head_end + 4 + body_len)) {
    ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
    if (n <= 0) {
      ok = head_end != std::string::npos;  // EOF after a head without a length
      break;
    }
    resp.append(tmp, static_cast<size_t>(n));
    if (head_end == std::string::npos && (head_end = resp.find("\r\n\r\n")) != std::string::npos) {
      for (std::string_view name : {"content-length: ", "Content-Length: "}) {
        size_t cl = resp.find(name);
        if (cl != std::string::npos && cl < head_end)
          body_len = Digits(resp.substr(cl + name.size()));
      }
    }
  }
  ::close(fd);
  if (!ok || resp.size() < 12 || resp.compare(9, 3, "200") != 0) return false;
  static constexpr std::string_view kPosition = "\"position\":";
  size_t at = resp.find(kPosition, head_end);
  if (at == std::string::npos) return false;
  at += kPosition.size();
  if (at >= resp.size() || resp[at] < '0' || resp[at] > '9') return false;
  *position = Digits(std::string_view(resp).substr(at));
  return true;
}

std::string HostPort(const Url& u) { return u.host + ":" + std::to_string(u.port); }

}  // namespace

int RunCatchup(const CatchupOptions& o) {
  const bool nchan = !o.nchan_pub_path.empty();
  // The writer's node (A) and the subscriber's (B): the same without
  // --write-url.
  const Url& write_url = o.write_url ? *o.write_url : o.url;
  const std::string host = HostPort(o.url), write_host = HostPort(write_url);
  std::string path = write_url.path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const std::string content(static_cast<size_t>(o.payload_bytes), 'x');

  // 1. The entries the subscriber will have missed.
  int w = Connect(write_url);
  if (w < 0) {
    std::fprintf(stderr, "eventide-load catchup: cannot connect to %s\n", write_host.c_str());
    return 1;
  }
  const int64_t write_start = NowMicros();
  uint64_t first = 0, last = 0, f = 0, l = 0;
  std::string req, buf;
  constexpr size_t kBatch = 256;
  for (size_t i = 0; i < o.entries;) {
    req.clear();
    size_t batch = std::min(kBatch, o.entries - i);
    for (size_t k = 0; k < batch; ++k, ++i) {
      std::string body = "{\"title\":\"0\",\"content\":\"" + content + "\"" +
                         (nchan ? ",\"seq\":" + std::to_string(i + 1) : "") + "}";
      req += nchan ? "POST " + o.nchan_pub_path : "PUT " + path + "/w" + std::to_string(i % 100);
      req +=
          " HTTP/1.1\r\nHost: " + write_host +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n" + body;
    }
    if (!SendAll(w, req) || !ReadResponses(w, batch, &buf, &f, &l)) {
      std::fprintf(stderr, "eventide-load catchup: writing failed after %zu entries\n", i);
      ::close(w);
      return 1;
    }
    if (first == 0) first = f;
    last = l;
    if (o.write_rate > 0) {  // paced in batches
      const int64_t due =
          write_start + static_cast<int64_t>(static_cast<double>(i) / o.write_rate * 1e6);
      const int64_t now = NowMicros();
      if (due > now) ::usleep(static_cast<useconds_t>(due - now));
    }
  }
  ::close(w);
  const double write_seconds = static_cast<double>(NowMicros() - write_start) / 1e6;
  if (nchan) {
    first = 1;
    last = o.entries;
  }

  // 1b. Node B has them all (it applies in position order, so reaching the
  // last means every one): otherwise the subscriber would also be timing
  // replication, and might wait for entries B has not yet received.
  double replicate_ms = -1;
  if (o.write_url) {
    const int64_t wait_start = NowMicros();
    uint64_t applied = 0;
    bool answered = false;
    for (;;) {
      uint64_t p = 0;
      if (AppliedPosition(o.url, &p)) {
        answered = true;
        applied = p;
        if (applied >= last) break;
      }
      if (NowMicros() - wait_start > o.replicate_timeout_us) {
        if (answered) {
          std::fprintf(stderr,
                       "eventide-load catchup: %s applied position %llu, not %llu, within "
                       "--replicate-timeout\n",
                       host.c_str(), static_cast<unsigned long long>(applied),
                       static_cast<unsigned long long>(last));
        } else {
          std::fprintf(stderr,
                       "eventide-load catchup: %s/healthz gave no position within "
                       "--replicate-timeout\n",
                       host.c_str());
        }
        return 1;
      }
      ::usleep(kHealthzPollUs);
    }
    replicate_ms = static_cast<double>(NowMicros() - wait_start) / 1e3;
  }

  if (o.read_after_us > 0) ::usleep(static_cast<useconds_t>(o.read_after_us));

  // 2. The subscriber that missed them.
  int s = Connect(o.url);
  if (s < 0) {
    std::fprintf(stderr, "eventide-load catchup: cannot connect to %s\n", host.c_str());
    return 1;
  }
  const std::string resume_from = nchan ? "0:0" : std::to_string(first - 1);
  const int64_t start = NowMicros();
  if (!SendAll(s, "GET " + o.url.path + " HTTP/1.1\r\nHost: " + host +
                      "\r\nAccept: text/event-stream\r\nLast-Event-ID: " + resume_from +
                      "\r\n\r\n")) {
    return 1;
  }
  uint64_t expect = first, received = 0, out_of_order = 0;
  int64_t first_event_us = 0;
  std::string line_buf;
  char tmp[1 << 16];
  bool head_done = false;
  while (expect <= last) {
    ssize_t n = ::recv(s, tmp, sizeof(tmp), 0);
    if (n <= 0) break;
    line_buf.append(tmp, static_cast<size_t>(n));
    size_t at = 0;
    if (!head_done) {
      size_t e = line_buf.find("\r\n\r\n");
      if (e == std::string::npos) continue;
      head_done = true;
      at = e + 4;
    }
    for (;;) {
      size_t nl = line_buf.find('\n', at);
      if (nl == std::string::npos) break;
      std::string_view line(line_buf.data() + at, nl - at);
      at = nl + 1;
      uint64_t pos = 0;
      bool event = false;
      if (!nchan && line.substr(0, 4) == "id: ") {
        pos = Digits(line.substr(4));
        event = true;
      } else if (nchan && line.substr(0, 6) == "data: ") {
        size_t k = line.rfind("\"seq\":");
        if (k != std::string_view::npos) {
          pos = Digits(line.substr(k + 6));
          event = true;
        }
      }
      if (!event) continue;
      if (received == 0) first_event_us = NowMicros();
      ++received;
      if (pos != expect) ++out_of_order;
      expect = pos + 1;
    }
    line_buf.erase(0, at);
  }
  const int64_t end = NowMicros();
  ::close(s);
  const double seconds = static_cast<double>(end - start) / 1e6;
  const double first_ms = first_event_us ? static_cast<double>(first_event_us - start) / 1e3 : -1;
  const bool ok = received == o.entries && out_of_order == 0;
  if (o.json) {
    // The keys of a two-node run come after the usual ones, which stay as
    // they were.
    char extra[512] = "";
    if (o.write_url) {
      std::snprintf(extra, sizeof(extra),
                    ",\"write_node\":\"%s\",\"read_node\":\"%s\",\"last_position\":%llu,"
                    "\"replicate_ms\":%.3f",
                    write_host.c_str(), host.c_str(), static_cast<unsigned long long>(last),
                    replicate_ms);
    }
    std::printf(
        "{\"mode\":\"catchup\",\"server\":\"%s\",\"entries\":%zu,\"write_seconds\":%.3f,"
        "\"received\":%llu,\"out_of_order\":%llu,\"first_event_ms\":%.3f,\"seconds\":%.3f,"
        "\"entries_per_second\":%.0f,\"read_after_ms\":%.0f%s}\n",
        nchan ? "nchan" : "eventide", o.entries, write_seconds,
        static_cast<unsigned long long>(received), static_cast<unsigned long long>(out_of_order),
        first_ms, seconds, static_cast<double>(received) / seconds,
        static_cast<double>(o.read_after_us) / 1e3, extra);
  } else {
    if (o.write_url) {
      std::printf(
          "wrote %zu entries to %s in %.3f s; %s applied them (position %llu) %.1f ms "
          "after the last answer\n",
          o.entries, write_host.c_str(), write_seconds, host.c_str(),
          static_cast<unsigned long long>(last), replicate_ms);
      std::printf(
          "a subscriber on %s resuming before them received %llu in %.3f s (first after %.1f "
          "ms, %.0f entries/s), %llu out of order\n",
          host.c_str(), static_cast<unsigned long long>(received), seconds, first_ms,
          static_cast<double>(received) / seconds, static_cast<unsigned long long>(out_of_order));
    } else {
      std::printf(
          "wrote %zu entries in %.3f s; a subscriber resuming before them received %llu in "
          "%.3f s (first after %.1f ms, %.0f entries/s), %llu out of order\n",
          o.entries, write_seconds, static_cast<unsigned long long>(received), seconds, first_ms,
          static_cast<double>(received) / seconds, static_cast<unsigned long long>(out_of_order));
    }
  }
  return ok ? 0 : 1;
}

}  // namespace eventide::load
