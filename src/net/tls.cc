#include "src/net/tls.h"

#include <openssl/err.h>

namespace eventide::net {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  std::string out;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    const char* reason = ERR_reason_error_string(e);
    out = reason ? reason : buf;
  }
  ERR_clear_error();
  return out;
}

namespace {

// The server's preference comes first: h2 (when on), then http/1.1.
int AlpnSelect(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void* arg) {
  static const unsigned char kBoth[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  const bool h2 = arg != nullptr;
  const unsigned char* ours = h2 ? kBoth : kBoth + 3;
  const unsigned int ours_len = h2 ? sizeof(kBoth) : sizeof(kBoth) - 3;
  unsigned char* sel = nullptr;
  if (SSL_select_next_proto(&sel, outlen, ours, ours_len, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;  // no ALPN, or none of ours: go on without it
}

}  // namespace

Result<std::unique_ptr<TlsContext>> TlsContext::Load(const std::string& cert_path,
                                                     const std::string& key_path, bool offer_h2) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return Status::IOError("SSL_CTX_new: " + OpenSslError());
  std::unique_ptr<TlsContext> holder(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // A non-null argument means "offer h2" (the callback reads no more of it).
  static char h2_on = 1;
  SSL_CTX_set_alpn_select_cb(ctx, AlpnSelect, offer_h2 ? &h2_on : nullptr);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_path.c_str()) != 1) {
    return Status::InvalidArgument("TLS certificate " + cert_path + ": " + OpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Status::InvalidArgument("TLS key " + key_path + ": " + OpenSslError());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status::InvalidArgument("TLS key " + key_path + " does not match certificate " +
                                   cert_path + ": " + OpenSslError());
  }
  return holder;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

TlsSession::TlsSession(TlsContext* ctx) {
  ssl_ = SSL_new(ctx->get());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  // An empty memory BIO means "no data yet", not EOF.
  BIO_set_mem_eof_return(in_, -1);
  BIO_set_mem_eof_return(out_, -1);
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

Status TlsSession::Handshake() {
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    handshake_done_ = true;
    return FlushHeld();
  }
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::OK();
  failed_ = true;
  std::string why = OpenSslError();
  return Status::InvalidArgument("TLS handshake failed: " + (why.empty() ? "protocol error" : why));
}

Status TlsSession::FlushHeld() {
  if (held_.empty()) return Status::OK();
  std::string held;
  held.swap(held_);
  return Write(held);
}

Status TlsSession::Feed(std::string_view cipher, std::string* plain) {
  if (failed_) return Status::InvalidArgument("TLS session already failed");
  while (!cipher.empty()) {
    int n = BIO_write(in_, cipher.data(), static_cast<int>(cipher.size()));
    if (n <= 0) return Status::IOError("BIO_write failed");
    cipher.remove_prefix(static_cast<size_t>(n));
  }
  if (!handshake_done_) {
    Status s = Handshake();
    if (!s.ok() || !handshake_done_) return s;
  }
  char buf[16384];
  for (;;) {
    int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) {
      plain->append(buf, static_cast<size_t>(n));
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::OK();
    if (err == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      return Status::OK();
    }
    failed_ = true;
    std::string why = OpenSslError();
    return Status::InvalidArgument("TLS error: " + (why.empty() ? "protocol error" : why));
  }
}

Status TlsSession::Write(std::string_view plain) {
  if (failed_) return Status::InvalidArgument("TLS session already failed");
  if (!handshake_done_) {
    held_.append(plain);
    return Status::OK();
  }
  while (!plain.empty()) {
    int n =
        SSL_write(ssl_, plain.data(), static_cast<int>(std::min<size_t>(plain.size(), 1 << 30)));
    if (n <= 0) {
      failed_ = true;
      return Status::IOError("TLS write failed: " + OpenSslError());
    }
    plain.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

size_t TlsSession::TakeOutput(std::string* out) {
  size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return 0;
  size_t at = out->size();
  out->resize(at + pending);
  int n = BIO_read(out_, out->data() + at, static_cast<int>(pending));
  out->resize(at + (n > 0 ? static_cast<size_t>(n) : 0));
  return n > 0 ? static_cast<size_t>(n) : 0;
}

std::string_view TlsSession::alpn() const {
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl_, &p, &n);
  return p == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(p), n);
}

void TlsSession::Shutdown() {
  if (failed_ || !handshake_done_) return;
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace eventide::net
