#include "src/hooks/dispatcher.h"

#include <arpa/inet.h>
#include <llhttp.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <uv.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "src/common/logging.h"
#include "src/common/uuid.h"
#include "src/hooks/url.h"
#include "src/net/tls.h"

namespace eventide::hooks {
namespace {

using net::OpenSslError;

// A response whose status line and headers do not end within 16 KiB is not
// one a webhook receiver sends: it is taken as malformed.
constexpr size_t kMaxResponseHeadBytes = 16 << 10;
// Reads of 16 KiB: a TLS record, or a whole response head.
constexpr size_t kReadBufferBytes = 16 << 10;
// Resolved addresses are reused for 30 s: hook URLs are a handful of hosts
// set in config, so most deliveries cost no resolver call, and a moved host
// is picked up within half a minute.
constexpr uint64_t kDnsCacheMs = 30'000;
constexpr size_t kDnsCacheEntries = 256;

std::string AddressText(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    uv_ip4_name(a, host, sizeof(host));
    port = ntohs(a->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
  uv_ip6_name(a, host, sizeof(host));
  port = ntohs(a->sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

void SetPort(sockaddr_storage* ss, uint16_t port) {
  if (ss->ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(ss)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(ss)->sin6_port = htons(port);
  }
}

// A header value made safe to send: anything but visible ASCII becomes '_'
// (a hook name is config text, but it must never split a header).
std::string HeaderSafe(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c < 0x21 || c > 0x7e) c = '_';
  }
  return out;
}

struct Delivery {
  std::string name;
  std::string url;
  std::string body;
  std::string id;    // X-Eventide-Delivery: the same on every attempt
  int attempts = 0;  // started so far
};

enum class Outcome {
  kDelivered,  // 2xx
  kRetry,      // a failure that may pass: retry unless out of attempts
  kGiveUp,     // a final refusal: no retry
  kAbandoned,  // the dispatcher is stopping
};

}  // namespace

class Attempt;

// Everything behind a Dispatcher. The mutex guards what Enqueue and Stats
// touch; the rest belongs to the dispatcher's thread (after Start()).
class Worker {
 public:
  explicit Worker(const DispatcherOptions& options)
      : options_(options), rng_(std::random_device{}()) {}
  ~Worker();

  Status Start();
  bool Enqueue(std::string_view name, std::string_view url, std::string body);
  HookStats Stats() const;

 private:
  friend class Attempt;

  static void OnWake(uv_async_t* handle);
  static void OnRetryTimer(uv_timer_t* handle);
  void Run();
  void Intake();
  void Pump();
  void ArmRetryTimer();
  void Shutdown();
  // An attempt ended: count it and retry, finish or drop the delivery.
  void Done(Attempt* attempt, std::unique_ptr<Delivery> delivery, Outcome outcome,
            const std::string& why);
  // The addresses to try for url's host, with url's port set.
  Status Resolve(const HookUrl& url, std::vector<sockaddr_storage>* out);
  HookCounters& CountersFor(std::string_view name);  // REQUIRES: mu_ held
  // The https client context, made on first use.
  Status ClientTls(SSL_CTX** out);

  const DispatcherOptions options_;

  mutable std::mutex mu_;
  std::deque<std::unique_ptr<Delivery>> incoming_;            // guarded by mu_
  bool stopping_ = false;                                     // guarded by mu_
  size_t outstanding_ = 0;                                    // guarded by mu_
  size_t in_flight_ = 0;                                      // guarded by mu_
  HookCounters totals_;                                       // guarded by mu_
  std::map<std::string, HookCounters, std::less<>> by_hook_;  // guarded by mu_

  // Set up by Start() before the thread runs; then the thread's alone.
  uv_loop_t loop_;
  uv_async_t wake_;
  uv_timer_t retry_timer_;
  bool loop_ready_ = false;
  std::thread thread_;
  SSL_CTX* tls_ctx_ = nullptr;  // by Start() with a CA file, else by the thread

