// TLS for the server through OpenSSL memory BIOs: the libuv loop owns the
// socket and hands ciphertext in and out, so TLS never blocks the loop.
#ifndef EVENTIDE_SRC_NET_TLS_H_
#define EVENTIDE_SRC_NET_TLS_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "wal/status.h"

namespace eventide::net {

// The oldest queued OpenSSL error of this thread, as its reason text ("" if
// none); clears the queue.
std::string OpenSslError();

// A server SSL_CTX: TLS 1.2 and later, ALPN h2 (when offered) and http/1.1.
class TlsContext {
 public:
  // Loads a PEM certificate chain and its private key; errors name the file
  // and OpenSSL's reason, and a key that does not match the certificate.
  // `offer_h2`: ALPN selects h2 when the client offers it (docs/HTTP2.md).
  static Result<std::unique_ptr<TlsContext>> Load(const std::string& cert_path,
                                                  const std::string& key_path,
                                                  bool offer_h2 = false);
  ~TlsContext();
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// One server-side TLS connection over memory BIOs; does no I/O itself.
// Owner's thread only.
class TlsSession {
 public:
  explicit TlsSession(TlsContext* ctx);  // REQUIRES: ctx outlives the session
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Ciphertext read from the socket; decrypted bytes are appended to *plain.
  // A protocol failure returns an error with OpenSSL's reason; an alert for
  // the peer may then be waiting in the output.
  Status Feed(std::string_view cipher, std::string* plain);
  // Queues application bytes; before the handshake completes they are held
  // and encrypted once it does.
  Status Write(std::string_view plain);
  // Appends the ciphertext waiting to be sent to *out; returns its size.
  size_t TakeOutput(std::string* out);
  bool handshake_done() const { return handshake_done_; }
  // The protocol ALPN selected ("h2", "http/1.1"), "" when none was.
  std::string_view alpn() const;
  bool peer_closed() const { return peer_closed_; }
  // Queues our close_notify.
  void Shutdown();

 private:
  Status Handshake();
  Status FlushHeld();

  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // ciphertext from the peer (owned by ssl_)
  BIO* out_ = nullptr;  // ciphertext to the peer (owned by ssl_)
  std::string held_;    // plaintext written before the handshake finished
  bool handshake_done_ = false;
  bool peer_closed_ = false;
  bool failed_ = false;
};

}  // namespace eventide::net

#endif  // EVENTIDE_SRC_NET_TLS_H_
