// The fanout and idle modes of eventide-load: see load_stream.h and
// docs/LOAD.md.
//
// Subscriber i connects to --url number i % n; the writer to --write-url.
// Each URL is resolved once, at the start (an Endpoint).
//
// One loop, one timer (1 ms) driving the phases:
//
//   connecting ──all subscribers ready or failed──> writing (warm-up, then
//   the measured window) ──> draining ──every acked position received, or
//   the grace period over──> done           (idle: connecting → holding → done)
//
// Subscribers parse in place: bytes that end mid-line or mid-frame wait in
// the connection's own buffer, whose capacity is kept, so a delivery costs
// no allocation. Latencies go into a fixed histogram.
//
// Deliveries are checked by tools/delivery_check.h.
#include "tools/load_stream.h"

#include <netdb.h>
#include <openssl/rand.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "src/auth/jwt_mint.h"
#include "tools/load_h2.h"
#include "tools/load_stream_run.h"

namespace eventide::load {
namespace {

// In-flight PUTs still unanswered this long after the writing stopped are
// given up (counted as write errors) so the run always ends.
constexpr int64_t kAckTimeoutUs = 5'000'000;

std::string UrlText(const Url& u) {
  return "http://" + u.host + ":" + std::to_string(u.port) + u.path;
}

// s as a JSON string, quotes included.
std::string JsonQuoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof(esc), "\\u%04x", static_cast<unsigned>(c));
      out += esc;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

int64_t ReadRssBytes(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (StartsWith(line, "VmRSS:")) return std::atoll(line.c_str() + 6) * 1024;
  }
  return -1;
}

// utime + stime of the process (all its threads), in clock ticks, from
// /proc/PID/stat; -1 when it cannot be read.
int64_t ReadCpuTicks(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // The name (field 2) is in parentheses and may hold spaces: count after it.
  size_t at = stat.rfind(')');
  if (at == std::string::npos) return -1;
  long long utime = 0, stime = 0;
  // Fields 3 … 13, then utime (14) and stime (15).
  if (std::sscanf(stat.c_str() + at + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld",
                  &utime, &stime) != 2) {
    return -1;
  }
  return utime + stime;
}

}  // namespace

// ---- StreamRun -----------------------------------------------------------

