// eventide-load: a load generator for Eventide (SPEC section 11, docs/LOAD.md).
//
//   eventide-load rest --url https://127.0.0.1:9996/realtime-demo/message
//       --connections 16 --pipeline 1 --duration 10s
//       --body '{"title":"t{seq}","content":"c"}' [--json]
//   eventide-load fanout --url http://127.0.0.1:9996/realtime-demo/message
//       [--url http://127.0.0.1:9997/realtime-demo/message …]
//       [--write-url http://127.0.0.1:9998/realtime-demo/message]
//       --subscribers 1000 --protocol sse|ws --rate 500 --duration 10s [--json]
//   eventide-load idle --url http://127.0.0.1:9996/realtime-demo/message
//       --connections 10000 --protocol sse|ws --hold 10s --server-pid PID [--json]
//   (fanout and idle: --http2 [--h2-connections K] carries SSE subscribers as
//   HTTP/2 streams, K connections to each --url)
//   eventide-load catchup --url http://127.0.0.1:9996/realtime-demo/message
//       [--write-url http://127.0.0.1:9997/realtime-demo/message]
//       --entries 100000 [--json]
//
// REST mode (this file): C keep-alive connections on one libuv loop, each
// keeping up to P requests in flight (pipelined), bodies rendered from a
// template ({seq}, {conn}, {time_us}); reports throughput, a status
// histogram, errors and latency percentiles.
//
// Fan-out mode (load_stream.cc): N SSE or WebSocket subscribers, spread
// round-robin over the --url values (nodes of one cluster), all connected
// before a paced writer PUTs records whose title is their send time, to
// --write-url or the first --url; reports the achieved write rate,
// deliveries per second, end-to-end latency percentiles and, per
// subscriber, acknowledged positions missing, duplicated or out of order
// (exit code 1 if any, or a connect failure).
//
// Idle mode (load_stream.cc): N stream connections held open (WebSocket
// Pings answered); connect time and the server's RSS per connection.
//
// Catch-up mode (load_catchup.cc): N entries written (to --write-url, another
// node, if given), then one SSE subscriber resuming from before them timed
// until it has them all.
//
// Every mode runs on one libuv loop in one thread, raises the descriptor
// limit to the hard limit, takes --cpu to pin itself to a core, and with
// --json prints one summary line (keys in docs/LOAD.md).
#include <arpa/inet.h>
#include <llhttp.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sched.h>
#include <uv.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tools/load_catchup.h"
#include "tools/load_common.h"
#include "tools/load_stream.h"

namespace eventide {
namespace {

using load::NowMicros;
using load::ParseDurationUs;
using load::ParseUrl;
using load::Url;

// A body template split at its placeholders, rendered per request into a
// reused buffer (no allocation in the steady state).
class BodyTemplate {
 public:
  explicit BodyTemplate(const std::string& t) {
    size_t i = 0;
    while (i < t.size()) {
      size_t open = t.find('{', i);
      if (open == std::string::npos) break;
      for (auto [name, kind] :
           {std::pair<const char*, Kind>{"{seq}", kSeq}, {"{conn}", kConn}, {"{time_us}", kTime}}) {
        if (t.compare(open, std::strlen(name), name) == 0) {
          parts_.push_back({kText, t.substr(i, open - i)});
          parts_.push_back({kind, ""});
          i = open + std::strlen(name);
          goto next;
        }
      }
      parts_.push_back({kText, t.substr(i, open + 1 - i)});
      i = open + 1;
    next:;
    }
    parts_.push_back({kText, t.substr(std::min(i, t.size()))});
  }
  void Render(uint64_t seq, int conn, std::string* out) const {
    out->clear();
    for (const Part& p : parts_) {
      switch (p.kind) {
        case kText:
          out->append(p.text);
          break;
        case kSeq:
          out->append(std::to_string(seq));
          break;
        case kConn:
          out->append(std::to_string(conn));
          break;
        case kTime:
          out->append(std::to_string(NowMicros()));
          break;
      }
    }
  }

