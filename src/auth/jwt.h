// Verifying JWTs (SPEC section 8; RFC 7519 with the JWS compact form of
// RFC 7515): HS256 with a shared secret, RS256 and ES256 with PEM public
// keys, `exp` and `nbf` with a clock leeway. OpenSSL does the cryptography.
//
//   base64url(header) . base64url(claims) . base64url(signature)
//
// The header's `alg` must be one the verifier holds a key for: "none", an
// unknown algorithm, or an algorithm without its key is refused — so an RSA
// public key is never taken for an HMAC secret ("algorithm confusion").
//
// Every failure says which, with a stable code: `token_invalid` (malformed,
// bad signature, not yet valid) or `token_expired`.
#ifndef EVENTIDE_SRC_AUTH_JWT_H_
#define EVENTIDE_SRC_AUTH_JWT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "wal/status.h"

namespace eventide::auth {

// What a verified token says.
struct Claims {
  std::string subject;  // "sub" ("" when absent)
  int64_t expires = 0;  // "exp", seconds since the epoch (0: none)
  // Every top-level claim whose value is a string, a number or a boolean, as
  // text ("true", "42", "ann"): what policies compare ($auth.NAME).
  std::map<std::string, std::string> values;
  std::string json;  // the claims object as sent
};

// The result of a verification: ok, or a code and a message.
struct Verdict {
  bool ok = false;
  std::string code;  // "token_invalid" | "token_expired"
  std::string message;
  Claims claims;
};

struct VerifierOptions {
  std::string hs256_secret;     // "" = HS256 not accepted
  std::string public_key_pem;   // an RSA (RS256) or P-256 EC (ES256) public key, or ""
  int64_t leeway_seconds = 30;  // allowed clock skew for exp and nbf
};

class Verifier {
 public:
  // Loads the keys; an error names what is wrong with them (a start-up error).
  static Result<std::unique_ptr<Verifier>> Create(const VerifierOptions& options);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // `now_s`: seconds since the epoch.
  Verdict Verify(std::string_view token, int64_t now_s) const;

 private:
  Verifier() = default;
  struct Keys;
  std::unique_ptr<Keys> keys_;
  int64_t leeway_ = 30;
};

// RFC 4648 section 5 without padding; false on any other character, or a
// length no encoding has.
bool Base64UrlDecode(std::string_view in, std::string* out);

}  // namespace eventide::auth

#endif  // EVENTIDE_SRC_AUTH_JWT_H_