bool StreamRun::Resolve(const Url& u, Endpoint* ep) {
  struct addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = nullptr;
  int rc = getaddrinfo(u.host.c_str(), std::to_string(u.port).c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    std::fprintf(stderr, "eventide-load: cannot resolve %s: %s\n", u.host.c_str(),
                 gai_strerror(rc));
    return false;
  }
  ep->url = u;
  std::memcpy(&ep->addr, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  ep->sse_request = "GET " + u.path + " HTTP/1.1\r\nHost: " + u.host + ":" +
                    std::to_string(u.port) + "\r\nAccept: text/event-stream\r\n\r\n";
  return true;
}

// "http://a:1/p", or "http://a:1/p, http://b:2/p" for several --url.
std::string StreamRun::UrlsText() const {
  std::string s;
  for (const Endpoint& ep : endpoints_) s += (s.empty() ? "" : ", ") + UrlText(ep.url);
  return s;
}

// Where the writer sends: --write-url, or Nchan's publisher location.
std::string StreamRun::WriterText() const {
  Url u = writer_ep_.url;
  if (!o_.nchan_pub_path.empty()) u.path = o_.nchan_pub_path;
  return UrlText(u);
}

int StreamRun::Run() {
  bool tls = o_.write_url.tls && fanout_;
  for (const Url& u : o_.urls) tls = tls || u.tls;
  if (o_.urls.empty() || tls) {
    std::fprintf(stderr, "eventide-load: fanout and idle speak http:// only\n");
    return 2;
  }
  if (o_.http2 && (o_.protocol != StreamProtocol::kSse || o_.nchan)) {
    // WebSocket over HTTP/2 needs extended CONNECT (RFC 8441), which the
    // server does not offer; Nchan runs are for the HTTP/1.1 comparison.
    std::fprintf(stderr, "eventide-load: --http2 carries SSE subscribers to Eventide only\n");
    return 2;
  }
  if (!o_.nchan_pub_path.empty() && o_.writer_connections != 1) {
    std::fprintf(stderr,
                 "eventide-load: --nchan-pub needs --writers 1 (the sequence is the order)\n");
    return 2;
  }
  endpoints_.resize(o_.urls.size());
  for (size_t i = 0; i < o_.urls.size(); ++i) {
    if (!Resolve(o_.urls[i], &endpoints_[i])) return 2;
  }
  if (fanout_ && !Resolve(o_.write_url, &writer_ep_)) return 2;
  uv_loop_init(&loop_);
  RAND_bytes(reinterpret_cast<unsigned char*>(&rng_), sizeof(rng_));
  rng_ |= 1;  // xorshift must not start at 0
  const Url& wu = o_.write_url;
  const std::string host = wu.host + ":" + std::to_string(wu.port);
  std::string path = wu.path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  // A PUT is put_prefix_, the id's number, put_headers_, the body's length
  // and the body (WriterConn::Issue).
  put_prefix_ = o_.nchan_pub_path.empty() ? "PUT " + path + "/w" : "POST " + o_.nchan_pub_path;
  content_.assign(static_cast<size_t>(o_.payload_bytes), 'x');
  put_headers_ =
      " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: ";
  llhttp_settings_init(&writer_settings_);
  writer_settings_.on_header_field = [](llhttp_t* p, const char* at, size_t len) {
    static_cast<WriterConn*>(p->data)->field_.append(at, len);
    return 0;
  };
  writer_settings_.on_header_value = [](llhttp_t* p, const char* at, size_t len) {
    static_cast<WriterConn*>(p->data)->value_.append(at, len);
    return 0;
  };
  writer_settings_.on_header_value_complete = [](llhttp_t* p) {
    auto* w = static_cast<WriterConn*>(p->data);
    if (w->field_.size() == 14 && strncasecmp(w->field_.c_str(), "event-position", 14) == 0) {
      w->has_position_ = ParseU64(w->value_, &w->position_);
    }
    w->field_.clear();
    w->value_.clear();
    return 0;
  };
  writer_settings_.on_message_complete = [](llhttp_t* p) {
    static_cast<WriterConn*>(p->data)->message_done_ = true;
    return static_cast<int>(HPE_PAUSED);
  };

  if (o_.server_pid > 0) rss_before_ = ReadRssBytes(o_.server_pid);
  connect_start_us_ = NowMicros();
  if (fanout_) {
    const int per_conn = (o_.max_in_flight + o_.writer_connections - 1) / o_.writer_connections;
    for (int i = 0; i < o_.writer_connections; ++i) {
      writers_.push_back(std::make_unique<WriterConn>(this, i, per_conn));
      writers_.back()->Connect();
    }
    acked_.reserve(static_cast<size_t>(
                       o_.rate * static_cast<double>(o_.warmup_us + o_.duration_us) / 1e6 * 1.1) +
                   1024);
  }
  if (o_.http2) {
    // --h2-connections to each --url, endpoint e's first.
    for (const Endpoint& ep : endpoints_) {
      for (int k = 0; k < o_.h2_connections; ++k) {
        h2_conns_.push_back(std::make_unique<H2ClientConn>(this, &ep));
      }
    }
  }
  conns_.reserve(static_cast<size_t>(o_.connections));
  const size_t n_urls = endpoints_.size();
  for (int i = 0; i < o_.connections; ++i) {
    // Round-robin over the --url values: with n nodes, node k serves
    // subscribers k, k+n, …, so each takes an equal share (±1). With
    // --http2, round-robin again over that node's connections.
    const size_t e = static_cast<size_t>(i) % n_urls;
    H2ClientConn* h2 = nullptr;
    if (o_.http2) {
      const size_t k = (static_cast<size_t>(i) / n_urls) % static_cast<size_t>(o_.h2_connections);
      h2 = h2_conns_[e * static_cast<size_t>(o_.h2_connections) + k].get();
      h2->Plan();
    }
    conns_.push_back(std::make_unique<StreamConn>(this, &endpoints_[e], h2));
    conns_.back()->nchan_ = o_.nchan;
    if (!o_.jwt_secret.empty()) {
      conns_.back()->auth_header_ =
          "Authorization: Bearer " +
          auth::MintHs256(o_.jwt_secret, R"({"sub":"user-)" + std::to_string(i) + R"("})") + "\r\n";
    }
  }
  StartConnects();

  uv_timer_init(&loop_, &timer_);
  timer_.data = this;
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<StreamRun*>(t->data)->Tick(); }, 1, 1);
  uv_signal_init(&loop_, &sigint_);
  sigint_.data = this;
  uv_signal_start(
      &sigint_, [](uv_signal_t* s, int) { static_cast<StreamRun*>(s->data)->Finish(); }, SIGINT);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
  return Report();
}