  // The dispatcher's thread only.
  bool shutting_down_ = false;
  bool pumping_ = false;
  size_t running_ = 0;  // attempts started and not Done
  std::deque<std::unique_ptr<Delivery>> ready_;
  std::multimap<uint64_t, std::unique_ptr<Delivery>> backing_off_;  // due (uv_now ms) ->
  std::unordered_set<Attempt*> attempts_;                           // not Done yet
  struct CachedAddresses {
    std::vector<sockaddr_storage> addresses;
    uint64_t expires_ms;
  };
  std::map<std::string, CachedAddresses, std::less<>> dns_cache_;
  std::mt19937_64 rng_;
  char read_buffer_[kReadBufferBytes];  // one read at a time on this thread
};

// One try at one delivery: resolve, connect (each address in turn), TLS if
// https, send the request, read up to the end of the response's headers.
// Owns its uv handles; freed in the last of their close callbacks, so it
// may Finish from inside any of its own callbacks.
class Attempt {
 public:
  Attempt(Worker* worker, std::unique_ptr<Delivery> delivery)
      : worker_(worker), delivery_(std::move(delivery)) {
    timer_.data = this;
    tcp_.data = this;
    connect_.data = this;
  }
  ~Attempt() {
    if (ssl_ != nullptr) SSL_free(ssl_);
  }

  void Start();
  // The dispatcher is stopping: cut the attempt off.
  void Abort() { Finish(Outcome::kAbandoned, "stopping"); }

 private:
  enum class Tcp { kNone, kOpen, kClosing };

  // One uv_write: owns its bytes until the callback (which runs, with
  // UV_ECANCELED, even when the handle is closed first).
  struct WriteReq {
    uv_write_t req;
    std::string bytes;
    Attempt* attempt;
  };

  static void OnTimeout(uv_timer_t* handle);
  static void OnTimerClosed(uv_handle_t* handle);
  static void OnTcpClosed(uv_handle_t* handle);
  static void OnConnect(uv_connect_t* req, int status);
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static int OnHeadersComplete(llhttp_t* parser);

  void ConnectNext();
  void CloseTcp();
  void OnConnected();
  void Send(std::string bytes);
  std::string Request() const;
  void StartTls();
  void DriveTls();
  void FlushTls();
  void OnResponseBytes(const char* data, size_t n);
  void OnEof();
  void Finish(Outcome outcome, std::string why);
  void MaybeFree();

  Worker* worker_;
  std::unique_ptr<Delivery> delivery_;  // handed back to the worker by Finish
  HookUrl url_;
  std::vector<sockaddr_storage> addresses_;
  size_t next_address_ = 0;
  std::string last_error_;

  uv_timer_t timer_;
  uv_tcp_t tcp_;
  uv_connect_t connect_;
  bool timer_open_ = false;
  Tcp tcp_state_ = Tcp::kNone;
  bool done_ = false;

  SSL* ssl_ = nullptr;
  BIO* tls_in_ = nullptr;   // ciphertext from the peer (owned by ssl_)
  BIO* tls_out_ = nullptr;  // ciphertext to the peer (owned by ssl_)
  bool handshake_done_ = false;