 private:
  enum Kind { kText, kSeq, kConn, kTime };
  struct Part {
    Kind kind;
    std::string text;
  };
  std::vector<Part> parts_;
};

struct Options {
  Url url;
  std::string method = "POST";
  int connections = 16;
  int pipeline = 1;
  int64_t duration_us = 10'000'000;
  uint64_t requests = 0;  // 0: run for duration
  std::string body = R"({"title":"load {seq}","content":"from connection {conn}"})";
  std::vector<std::string> headers;
  std::string cacert;
  bool json = false;
};

struct Stats {
  uint64_t completed = 0;
  uint64_t bytes_in = 0;
  std::map<int, uint64_t> statuses;
  std::map<std::string, uint64_t> errors;
  std::vector<uint32_t> latencies_us;
};

class Load;

class Conn {
 public:
  Conn(Load* load, int index) : load_(load), index_(index) {}
  void Connect();
  void OnConnected(int status);
  void OnRead(ssize_t n, const uv_buf_t* buf);
  void Pump();
  void Fail(const std::string& kind);
  void Close();

  Load* load_;
  int index_;
  uv_tcp_t tcp_;
  uv_connect_t connect_req_;
  llhttp_t parser_;
  SSL* ssl_ = nullptr;
  BIO* bio_in_ = nullptr;
  BIO* bio_out_ = nullptr;
  bool connected_ = false;
  bool closing_ = false;
  bool closed_ = true;  // the handle is closed (or never opened): may Connect
  bool writing_ = false;
  std::deque<int64_t> sent_at_;  // send time of each in-flight request
  std::string out_;              // queued bytes (ciphertext under TLS)
  std::string writing_buf_;
  std::string body_;
  int status_ = 0;
  bool message_done_ = false;
};

class Load {
 public:
  explicit Load(Options o) : o_(std::move(o)), body_(o_.body) {}

  int Run() {
    uv_loop_init(&loop_);
    if (!Resolve()) return 2;
    if (o_.url.tls && !InitTls()) return 2;
    llhttp_settings_init(&settings_);
    settings_.on_status = nullptr;
    settings_.on_headers_complete = [](llhttp_t* p) {
      static_cast<Conn*>(p->data)->status_ = p->status_code;
      return 0;
    };
    settings_.on_message_complete = [](llhttp_t* p) {
      static_cast<Conn*>(p->data)->message_done_ = true;
      return static_cast<int>(HPE_PAUSED);
    };
    head_ = o_.method + " " + o_.url.path + " HTTP/1.1\r\nHost: " + o_.url.host + "\r\n";
    bool has_ct = false;
    for (const std::string& h : o_.headers) {
      head_ += h + "\r\n";
      if (strncasecmp(h.c_str(), "content-type:", 13) == 0) has_ct = true;
    }
    if (!has_ct) head_ += "Content-Type: application/json\r\n";
    stats_.latencies_us.reserve(1 << 20);
    start_us_ = NowMicros();
    for (int i = 0; i < o_.connections; ++i) {
      conns_.push_back(std::make_unique<Conn>(this, i));
      conns_.back()->Connect();
    }
    uv_timer_init(&loop_, &timer_);
    timer_.data = this;
    uv_timer_start(
        &timer_, [](uv_timer_t* t) { static_cast<Load*>(t->data)->Tick(); }, 100, 100);
    uv_signal_init(&loop_, &sigint_);
    sigint_.data = this;
    uv_signal_start(
        &sigint_, [](uv_signal_t* s, int) { static_cast<Load*>(s->data)->Stop(); }, SIGINT);
    uv_run(&loop_, UV_RUN_DEFAULT);
    end_us_ = last_completion_us_ ? last_completion_us_ : (end_us_ ? end_us_ : NowMicros());
    Report();
    return stats_.completed > 0 ? 0 : 1;
  }