void StreamRun::StartConnects() {
  // Connect() may fail at once and call back here: the outer call goes on.
  if (starting_connects_) return;
  starting_connects_ = true;
  while (!no_more_connects_ && connecting_ < o_.connect_concurrency &&
         next_to_connect_ < conns_.size()) {
    ++connecting_;
    conns_[next_to_connect_++]->Connect();
  }
  starting_connects_ = false;
}

void StreamRun::OnReady(StreamConn* c) {
  c->ready_ = true;
  --connecting_;
  ++resolved_;
  ++ready_count_;
  StartConnects();
}

void StreamRun::OnConnFailed(StreamConn* c, bool was_ready, const char* why) {
  if (phase_ == Phase::kDone) return;
  ++errors_[why];
  if (!was_ready) {
    --connecting_;
    ++resolved_;
    ++connect_failures_;
    StartConnects();
  } else {
    ++disconnects_;
  }
}

void StreamRun::OnAck(int status, bool has_position, uint64_t position, int64_t sent_us) {
  --in_flight_;
  const int64_t now = NowMicros();
  if (status < 200 || status > 299 || !has_position) {
    ++write_errors_;
    ++errors_[has_position ? "status_" + std::to_string(status) : "no_position"];
    return;
  }
  ++acked_total_;
  acked_.push_back(position);
  max_acked_ = std::max(max_acked_, position);
  if (now >= measure_start_us_ && now < measure_end_us_) ++acked_measured_;
  if (sent_us >= measure_start_us_ && sent_us < measure_end_us_) ack_latency_.Record(now - sent_us);
  Pace(now);  // a freed slot may let a late write go
}

void StreamRun::OnWriterFailed(WriterConn* w, const char* why) {
  if (phase_ == Phase::kDone) return;
  ++errors_[std::string("writer_") + why];
  // Its unanswered PUTs will never be acknowledged.
  write_errors_ += w->in_flight_;
  in_flight_ -= static_cast<int>(w->in_flight_);
  w->in_flight_ = 0;
}