  llhttp_t parser_;
  size_t head_bytes_ = 0;  // response bytes parsed before the status was known
  int status_ = 0;         // the final status code, once its headers ended
};

// ---------------------------------------------------------------------------
// Attempt

void Attempt::Start() {
  uv_loop_t* loop = &worker_->loop_;
  uv_timer_init(loop, &timer_);
  timer_open_ = true;
  uv_timer_start(&timer_, OnTimeout, worker_->options_.timeout_ms, 0);

  Result<HookUrl> url = ParseHookUrl(delivery_->url);
  if (!url.ok()) return Finish(Outcome::kGiveUp, url.status().message());
  url_ = std::move(url).value();
  if (url_.tls) {
    SSL_CTX* ctx = nullptr;
    Status tls = worker_->ClientTls(&ctx);
    if (!tls.ok()) return Finish(Outcome::kRetry, tls.message());
  }
  Status s = worker_->Resolve(url_, &addresses_);
  if (!s.ok()) return Finish(Outcome::kRetry, s.message());
  ConnectNext();
}

void Attempt::ConnectNext() {
  if (done_) return;
  if (next_address_ >= addresses_.size()) {
    return Finish(Outcome::kRetry, last_error_.empty() ? "no address to connect to" : last_error_);
  }
  const sockaddr_storage& address = addresses_[next_address_++];
  int rc = uv_tcp_init(&worker_->loop_, &tcp_);
  if (rc != 0) return Finish(Outcome::kRetry, std::string("uv_tcp_init: ") + uv_strerror(rc));
  tcp_state_ = Tcp::kOpen;
  rc = uv_tcp_connect(&connect_, &tcp_, reinterpret_cast<const sockaddr*>(&address), OnConnect);
  if (rc != 0) {
    // The callback will not run: try the next address once the handle closed.
    last_error_ = "connect " + AddressText(address) + ": " + uv_strerror(rc);
    CloseTcp();
  }
}

void Attempt::CloseTcp() {
  if (tcp_state_ != Tcp::kOpen) return;
  tcp_state_ = Tcp::kClosing;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnTcpClosed);
}

void Attempt::OnTcpClosed(uv_handle_t* handle) {
  auto* a = static_cast<Attempt*>(handle->data);
  a->tcp_state_ = Tcp::kNone;
  if (a->done_) {
    a->MaybeFree();
  } else {
    a->ConnectNext();
  }
}

void Attempt::OnConnect(uv_connect_t* req, int status) {
  auto* a = static_cast<Attempt*>(req->data);
  if (a->done_) return;  // cancelled by Finish
  if (status < 0) {
    a->last_error_ =
        "connect " + AddressText(a->addresses_[a->next_address_ - 1]) + ": " + uv_strerror(status);
    a->CloseTcp();
    return;
  }
  a->OnConnected();
}

void Attempt::OnConnected() {
  uv_tcp_nodelay(&tcp_, 1);
  static const llhttp_settings_t kSettings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_headers_complete = OnHeadersComplete;
    return s;
  }();
  llhttp_init(&parser_, HTTP_RESPONSE, &kSettings);
  parser_.data = this;
  int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead);
  if (rc != 0) return Finish(Outcome::kRetry, std::string("read: ") + uv_strerror(rc));
  if (url_.tls) {
    StartTls();
  } else {
    Send(Request());
  }
}

std::string Attempt::Request() const {
  const Delivery& d = *delivery_;
  std::string r;
  r.reserve(320 + url_.target.size() + d.body.size());
  r.append("POST ").append(url_.target).append(" HTTP/1.1\r\n");
  r.append("Host: ").append(url_.HostHeader()).append("\r\n");
  r.append(
      "User-Agent: eventide\r\n"
      "Content-Type: application/json\r\n"
      "Content-Length: ");
  r.append(std::to_string(d.body.size())).append("\r\n");
  r.append("X-Eventide-Hook: ").append(HeaderSafe(d.name)).append("\r\n");
  r.append("X-Eventide-Delivery: ").append(d.id).append("\r\n");
  r.append("X-Eventide-Attempt: ").append(std::to_string(d.attempts)).append("\r\n");
  r.append("Connection: close\r\n\r\n");
  r.append(d.body);
  return r;
}

void Attempt::Send(std::string bytes) {
  if (done_ || tcp_state_ != Tcp::kOpen || bytes.empty()) return;
  auto* w = new WriteReq;
  w->bytes = std::move(bytes);
  w->attempt = this;
  w->req.data = w;
  uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned int>(w->bytes.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, OnWrite);
  if (rc != 0) {
    delete w;  // the callback will not run
    Finish(Outcome::kRetry, std::string("write: ") + uv_strerror(rc));
  }
}