  // Whether another request may start (count or time budget left).
  // With -n the run ends at that count or at --duration, whichever is first.
  bool MayIssue() {
    if (stopping_) return false;
    if (o_.requests && issued_ >= o_.requests) return false;
    return NowMicros() - start_us_ < o_.duration_us;
  }
  void Issue(Conn* c, std::string* out) {
    uint64_t seq = ++issued_;
    body_.Render(seq, c->index_, &c->body_);
    out->append(head_);
    bool has_body = !c->body_.empty() && o_.method != "GET" && o_.method != "DELETE";
    out->append("Content-Length: ");
    out->append(std::to_string(has_body ? c->body_.size() : 0));
    out->append("\r\n\r\n");
    if (has_body) out->append(c->body_);
  }
  void Completed(int status, int64_t sent_at) {
    ++stats_.completed;
    ++stats_.statuses[status];
    const int64_t now = NowMicros();
    last_completion_us_ = now;
    int64_t lat = now - sent_at;
    if (stats_.latencies_us.size() < (64u << 20)) {
      stats_.latencies_us.push_back(static_cast<uint32_t>(std::min<int64_t>(lat, UINT32_MAX)));
    }
  }
  void Tick() {
    // Requests still unanswered 5 s after the end are given up as timeouts,
    // so the run always ends.
    if (NowMicros() - start_us_ > o_.duration_us + 5'000'000) {
      for (auto& c : conns_) {
        if (!c->closing_) stats_.errors["timeout"] += c->sent_at_.size();
      }
      Stop();
      return;
    }
    bool idle = true;
    for (auto& c : conns_) idle = idle && (c->closing_ || c->sent_at_.empty());
    if (!MayIssue() && idle) Stop();
    // A connection that died is re-opened while there is budget.
    for (auto& c : conns_) {
      if (c->closing_ && c->closed_ && MayIssue() && !reconnecting_[c->index_]) {
        reconnecting_[c->index_] = true;
        c->closing_ = false;
        c->Connect();
      }
    }
  }
  void Stop() {
    if (stopped_) return;
    stopped_ = stopping_ = true;
    end_us_ = NowMicros();
    for (auto& c : conns_) c->Close();
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  }

  void Report() {
    double secs = static_cast<double>(end_us_ - start_us_) / 1e6;
    std::vector<uint32_t>& l = stats_.latencies_us;
    std::sort(l.begin(), l.end());
    auto pct = [&](double q) -> double {
      if (l.empty()) return 0;
      return l[static_cast<size_t>(q * static_cast<double>(l.size() - 1))] / 1000.0;
    };
    double rate = secs > 0 ? static_cast<double>(stats_.completed) / secs : 0;
    if (o_.json) {
      std::string s = "{\"mode\":\"rest\",\"connections\":" + std::to_string(o_.connections) +
                      ",\"pipeline\":" + std::to_string(o_.pipeline) +
                      ",\"seconds\":" + std::to_string(secs) +
                      ",\"requests\":" + std::to_string(stats_.completed) +
                      ",\"requests_per_second\":" + std::to_string(rate) + ",\"status\":{";
      bool first = true;
      for (auto& [code, n] : stats_.statuses) {
        s += (first ? "\"" : ",\"") + std::to_string(code) + "\":" + std::to_string(n);
        first = false;
      }
      s += "},\"errors\":{";
      first = true;
      for (auto& [kind, n] : stats_.errors) {
        s += (first ? "\"" : ",\"") + kind + "\":" + std::to_string(n);
        first = false;
      }
      s += "},\"latency_ms\":{\"p50\":" + std::to_string(pct(0.5)) +
           ",\"p90\":" + std::to_string(pct(0.9)) + ",\"p99\":" + std::to_string(pct(0.99)) +
           ",\"p999\":" + std::to_string(pct(0.999)) +
           ",\"max\":" + std::to_string(l.empty() ? 0 : l.back() / 1000.0) + "}}";
      std::printf("%s\n", s.c_str());
      return;
    }
    std::printf("%s %s://%s:%d%s: %d connections, pipeline %d\n", o_.method.c_str(),
                o_.url.tls ? "https" : "http", o_.url.host.c_str(), o_.url.port,
                o_.url.path.c_str(), o_.connections, o_.pipeline);
    std::printf("  %llu requests in %.2f s: %.0f req/s\n",
                static_cast<unsigned long long>(stats_.completed), secs, rate);
    for (auto& [code, n] : stats_.statuses) {
      std::printf("  status %d: %llu\n", code, static_cast<unsigned long long>(n));
    }
    for (auto& [kind, n] : stats_.errors) {
      std::printf("  error %s: %llu\n", kind.c_str(), static_cast<unsigned long long>(n));
    }
    std::printf("  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", pct(0.5),
                pct(0.9), pct(0.99), pct(0.999), l.empty() ? 0.0 : l.back() / 1000.0);
  }