void StreamRun::Tick() {
  const int64_t now = NowMicros();
  switch (phase_) {
    case Phase::kConnecting:
      if (now - connect_start_us_ > o_.connect_timeout_us && !no_more_connects_) {
        no_more_connects_ = true;
        size_t never = conns_.size() - next_to_connect_;
        connect_failures_ += never;
        resolved_ += never;
        if (never) errors_["connect_timeout"] += never;
        for (auto& c : conns_) {
          if (!c->ready() && (c->state() == StreamConn::State::kConnecting ||
                              c->state() == StreamConn::State::kHandshake ||
                              c->state() == StreamConn::State::kOpen)) {
            c->Fail("connect_timeout");
          }
        }
      }
      if (resolved_ == conns_.size()) AllConnected(now);
      break;
    case Phase::kWriting:
      if (o_.server_pid > 0 && cpu_start_ticks_ < 0 && now >= measure_start_us_) {
        cpu_start_ticks_ = ReadCpuTicks(o_.server_pid);
      }
      if (now >= measure_end_us_) {
        if (o_.server_pid > 0) cpu_end_ticks_ = ReadCpuTicks(o_.server_pid);
        phase_ = Phase::kDraining;
        drain_start_us_ = now;
      } else {
        Pace(now);
      }
      break;
    case Phase::kDraining: {
      if (in_flight_ > 0 && now - drain_start_us_ > kAckTimeoutUs) {
        errors_["ack_timeout"] += static_cast<uint64_t>(in_flight_);
        write_errors_ += static_cast<uint64_t>(in_flight_);
        for (auto& w : writers_) w->Close();  // late answers must not count
        in_flight_ = 0;
      }
      if (in_flight_ > 0) break;
      if (acks_done_us_ == 0) acks_done_us_ = now;
      if (now - acks_done_us_ > o_.drain_us) {
        Finish();
        break;
      }
      if (now - last_check_us_ < 10'000) break;  // scanning 10,000 conns: not every ms
      last_check_us_ = now;
      bool all = true;
      for (auto& c : conns_) {
        if (c->live() && c->check().last() < max_acked_) {
          all = false;
          break;
        }
      }
      if (all) Finish();
      break;
    }
    case Phase::kHolding:
      if (now >= hold_end_us_) Finish();
      break;
    case Phase::kDone:
      break;
  }
}

void StreamRun::AllConnected(int64_t now) {
  connected_us_ = now;
  if (o_.server_pid > 0) rss_connected_ = ReadRssBytes(o_.server_pid);
  if (!fanout_) {
    phase_ = Phase::kHolding;
    hold_end_us_ = now + o_.hold_us;
    return;
  }
  if (ready_count_ == 0) {  // nobody to write for
    Finish();
    return;
  }
  phase_ = Phase::kWriting;
  write_start_us_ = now;
  measure_start_us_ = now + o_.warmup_us;
  measure_end_us_ = measure_start_us_ + o_.duration_us;
  Pace(now);
}

void StreamRun::Pace(int64_t now) {
  if (phase_ != Phase::kWriting || writers_.empty()) return;
  // Writes due so far on the schedule (the first at once); a backlog from a
  // full window is sent as slots free up.
  const uint64_t due =
      static_cast<uint64_t>(static_cast<double>(now - write_start_us_) * o_.rate / 1e6) + 1;
  const int per_conn = static_cast<int>(writers_[0]->sent_at_.size());
  bool any = false;
  while (issued_ < due && in_flight_ < o_.max_in_flight) {
    WriterConn* w = nullptr;
    for (size_t i = 0; i < writers_.size() && w == nullptr; ++i) {
      WriterConn* cand = writers_[(next_writer_ + i) % writers_.size()].get();
      if (cand->connected() && cand->in_flight() < per_conn) w = cand;
    }
    if (w == nullptr) break;
    next_writer_ = (static_cast<size_t>(w->index_) + 1) % writers_.size();
    w->Issue(++issued_);
    ++in_flight_;
    any = true;
  }
  if (any) {
    for (auto& w : writers_) w->Flush();
  }
  // A writer connection that dropped is reopened while writing goes on.
  for (auto& w : writers_) {
    if (w->closed()) w->Connect();
  }
}

void StreamRun::Finish() {
  if (phase_ == Phase::kDone) return;
  end_us_ = NowMicros();
  if (o_.server_pid > 0) rss_end_ = ReadRssBytes(o_.server_pid);
  phase_ = Phase::kDone;
  // HTTP/2 connections first: their subscribers then close without a
  // RST_STREAM each.
  for (auto& h : h2_conns_) h->Close();
  for (auto& c : conns_) c->Close();
  for (auto& w : writers_) w->Close();
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
}

int StreamRun::Report() {
  const char* proto = o_.protocol == StreamProtocol::kSse ? "sse" : "ws";
  const double connect_s =
      connected_us_ ? static_cast<double>(connected_us_ - connect_start_us_) / 1e6 : 0;
  std::string errs;
  for (auto& [kind, n] : errors_) {
    errs += (errs.empty() ? "\"" : ",\"") + kind + "\":" + std::to_string(n);
  }
  // "h1", or "h2" and its connections: "h2 (10 connections)" in the text.
  const char* transport = o_.http2 ? "h2" : "h1";
  const int h2_conns = o_.http2 ? static_cast<int>(h2_conns_.size()) : 0;
  std::string over;
  if (o_.http2) over = " over h2 (" + std::to_string(h2_conns) + " connections)";
  char buf[1024];
  if (!fanout_) {
    const int64_t per_conn =
        rss_before_ >= 0 && rss_connected_ >= 0 && ready_count_ > 0
            ? (rss_connected_ - rss_before_) / static_cast<int64_t>(ready_count_)
            : -1;
    const double held_s = hold_end_us_ ? static_cast<double>(end_us_ - connected_us_) / 1e6 : 0;
    if (o_.json) {
      std::snprintf(buf, sizeof(buf),
                    "{\"mode\":\"idle\",\"protocol\":\"%s\",\"transport\":\"%s\","
                    "\"h2_connections\":%d,\"connections\":%d,\"connected\":%zu,"
                    "\"connect_failures\":%llu,\"connect_seconds\":%.3f,\"hold_seconds\":%.3f,"
                    "\"disconnects\":%llu,\"server_pid\":%d,\"rss_before_bytes\":%lld,"
                    "\"rss_connected_bytes\":%lld,\"rss_end_bytes\":%lld,"
                    "\"rss_per_connection_bytes\":%lld,\"errors\":{%s}}",
                    proto, transport, h2_conns, o_.connections, ready_count_,
                    static_cast<unsigned long long>(connect_failures_), connect_s, held_s,
                    static_cast<unsigned long long>(disconnects_), static_cast<int>(o_.server_pid),
                    static_cast<long long>(rss_before_), static_cast<long long>(rss_connected_),
                    static_cast<long long>(rss_end_), static_cast<long long>(per_conn),
                    errs.c_str());
      std::printf("%s\n", buf);
    } else {
      std::printf("idle %s%s %s: %zu of %d connected in %.3f s, held %.1f s\n", proto, over.c_str(),
                  UrlsText().c_str(), ready_count_, o_.connections, connect_s, held_s);
      std::printf("  connect failures %llu, disconnects %llu\n",
                  static_cast<unsigned long long>(connect_failures_),
                  static_cast<unsigned long long>(disconnects_));
      if (o_.server_pid > 0) {
        std::printf(
            "  server RSS: %lld before, %lld connected, %lld at the end: %lld bytes per "
            "connection\n",
            static_cast<long long>(rss_before_), static_cast<long long>(rss_connected_),
            static_cast<long long>(rss_end_), static_cast<long long>(per_conn));
      }
      for (auto& [kind, n] : errors_) {
        std::printf("  error %s: %llu\n", kind.c_str(), static_cast<unsigned long long>(n));
      }
    }
    return connect_failures_ || disconnects_ ? 1 : 0;
  }

  std::sort(acked_.begin(), acked_.end());
  uint64_t missing = 0, dups = 0, ooo = 0, subs_missing = 0, subs_dups = 0, subs_ooo = 0;
  for (auto& c : conns_) {
    if (!c->ready()) continue;  // a connect failure, counted as such
    const DeliveryCheck& check = c->check();
    uint64_t m = check.Missing(acked_);
    missing += m;
    dups += check.duplicates();
    ooo += check.out_of_order();
    subs_missing += m > 0;
    subs_dups += check.duplicates() > 0;
    subs_ooo += check.out_of_order() > 0;
  }
  int64_t window_end = std::min(end_us_, measure_end_us_);
  double secs = measure_start_us_ != INT64_MAX && window_end > measure_start_us_
                    ? static_cast<double>(window_end - measure_start_us_) / 1e6
                    : 0;
  double write_rate = secs > 0 ? static_cast<double>(acked_measured_) / secs : 0;
  double delivery_rate = secs > 0 ? static_cast<double>(measured_deliveries_) / secs : 0;
  const uint64_t expected = acked_total_ * ready_count_;
  // --server-pid: memory per subscriber (a connection each over HTTP/1.1, a
  // stream each over HTTP/2) and CPU per delivery in the window, the
  // writes' own cost included (one PUT per N deliveries at N subscribers).
  const int64_t rss_per_sub =
      rss_before_ >= 0 && rss_connected_ >= 0 && ready_count_ > 0
          ? (rss_connected_ - rss_before_) / static_cast<int64_t>(ready_count_)
          : -1;
  double cpu_s = -1, cpu_us_per_delivery = -1;
  if (cpu_start_ticks_ >= 0 && cpu_end_ticks_ >= 0) {
    cpu_s = static_cast<double>(cpu_end_ticks_ - cpu_start_ticks_) /
            static_cast<double>(sysconf(_SC_CLK_TCK));
    if (measured_deliveries_ > 0) {
      cpu_us_per_delivery = cpu_s * 1e6 / static_cast<double>(measured_deliveries_);
    }
  }
  if (o_.json) {
    // "urls":[…],"write_url":"…", — what the run measured between.
    std::string urls_json = "\"urls\":[";
    for (size_t i = 0; i < endpoints_.size(); ++i) {
      urls_json += (i ? "," : "") + JsonQuoted(UrlText(endpoints_[i].url));
    }
    urls_json += "],\"write_url\":" + JsonQuoted(WriterText()) + ",";
    std::string s;
    // The URLs may be long: %s of urls_json must not be cut off.
    std::vector<char> head(urls_json.size() + 1024);
    std::snprintf(
        head.data(), head.size(),
        "{\"mode\":\"fanout\",\"protocol\":\"%s\",\"transport\":\"%s\",\"h2_connections\":%d,"
        "\"subscribers\":%d,\"connected\":%zu,"
        "%s\"connect_failures\":%llu,\"connect_seconds\":%.3f,\"target_rate\":%.1f,"
        "\"seconds\":%.3f,\"writes_sent\":%llu,\"acked_writes\":%llu,\"write_errors\":%llu,"
        "\"write_rate\":%.1f,\"deliveries\":%llu,\"expected_deliveries\":%llu,"
        "\"deliveries_per_second\":%.1f,",
        proto, transport, h2_conns, o_.connections, ready_count_, urls_json.c_str(),
        static_cast<unsigned long long>(connect_failures_), connect_s, o_.rate, secs,
        static_cast<unsigned long long>(issued_), static_cast<unsigned long long>(acked_total_),
        static_cast<unsigned long long>(write_errors_), write_rate,
        static_cast<unsigned long long>(deliveries_), static_cast<unsigned long long>(expected),
        delivery_rate);
    s = head.data();
    s += "\"latency_ms\":" + latency_.Json() + ",\"ack_latency_ms\":" + ack_latency_.Json();
    std::snprintf(
        buf, sizeof(buf),
        ",\"missing\":%llu,\"duplicates\":%llu,\"out_of_order\":%llu,"
        "\"subscribers_missing\":%llu,\"subscribers_duplicates\":%llu,"
        "\"subscribers_out_of_order\":%llu,\"disconnects\":%llu,\"server_pid\":%d,"
        "\"rss_before_bytes\":%lld,\"rss_connected_bytes\":%lld,"
        "\"rss_per_subscriber_bytes\":%lld,\"server_cpu_seconds\":%.3f,"
        "\"server_cpu_us_per_delivery\":%.4f,\"errors\":{",
        static_cast<unsigned long long>(missing), static_cast<unsigned long long>(dups),
        static_cast<unsigned long long>(ooo), static_cast<unsigned long long>(subs_missing),
        static_cast<unsigned long long>(subs_dups), static_cast<unsigned long long>(subs_ooo),
        static_cast<unsigned long long>(disconnects_), static_cast<int>(o_.server_pid),
        static_cast<long long>(rss_before_), static_cast<long long>(rss_connected_),
        static_cast<long long>(rss_per_sub), cpu_s, cpu_us_per_delivery);
    s += buf + errs + "}}";
    std::printf("%s\n", s.c_str());
  } else {
    std::printf("fanout %s%s %s: %zu of %d subscribers connected in %.3f s\n", proto, over.c_str(),
                UrlsText().c_str(), ready_count_, o_.connections, connect_s);
    if (endpoints_.size() > 1 || WriterText() != UrlText(endpoints_[0].url)) {
      std::printf("  writer: %s\n", WriterText().c_str());
    }
    std::printf(
        "  writes: target %.1f/s, achieved %.1f/s over %.2f s; %llu sent, %llu acked, "
        "%llu errors\n",
        o_.rate, write_rate, secs, static_cast<unsigned long long>(issued_),
        static_cast<unsigned long long>(acked_total_),
        static_cast<unsigned long long>(write_errors_));
    std::printf("  ack latency ms: %s\n", ack_latency_.Text().c_str());
    std::printf("  deliveries: %llu (expected %llu), %.0f/s\n",
                static_cast<unsigned long long>(deliveries_),
                static_cast<unsigned long long>(expected), delivery_rate);
    std::printf("  end-to-end latency ms: %s\n", latency_.Text().c_str());
    std::printf(
        "  missing %llu (%llu subscribers), duplicates %llu (%llu), out of order %llu "
        "(%llu)\n",
        static_cast<unsigned long long>(missing), static_cast<unsigned long long>(subs_missing),
        static_cast<unsigned long long>(dups), static_cast<unsigned long long>(subs_dups),
        static_cast<unsigned long long>(ooo), static_cast<unsigned long long>(subs_ooo));
    std::printf("  connect failures %llu, disconnects %llu\n",
                static_cast<unsigned long long>(connect_failures_),
                static_cast<unsigned long long>(disconnects_));
    if (o_.server_pid > 0) {
      std::printf("  server: RSS %lld before, %lld connected: %lld bytes per subscriber\n",
                  static_cast<long long>(rss_before_), static_cast<long long>(rss_connected_),
                  static_cast<long long>(rss_per_sub));
      std::printf("  server CPU in the window: %.3f s, %.4f us per delivery\n", cpu_s,
                  cpu_us_per_delivery);
    }
    for (auto& [kind, n] : errors_) {
      std::printf("  error %s: %llu\n", kind.c_str(), static_cast<unsigned long long>(n));
    }
  }
  bool fault = connect_failures_ || disconnects_ || missing || dups || ooo || write_errors_ ||
               (o_.rate > 0 && acked_total_ == 0);
  return fault ? 1 : 0;
}

int RunFanout(const StreamOptions& o) {
  StreamRun run(o, true);
  return run.Run();
}

int RunIdle(const StreamOptions& o) {
  StreamRun run(o, false);
  return run.Run();
}

}  // namespace eventide::load