void Attempt::OnWrite(uv_write_t* req, int status) {
  auto* w = static_cast<WriteReq*>(req->data);
  Attempt* a = w->attempt;
  delete w;
  if (status < 0 && !a->done_) {
    a->Finish(Outcome::kRetry, std::string("write: ") + uv_strerror(status));
  }
}

void Attempt::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* a = static_cast<Attempt*>(handle->data);
  *buf = uv_buf_init(a->worker_->read_buffer_, sizeof(a->worker_->read_buffer_));
}

void Attempt::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* a = static_cast<Attempt*>(stream->data);
  if (a->done_ || nread == 0) return;
  if (nread == UV_EOF) return a->OnEof();
  if (nread < 0) {
    return a->Finish(Outcome::kRetry, std::string("read: ") + uv_strerror(static_cast<int>(nread)));
  }
  if (a->ssl_ == nullptr) return a->OnResponseBytes(buf->base, static_cast<size_t>(nread));
  int n = BIO_write(a->tls_in_, buf->base, static_cast<int>(nread));
  if (n != nread) return a->Finish(Outcome::kRetry, "TLS: BIO_write failed");
  a->DriveTls();
}

void Attempt::StartTls() {
  ssl_ = SSL_new(worker_->tls_ctx_);
  if (ssl_ == nullptr) return Finish(Outcome::kRetry, "SSL_new: " + OpenSslError());
  tls_in_ = BIO_new(BIO_s_mem());
  tls_out_ = BIO_new(BIO_s_mem());
  // An empty memory BIO means "no data yet", not EOF.
  BIO_set_mem_eof_return(tls_in_, -1);
  BIO_set_mem_eof_return(tls_out_, -1);
  SSL_set_bio(ssl_, tls_in_, tls_out_);
  SSL_set_connect_state(ssl_);
  unsigned char ip[16];
  bool is_ip = inet_pton(AF_INET, url_.host.c_str(), ip) == 1 ||
               inet_pton(AF_INET6, url_.host.c_str(), ip) == 1;
  // The certificate must name the URL's host: a DNS name (also sent as SNI)
  // or an IP address (matched against the certificate's IP SANs).
  bool ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), url_.host.c_str()) == 1
                  : SSL_set_tlsext_host_name(ssl_, url_.host.c_str()) == 1 &&
                        SSL_set1_host(ssl_, url_.host.c_str()) == 1;
  if (!ok) return Finish(Outcome::kRetry, "TLS set-up for " + url_.host + ": " + OpenSslError());
  DriveTls();
}

void Attempt::DriveTls() {
  if (!handshake_done_) {
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1) {
      handshake_done_ = true;
      std::string request = Request();
      // Memory BIOs take everything at once: SSL_write does not come back short.
      if (SSL_write(ssl_, request.data(), static_cast<int>(request.size())) <= 0) {
        return Finish(Outcome::kRetry, "TLS write: " + OpenSslError());
      }
    } else {
      int err = SSL_get_error(ssl_, rc);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        long verify = SSL_get_verify_result(ssl_);
        std::string why = verify != X509_V_OK
                              ? std::string("certificate: ") + X509_verify_cert_error_string(verify)
                              : OpenSslError();
        FlushTls();  // an alert for the peer, if any
        return Finish(Outcome::kRetry, "TLS handshake with " + url_.host + " failed: " +
                                           (why.empty() ? std::string("protocol error") : why));
      }
    }
  }
  if (handshake_done_) {
    char buf[kReadBufferBytes];
    for (;;) {
      int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n > 0) {
        OnResponseBytes(buf, static_cast<size_t>(n));
        if (done_) return;
        continue;
      }
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
      if (err == SSL_ERROR_ZERO_RETURN) return OnEof();
      return Finish(Outcome::kRetry, "TLS read: " + OpenSslError());
    }
  }
  FlushTls();
}