  Options o_;
  BodyTemplate body_;
  uv_loop_t loop_;
  uv_timer_t timer_;
  uv_signal_t sigint_;
  llhttp_settings_t settings_;
  SSL_CTX* ssl_ctx_ = nullptr;
  struct sockaddr_storage addr_;
  std::string head_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::map<int, bool> reconnecting_;
  Stats stats_;
  uint64_t issued_ = 0;
  int64_t start_us_ = 0, end_us_ = 0;
  // When the last response arrived: the end of the measured interval (the
  // run itself is noticed to be over only at the next 100 ms tick).
  int64_t last_completion_us_ = 0;
  bool stopping_ = false, stopped_ = false;

 private:
  bool Resolve() {
    struct addrinfo hints = {};
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo* res = nullptr;
    int rc = getaddrinfo(o_.url.host.c_str(), std::to_string(o_.url.port).c_str(), &hints, &res);
    if (rc != 0 || res == nullptr) {
      std::fprintf(stderr, "eventide-load: cannot resolve %s: %s\n", o_.url.host.c_str(),
                   gai_strerror(rc));
      return false;
    }
    std::memcpy(&addr_, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return true;
  }
  bool InitTls() {
    ssl_ctx_ = SSL_CTX_new(TLS_client_method());
    if (!o_.cacert.empty()) {
      if (SSL_CTX_load_verify_locations(ssl_ctx_, o_.cacert.c_str(), nullptr) != 1) {
        std::fprintf(stderr, "eventide-load: cannot load --cacert %s\n", o_.cacert.c_str());
        return false;
      }
      SSL_CTX_set_verify(ssl_ctx_, SSL_VERIFY_PEER, nullptr);
    }
    return true;
  }
};

void Conn::Connect() {
  closed_ = false;
  uv_tcp_init(&load_->loop_, &tcp_);
  tcp_.data = this;
  connect_req_.data = this;
  llhttp_init(&parser_, HTTP_RESPONSE, &load_->settings_);
  parser_.data = this;
  sent_at_.clear();
  out_.clear();
  writing_ = false;
  if (load_->ssl_ctx_) {
    if (ssl_) SSL_free(ssl_);
    ssl_ = SSL_new(load_->ssl_ctx_);
    bio_in_ = BIO_new(BIO_s_mem());
    bio_out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(bio_in_, -1);
    SSL_set_bio(ssl_, bio_in_, bio_out_);
    SSL_set_tlsext_host_name(ssl_, load_->o_.url.host.c_str());
    SSL_set1_host(ssl_, load_->o_.url.host.c_str());
    SSL_set_connect_state(ssl_);
  }
  int rc = uv_tcp_connect(
      &connect_req_, &tcp_, reinterpret_cast<const struct sockaddr*>(&load_->addr_),
      [](uv_connect_t* req, int status) { static_cast<Conn*>(req->data)->OnConnected(status); });
  if (rc != 0) Fail("connect");
}

void Conn::OnConnected(int status) {
  load_->reconnecting_[index_] = false;
  if (status != 0) {
    Fail("connect");
    return;
  }
  connected_ = true;
  uv_tcp_nodelay(&tcp_, 1);
  load::StartReading(&tcp_, [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    static_cast<Conn*>(s->data)->OnRead(n, buf);
  });
  Pump();
}

void Conn::OnRead(ssize_t n, const uv_buf_t* buf) {
  if (n == 0) return;
  if (n < 0) {
    Fail(n == UV_EOF ? "closed" : "reset");
    return;
  }
  load_->stats_.bytes_in += static_cast<uint64_t>(n);
  std::string plain;
  std::string_view data(buf->base, static_cast<size_t>(n));
  if (ssl_) {
    BIO_write(bio_in_, buf->base, static_cast<int>(n));
    char tmp[65536];
    for (;;) {
      int r = SSL_read(ssl_, tmp, sizeof(tmp));
      if (r > 0) {
        plain.append(tmp, static_cast<size_t>(r));
        continue;
      }
      int err = SSL_get_error(ssl_, r);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        Fail("tls");
        return;
      }
      break;
    }
    data = plain;
  }
  while (!data.empty()) {
    message_done_ = false;
    llhttp_errno_t err = llhttp_execute(&parser_, data.data(), data.size());
    size_t used = data.size();
    if (err == HPE_PAUSED) {
      used = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data.data());
      llhttp_resume(&parser_);
    } else if (err != HPE_OK) {
      Fail("parse");
      return;
    }
    data.remove_prefix(used);
    if (message_done_) {
      if (sent_at_.empty()) {
        Fail("parse");
        return;
      }
      load_->Completed(status_, sent_at_.front());
      sent_at_.pop_front();
      if (!llhttp_should_keep_alive(&parser_)) {
        Fail("closed");
        return;
      }
    }
  }
  Pump();
}

void Conn::Pump() {
  if (!connected_ || closing_) return;
  std::string plain;
  if (ssl_ && !SSL_is_init_finished(ssl_)) {
    // Requests wait for the handshake; send what it has produced so far.
    int rc = SSL_do_handshake(ssl_);
    if (rc <= 0) {
      int err = SSL_get_error(ssl_, rc);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        Fail("tls");
        return;
      }
    }
  }
  const bool ready = !ssl_ || SSL_is_init_finished(ssl_);
  while (ready && static_cast<int>(sent_at_.size()) < load_->o_.pipeline && load_->MayIssue()) {
    load_->Issue(this, &plain);
    sent_at_.push_back(NowMicros());
  }
  if (ssl_) {
    if (!plain.empty()) SSL_write(ssl_, plain.data(), static_cast<int>(plain.size()));
    char tmp[65536];
    int r;
    while ((r = BIO_read(bio_out_, tmp, sizeof(tmp))) > 0) out_.append(tmp, static_cast<size_t>(r));
  } else {
    out_.append(plain);
  }
  if (writing_ || out_.empty()) return;
  writing_ = true;
  writing_buf_.swap(out_);
  out_.clear();
  auto* req = new uv_write_t;
  req->data = this;
  uv_buf_t b = uv_buf_init(writing_buf_.data(), static_cast<unsigned>(writing_buf_.size()));
  if (uv_write(req, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1, [](uv_write_t* w, int status) {
        auto* c = static_cast<Conn*>(w->data);
        delete w;
        c->writing_ = false;
        if (status != 0) {
          c->Fail("write");
          return;
        }
        c->Pump();
      }) != 0) {
    delete req;
    writing_ = false;
    Fail("write");
  }
}