void Attempt::FlushTls() {
  size_t pending = BIO_ctrl_pending(tls_out_);
  if (pending == 0) return;
  std::string out(pending, '\0');
  int n = BIO_read(tls_out_, out.data(), static_cast<int>(pending));
  if (n <= 0) return;
  out.resize(static_cast<size_t>(n));
  Send(std::move(out));
}

int Attempt::OnHeadersComplete(llhttp_t* parser) {
  auto* a = static_cast<Attempt*>(parser->data);
  int code = llhttp_get_status_code(parser);
  if (code >= 100 && code < 200) return 0;  // interim (100 Continue): the final one follows
  a->status_ = code;
  return HPE_PAUSED;  // all we need; the body is not read
}

void Attempt::OnResponseBytes(const char* data, size_t n) {
  llhttp_errno_t err = llhttp_execute(&parser_, data, n);
  if (status_ != 0) {
    const int code = status_;
    std::string why = "HTTP " + std::to_string(code);
    if (code >= 200 && code < 300) return Finish(Outcome::kDelivered, why);
    // 408 and 429 say "not now"; 5xx is the receiver's own trouble.
    if (code == 408 || code == 429 || code >= 500) return Finish(Outcome::kRetry, why);
    // Any other 4xx is the receiver refusing this delivery: sending it
    // again will not change its mind. Redirects are not followed (the URL
    // in config should be the final one), so 3xx is final too.
    if (code >= 300 && code < 500) return Finish(Outcome::kGiveUp, why);
    return Finish(Outcome::kRetry, why + " (not a status code a receiver sends)");
  }
  if (err != HPE_OK) {
    return Finish(Outcome::kRetry, std::string("malformed response: ") + llhttp_errno_name(err) +
                                       " " + llhttp_get_error_reason(&parser_));
  }
  head_bytes_ += n;
  if (head_bytes_ > kMaxResponseHeadBytes) {
    Finish(Outcome::kRetry, "malformed response: no end of headers in " +
                                std::to_string(kMaxResponseHeadBytes) + " bytes");
  }
}

void Attempt::OnEof() {
  Finish(Outcome::kRetry, head_bytes_ == 0 ? "connection closed without a response"
                                           : "connection closed in the middle of a response");
}

void Attempt::OnTimeout(uv_timer_t* handle) {
  auto* a = static_cast<Attempt*>(handle->data);
  if (a->done_) return;
  std::string stage = a->tcp_state_ == Tcp::kNone                 ? "resolving"
                      : a->head_bytes_ > 0                        ? "reading the response"
                      : a->ssl_ != nullptr && !a->handshake_done_ ? "in the TLS handshake"
                                                                  : "waiting for a response";
  a->Finish(Outcome::kRetry,
            "timed out after " + std::to_string(a->worker_->options_.timeout_ms) + " ms " + stage);
}

void Attempt::Finish(Outcome outcome, std::string why) {
  if (done_) return;
  done_ = true;
  if (timer_open_) {
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnTimerClosed);
  }
  CloseTcp();  // cancels a pending connect or write: their callbacks see done_
  worker_->Done(this, std::move(delivery_), outcome, why);
  // No MaybeFree here: the timer's close callback is still to come.
}

void Attempt::OnTimerClosed(uv_handle_t* handle) {
  auto* a = static_cast<Attempt*>(handle->data);
  a->timer_open_ = false;
  a->MaybeFree();
}

void Attempt::MaybeFree() {
  if (done_ && !timer_open_ && tcp_state_ == Tcp::kNone) delete this;
}

// ---------------------------------------------------------------------------
// Worker

Status Worker::ClientTls(SSL_CTX** out) {
  if (tls_ctx_ != nullptr) {
    *out = tls_ctx_;
    return Status::OK();
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return Status::IOError("SSL_CTX_new: " + OpenSslError());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (!options_.tls_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, options_.tls_ca_file.c_str(), nullptr) != 1) {
      std::string why = OpenSslError();
      SSL_CTX_free(ctx);
      return Status::InvalidArgument("hooks: CA file " + options_.tls_ca_file + ": " + why);
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    std::string why = OpenSslError();
    SSL_CTX_free(ctx);
    return Status::IOError("hooks: the system's CA certificates: " + why);
  }
  tls_ctx_ = *out = ctx;
  return Status::OK();
}

Status Worker::Start() {
  // A CA file given in config is loaded now, so a bad one is a start-up
  // error; the system's store (some 150 certificates, ~25 ms to parse) only
  // when the first https delivery needs it, on the dispatcher's thread.
  if (!options_.tls_ca_file.empty()) {
    SSL_CTX* ctx = nullptr;
    Status s = ClientTls(&ctx);
    if (!s.ok()) return s;
  }

  int rc = uv_loop_init(&loop_);
  if (rc != 0) return Status::IOError(std::string("hooks: uv_loop_init: ") + uv_strerror(rc));
  rc = uv_async_init(&loop_, &wake_, OnWake);
  if (rc != 0) {
    uv_loop_close(&loop_);
    return Status::IOError(std::string("hooks: uv_async_init: ") + uv_strerror(rc));
  }
  wake_.data = this;
  uv_timer_init(&loop_, &retry_timer_);
  retry_timer_.data = this;
  loop_ready_ = true;
  thread_ = std::thread([this] { Run(); });
  return Status::OK();
}

Worker::~Worker() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    uv_async_send(&wake_);
    thread_.join();
  } else if (loop_ready_) {
    // Start() failed after the loop was set up (cannot happen today), or
    // never ran it: close the handles on this thread.
    Shutdown();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  if (tls_ctx_ != nullptr) SSL_CTX_free(tls_ctx_);
}

void Worker::Run() {
  uv_run(&loop_, UV_RUN_DEFAULT);  // until Shutdown closed every handle
  int rc = uv_loop_close(&loop_);
  if (rc != 0) LogLine(LogLevel::kError, "hooks: loop not closed", {{"error", uv_strerror(rc)}});
}

bool Worker::Enqueue(std::string_view name, std::string_view url, std::string body) {
  auto d = std::make_unique<Delivery>();
  d->name = std::string(name);
  d->url = std::string(url);
  d->body = std::move(body);
  {
    std::lock_guard<std::mutex> lock(mu_);
    HookCounters& hook = CountersFor(name);
    if (stopping_ || outstanding_ >= options_.queue_capacity) {
      ++totals_.dropped_queue_full;
      ++hook.dropped_queue_full;
      return false;
    }
    ++outstanding_;
    ++totals_.queued;
    ++hook.queued;
    incoming_.push_back(std::move(d));
  }
  // Coalesced: libuv skips the eventfd write while a wake-up is pending.
  uv_async_send(&wake_);
  return true;
}

HookCounters& Worker::CountersFor(std::string_view name) {
  auto it = by_hook_.find(name);
  if (it == by_hook_.end()) it = by_hook_.emplace(std::string(name), HookCounters{}).first;
  return it->second;
}

HookStats Worker::Stats() const {
  HookStats s;
  std::lock_guard<std::mutex> lock(mu_);
  static_cast<HookCounters&>(s) = totals_;
  s.in_flight = in_flight_;
  s.queue_depth = outstanding_ - in_flight_;
  s.by_hook = by_hook_;
  return s;
}

void Worker::OnWake(uv_async_t* handle) { static_cast<Worker*>(handle->data)->Intake(); }

void Worker::Intake() {
  std::deque<std::unique_ptr<Delivery>> fresh;
  bool stopping;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fresh.swap(incoming_);
    stopping = stopping_;
  }
  if (stopping) {
    ready_.insert(ready_.end(), std::make_move_iterator(fresh.begin()),
                  std::make_move_iterator(fresh.end()));
    return Shutdown();
  }
  for (auto& d : fresh) {
    // Made here, not in Enqueue: the caller's thread pays for no randomness.
    d->id = NewUuidV4();
    ready_.push_back(std::move(d));
  }
  Pump();
}