void Conn::Fail(const std::string& kind) {
  if (closing_) return;
  if (!load_->stopping_) ++load_->stats_.errors[kind];
  Close();
}

void Conn::Close() {
  if (closing_) return;
  closing_ = true;
  connected_ = false;
  sent_at_.clear();
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
             [](uv_handle_t* h) { static_cast<Conn*>(h->data)->closed_ = true; });
  }
}

}  // namespace
}  // namespace eventide

namespace {

// Flags the fanout and idle modes share.
void AddStreamFlags(CLI::App* cmd, eventide::load::StreamOptions* so,
                    std::vector<std::string>* urls, std::string* protocol,
                    std::string* connect_timeout, int* cpu, bool* json) {
  // One value per --url (repeat the flag for more): without this CLI11 lets
  // one --url swallow every word after it.
  cmd->add_option("--url", *urls, "http://host:port/app/table[/id]; fanout: repeatable")
      ->required()
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--protocol", *protocol, "sse or ws")
      ->check(CLI::IsMember({"sse", "ws"}))
      ->capture_default_str();
  cmd->add_option("--connect-concurrency", so->connect_concurrency, "Connections opening at once")
      ->capture_default_str();
  cmd->add_option("--connect-timeout", *connect_timeout,
                  "Connections not ready by then count as failures")
      ->capture_default_str();
  cmd->add_flag("--http2", so->http2,
                "SSE subscribers as HTTP/2 streams (h2c, prior knowledge), many per connection");
  cmd->add_option("--h2-connections", so->h2_connections,
                  "With --http2: connections to each --url, subscribers round-robin over them")
      ->capture_default_str();
  cmd->add_option("--h2-window-bytes", so->h2_window_bytes,
                  "With --http2: the flow-control window granted per stream and per connection "
                  "(15 MiB, a browser's; below 262144 the server is paced by WINDOW_UPDATEs)")
      ->check(CLI::Range(1024, 0x7fffffff))
      ->capture_default_str();
  cmd->add_option("--server-pid", so->server_pid,
                  "Read this process's VmRSS before and after connecting (fanout: also its CPU "
                  "time over the measured window)");
  cmd->add_option("--cpu", *cpu, "Pin to this CPU core");
  cmd->add_flag("--json", *json, "Print one JSON summary line");
}

}  // namespace

int main(int argc, char** argv) {
  using eventide::load::ParseDurationUs;
  using eventide::load::ParseUrl;
  CLI::App app{"eventide-load: load generator for Eventide"};
  app.require_subcommand(1);
  eventide::Options o;
  std::string url, duration = "10s", body_file;
  int cpu = -1;
  CLI::App* rest = app.add_subcommand("rest", "REST writes (or reads) over keep-alive connections");
  rest->add_option("--url", url, "http(s)://host:port/app/table")->required();
  rest->add_option("--method", o.method, "HTTP method")->capture_default_str();
  rest->add_option("-c,--connections", o.connections, "Connections")->capture_default_str();
  rest->add_option("-p,--pipeline", o.pipeline, "Requests in flight per connection")
      ->capture_default_str();
  rest->add_option("-d,--duration", duration, "Run time (e.g. 10s, 500ms)")->capture_default_str();
  rest->add_option("-n,--requests", o.requests,
                   "Stop after this many requests (or at --duration, whichever is first)");
  rest->add_option("--body", o.body, "Body template: {seq}, {conn}, {time_us}")
      ->capture_default_str();
  rest->add_option("--body-file", body_file, "Read the body template from a file");
  rest->add_option("-H,--header", o.headers, "Extra header 'K: V' (repeatable)");
  rest->add_option("--cacert", o.cacert, "Verify the server against this CA (default: no check)");
  rest->add_option("--cpu", cpu, "Pin to this CPU core");
  rest->add_flag("--json", o.json, "Print one JSON summary line");

  eventide::load::StreamOptions so;
  std::string protocol = "sse", connect_timeout = "60s", warmup = "1s", drain = "2s", hold = "10s";
  std::vector<std::string> stream_urls;
  std::string write_url;
  CLI::App* fanout = app.add_subcommand(
      "fanout",
      "N subscribers over one or more URLs, a paced writer; end-to-end latency and delivery "
      "checks");
  AddStreamFlags(fanout, &so, &stream_urls, &protocol, &connect_timeout, &cpu, &so.json);
  fanout->add_option("--write-url", write_url,
                     "The writer PUTs here (another node sharing the log; default: the first "
                     "--url)");
  fanout->add_option("-n,--subscribers", so.connections, "Subscribers")->capture_default_str();
  fanout->add_option("--rate", so.rate, "Writes per second")->capture_default_str();
  fanout->add_option("-d,--duration", duration, "Measured writing time")->capture_default_str();
  fanout->add_option("--warmup", warmup, "Writing before the measured window")
      ->capture_default_str();
  fanout
      ->add_option("--drain", drain,
                   "Grace after the last acknowledgement for deliveries to arrive")
      ->capture_default_str();
  fanout->add_option("--writers", so.writer_connections, "Writer keep-alive connections")
      ->capture_default_str();
  fanout->add_option("--max-in-flight", so.max_in_flight, "PUTs in flight over all writers")
      ->capture_default_str();
  fanout->add_option("--payload-bytes", so.payload_bytes, "Length of each record's content")
      ->capture_default_str();
  fanout->add_option("--ids", so.record_ids, "The writer cycles over record ids w0..w{ids-1}")
      ->capture_default_str();
  fanout->add_option("--jwt-secret", so.jwt_secret,
                     "Subscriber i presents an HS256 token for subject user-i, signed with this");
  fanout->add_option("--nchan-pub", so.nchan_pub_path,
                     "The server is Nchan: POST messages to this path (e.g. /pub/bench); "
                     "--url is the subscriber location; needs --writers 1");

  CLI::App* idle =
      app.add_subcommand("idle", "N stream connections held open; server RSS per connection");
  AddStreamFlags(idle, &so, &stream_urls, &protocol, &connect_timeout, &cpu, &so.json);
  idle->add_option("-c,--connections", so.connections, "Connections")->capture_default_str();
  idle->add_option("--hold", hold, "How long to hold them once all are connected")
      ->capture_default_str();
  idle->add_flag("--nchan", so.nchan,
                 "The server is Nchan (--url is a subscriber location such as /sub/idle)");
  eventide::load::CatchupOptions co;
  CLI::App* catchup = app.add_subcommand(
      "catchup", "Write N entries, then time one SSE subscriber resuming from before them");
  catchup
      ->add_option("--url", url,
                   "http://host:port/app/table (or Nchan's /sub/CHANNEL): the subscriber's")
      ->required();
  catchup->add_option("--write-url", write_url,
                      "Write the entries here (node A) and wait until --url's node has applied "
                      "them (its /healthz) before the subscriber connects");
  std::string replicate_timeout = "60s";
  catchup
      ->add_option("--replicate-timeout", replicate_timeout,
                   "With --write-url: how long --url's node may take to apply the entries")
      ->capture_default_str();
  std::string read_after = "0s";
  catchup
      ->add_option("--read-after", read_after,
                   "Pause this long after the writes before the subscriber connects")
      ->capture_default_str();
  catchup->add_option("-n,--entries", co.entries, "Entries missed")->capture_default_str();
  catchup->add_option("--payload-bytes", co.payload_bytes, "Length of each record's content")
      ->capture_default_str();
  catchup
      ->add_option("--write-rate", co.write_rate,
                   "Entries written per second (0: as fast as the server takes them)")
      ->capture_default_str();
  catchup->add_option("--nchan-pub", co.nchan_pub_path,
                      "The server is Nchan: POST messages to this path (e.g. /pub/bench)");
  catchup->add_option("--cpu", cpu, "Pin to this CPU core");
  catchup->add_flag("--json", co.json, "Print one JSON summary line");
  CLI11_PARSE(app, argc, argv);

  // 10,000 subscribers need 10,000 descriptors.
  eventide::load::RaiseFileLimit();
  if (cpu >= 0) eventide::load::PinToCpu(cpu);

  if (catchup->parsed()) {
    if (!ParseUrl(url, &co.url) || co.url.tls || co.entries < 1 || co.payload_bytes < 0) {
      std::fprintf(stderr, "eventide-load: catchup needs an http:// --url and --entries >= 1\n");
      return 2;
    }
    if (!write_url.empty()) {
      if (!co.nchan_pub_path.empty()) {
        std::fprintf(stderr,
                     "eventide-load: --write-url is for Eventide nodes sharing a log, not with "
                     "--nchan-pub\n");
        return 2;
      }
      eventide::load::Url w;
      if (!ParseUrl(write_url, &w) || w.tls) {
        std::fprintf(stderr, "eventide-load: --write-url must be http://host[:port]/path, got %s\n",
                     write_url.c_str());
        return 2;
      }
      co.write_url = w;
    }
    co.replicate_timeout_us = ParseDurationUs(replicate_timeout);
    if (co.replicate_timeout_us < 0) {
      std::fprintf(stderr, "eventide-load: bad --replicate-timeout %s\n",
                   replicate_timeout.c_str());
      return 2;
    }
    co.read_after_us = ParseDurationUs(read_after);
    if (co.read_after_us < 0) {
      std::fprintf(stderr, "eventide-load: bad --read-after %s\n", read_after.c_str());
      return 2;
    }
    return eventide::load::RunCatchup(co);
  }
  if (fanout->parsed() || idle->parsed()) {
    for (const std::string& u : stream_urls) {
      so.urls.emplace_back();
      if (!ParseUrl(u, &so.urls.back())) {
        std::fprintf(stderr, "eventide-load: --url must be http://host[:port]/path, got %s\n",
                     u.c_str());
        return 2;
      }
    }
    if (!so.nchan_pub_path.empty()) so.nchan = true;
    if (so.urls.size() > 1 && (idle->parsed() || so.nchan)) {
      // idle reads one server's RSS; Nchan's sequence numbers are one server's.
      std::fprintf(stderr, "eventide-load: %s takes one --url\n",
                   idle->parsed() ? "idle" : "--nchan-pub");
      return 2;
    }
    so.write_url = so.urls[0];
    if (!write_url.empty()) {
      if (so.nchan) {
        std::fprintf(stderr,
                     "eventide-load: --write-url is for Eventide nodes sharing a log, not with "
                     "--nchan-pub\n");
        return 2;
      }
      so.write_url = eventide::load::Url{};  // ParseUrl fills in only what it finds
      if (!ParseUrl(write_url, &so.write_url)) {
        std::fprintf(stderr, "eventide-load: --write-url must be http://host[:port]/path, got %s\n",
                     write_url.c_str());
        return 2;
      }
    }
    so.protocol = protocol == "ws" ? eventide::load::StreamProtocol::kWs
                                   : eventide::load::StreamProtocol::kSse;
    so.connect_timeout_us = ParseDurationUs(connect_timeout);
    so.duration_us = ParseDurationUs(duration);
    so.warmup_us = ParseDurationUs(warmup);
    so.drain_us = ParseDurationUs(drain);
    so.hold_us = ParseDurationUs(hold);
    if (so.connect_timeout_us <= 0 || so.duration_us <= 0 || so.warmup_us < 0 || so.drain_us < 0 ||
        so.hold_us < 0 || so.connections < 1 || so.connect_concurrency < 1 || so.rate <= 0 ||
        so.writer_connections < 1 || so.max_in_flight < 1 || so.record_ids < 1 ||
        so.payload_bytes < 0 || so.h2_connections < 1) {
      std::fprintf(stderr, "eventide-load: a duration, count or rate is out of range\n");
      return 2;
    }
    return fanout->parsed() ? eventide::load::RunFanout(so) : eventide::load::RunIdle(so);
  }

  if (!ParseUrl(url, &o.url)) {
    std::fprintf(stderr, "eventide-load: --url must be http(s)://host[:port]/path, got %s\n",
                 url.c_str());
    return 2;
  }
  o.duration_us = ParseDurationUs(duration);
  if (o.duration_us <= 0 || o.connections < 1 || o.pipeline < 1) {
    std::fprintf(stderr, "eventide-load: bad --duration, --connections or --pipeline\n");
    return 2;
  }
  if (!body_file.empty()) {
    FILE* f = std::fopen(body_file.c_str(), "rb");
    if (!f) {
      std::fprintf(stderr, "eventide-load: cannot read %s\n", body_file.c_str());
      return 2;
    }
    o.body.clear();
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) o.body.append(buf, n);
    std::fclose(f);
  }
  eventide::Load load(o);
  return load.Run();
}