void Worker::Pump() {
  // Re-entered when an attempt fails at once (a bad URL, no address); the
  // outer call's loop picks up the freed slot instead of recursing.
  if (pumping_) return;
  pumping_ = true;
  while (!shutting_down_ && running_ < options_.concurrency && !ready_.empty()) {
    std::unique_ptr<Delivery> d = std::move(ready_.front());
    ready_.pop_front();
    ++d->attempts;
    ++running_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++in_flight_;
    }
    auto* attempt = new Attempt(this, std::move(d));  // frees itself once closed
    attempts_.insert(attempt);
    attempt->Start();
  }
  pumping_ = false;
}

void Worker::Done(Attempt* attempt, std::unique_ptr<Delivery> d, Outcome outcome,
                  const std::string& why) {
  attempts_.erase(attempt);
  --running_;
  bool retry = outcome == Outcome::kRetry && d->attempts < options_.max_attempts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    HookCounters& hook = CountersFor(d->name);
    switch (outcome) {
      case Outcome::kDelivered:
        ++totals_.delivered;
        ++hook.delivered;
        break;
      case Outcome::kRetry:
      case Outcome::kGiveUp:
        ++totals_.failed_attempts;
        ++hook.failed_attempts;
        if (retry) {
          ++totals_.retries;
          ++hook.retries;
        } else {
          ++totals_.gave_up;
          ++hook.gave_up;
        }
        break;
      case Outcome::kAbandoned:
        break;
    }
    if (!retry) --outstanding_;
  }
  if (outcome == Outcome::kAbandoned) return;
  if (outcome == Outcome::kDelivered) {
    if (LogEnabled(LogLevel::kDebug)) {
      LogLine(LogLevel::kDebug, "hook delivered",
              {{"hook", d->name}, {"delivery", d->id}, {"attempt", d->attempts}});
    }
  } else if (retry) {
    if (LogEnabled(LogLevel::kDebug)) {
      LogLine(LogLevel::kDebug, "hook attempt failed",
              {{"hook", d->name}, {"delivery", d->id}, {"attempt", d->attempts}, {"error", why}});
    }
    uint64_t delay = RetryDelayMs(options_, d->attempts, rng_());
    backing_off_.emplace(uv_now(&loop_) + delay, std::move(d));
    ArmRetryTimer();
  } else {
    Result<HookUrl> url = ParseHookUrl(d->url);
    LogLine(LogLevel::kWarn, "hook delivery given up",
            {{"hook", d->name},
             {"url", url.ok() ? url->Redacted() : std::string("(invalid)")},
             {"delivery", d->id},
             {"attempts", d->attempts},
             {"error", why}});
  }
  Pump();
}

void Worker::ArmRetryTimer() {
  if (shutting_down_) return;
  if (backing_off_.empty()) {
    uv_timer_stop(&retry_timer_);
    return;
  }
  uint64_t due = backing_off_.begin()->first;
  uint64_t now = uv_now(&loop_);
  uv_timer_start(&retry_timer_, OnRetryTimer, due > now ? due - now : 0, 0);
}

void Worker::OnRetryTimer(uv_timer_t* handle) {
  auto* w = static_cast<Worker*>(handle->data);
  uint64_t now = uv_now(&w->loop_);
  while (!w->backing_off_.empty() && w->backing_off_.begin()->first <= now) {
    w->ready_.push_back(std::move(w->backing_off_.begin()->second));
    w->backing_off_.erase(w->backing_off_.begin());
  }
  w->ArmRetryTimer();
  w->Pump();
}

void Worker::Shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  size_t abandoned = ready_.size() + backing_off_.size() + attempts_.size();
  ready_.clear();
  backing_off_.clear();
  std::vector<Attempt*> running(attempts_.begin(), attempts_.end());
  for (Attempt* a : running) a->Abort();  // each closes its handles
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&retry_timer_), nullptr);
  if (abandoned > 0) {
    LogLine(LogLevel::kWarn, "hook deliveries abandoned at shutdown",
            {{"count", static_cast<uint64_t>(abandoned)}});
  }
}

Status Worker::Resolve(const HookUrl& url, std::vector<sockaddr_storage>* out) {
  out->clear();
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, url.host.c_str(), &v4->sin_addr) == 1) {
    ss.ss_family = AF_INET;
  } else if (inet_pton(AF_INET6, url.host.c_str(), &v6->sin6_addr) == 1) {
    ss.ss_family = AF_INET6;
  }
  if (ss.ss_family != 0) {
    SetPort(&ss, url.port);
    out->push_back(ss);
    return Status::OK();
  }
  uint64_t now = uv_now(&loop_);
  auto it = dns_cache_.find(url.host);
  if (it == dns_cache_.end() || it->second.expires_ms <= now) {
    // Blocks this thread (never the server's loop) for as long as the
    // system resolver takes; the cache makes that rare.
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(url.host.c_str(), nullptr, &hints, &res);
    uv_update_time(&loop_);
    if (rc != 0) return Status::NotFound("resolve " + url.host + ": " + gai_strerror(rc));
    CachedAddresses entry{{}, uv_now(&loop_) + kDnsCacheMs};
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
      sockaddr_storage a{};
      std::memcpy(&a, ai->ai_addr, std::min<size_t>(ai->ai_addrlen, sizeof(a)));
      bool seen =
          std::any_of(entry.addresses.begin(), entry.addresses.end(),
                      [&](const sockaddr_storage& b) { return !std::memcmp(&a, &b, sizeof(a)); });
      if (!seen) entry.addresses.push_back(a);
    }
    freeaddrinfo(res);
    if (entry.addresses.empty()) return Status::NotFound("resolve " + url.host + ": no address");
    if (dns_cache_.size() >= kDnsCacheEntries) dns_cache_.clear();
    it = dns_cache_.insert_or_assign(url.host, std::move(entry)).first;
  }
  for (sockaddr_storage a : it->second.addresses) {
    SetPort(&a, url.port);
    out->push_back(a);
  }
  return Status::OK();
}

}  // namespace eventide::hooks

// ---------------------------------------------------------------------------
// Dispatcher

namespace eventide::hooks {

Result<std::unique_ptr<Dispatcher>> Dispatcher::Create(const DispatcherOptions& options) {
  if (options.queue_capacity == 0) return Status::InvalidArgument("hooks: queue_capacity is 0");
  if (options.concurrency == 0) return Status::InvalidArgument("hooks: concurrency is 0");
  if (options.max_attempts < 1) return Status::InvalidArgument("hooks: max_attempts below 1");
  if (options.timeout_ms == 0) return Status::InvalidArgument("hooks: timeout_ms is 0");
  auto worker = std::make_unique<Worker>(options);
  Status s = worker->Start();
  if (!s.ok()) return s;
  return std::unique_ptr<Dispatcher>(new Dispatcher(std::move(worker)));
}

Dispatcher::Dispatcher(std::unique_ptr<Worker> worker) : worker_(std::move(worker)) {}

Dispatcher::~Dispatcher() = default;

Status Dispatcher::CheckUrl(std::string_view url) { return ParseHookUrl(url).status(); }

bool Dispatcher::Enqueue(std::string_view name, std::string_view url, std::string body) {
  return worker_->Enqueue(name, url, std::move(body));
}

HookStats Dispatcher::Stats() const { return worker_->Stats(); }

uint64_t RetryDelayMs(const DispatcherOptions& options, int retry, uint64_t random) {
  uint64_t delay = std::min(options.initial_backoff_ms, options.max_backoff_ms);
  for (int i = 1; i < retry && delay < options.max_backoff_ms; ++i) {
    delay = std::min(delay * 2, options.max_backoff_ms);
  }
  uint64_t half = delay / 2;
  return half + random % (delay - half + 1);
}

}  // namespace eventide::hooks
