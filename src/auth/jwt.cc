#include "src/auth/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <rapidjson/document.h>

#include <cmath>
#include <cstring>

#include "src/common/utf8.h"

namespace eventide::auth {
namespace {

Verdict Invalid(std::string message) {
  Verdict v;
  v.code = "token_invalid";
  v.message = std::move(message);
  return v;
}

int Sextet(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// RS256/ES256 verification of `signature` over `signed_part` with SHA-256.
bool VerifyDigest(EVP_PKEY* key, std::string_view signed_part, const unsigned char* sig,
                  size_t sig_len) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  if (md == nullptr) return false;
  bool ok =
      EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(md, sig, sig_len, reinterpret_cast<const unsigned char*>(signed_part.data()),
                       signed_part.size()) == 1;
  EVP_MD_CTX_free(md);
  return ok;
}

// JWS ES256 signatures are R || S, 32 bytes each (RFC 7518 section 3.4);
// OpenSSL verifies the DER ECDSA-Sig-Value.
bool RawEcdsaToDer(std::string_view raw, std::string* der) {
  if (raw.size() != 64) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return false;
  }
  unsigned char* out = nullptr;
  int n = i2d_ECDSA_SIG(sig, &out);
  ECDSA_SIG_free(sig);
  if (n <= 0) return false;
  der->assign(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  return true;
}

// A NumericDate claim (RFC 7519 section 2): a JSON number of seconds.
bool NumericDate(const rapidjson::Value& v, int64_t* out) {
  if (v.IsInt64()) {
    *out = v.GetInt64();
    return true;
  }
  if (v.IsNumber() && std::isfinite(v.GetDouble()) && std::fabs(v.GetDouble()) < 1e15) {
    *out = static_cast<int64_t>(v.GetDouble());
    return true;
  }
  return false;
}

}  // namespace

struct Verifier::Keys {
  std::string secret;       // HS256
  EVP_PKEY* rsa = nullptr;  // RS256
  EVP_PKEY* ec = nullptr;   // ES256 (P-256)
  ~Keys() {
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
  }
};

bool Base64UrlDecode(std::string_view in, std::string* out) {
  out->clear();
  if (in.size() % 4 == 1) return false;
  out->reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    int v = Sextet(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // The leftover bits of the last character must be zero (a canonical
  // encoding), or two strings would decode to the same bytes.
  return (acc & ((1u << bits) - 1)) == 0;
}

Result<std::unique_ptr<Verifier>> Verifier::Create(const VerifierOptions& options) {
  std::unique_ptr<Verifier> v(new Verifier());
  v->keys_ = std::make_unique<Keys>();
  v->keys_->secret = options.hs256_secret;
  v->leeway_ = options.leeway_seconds;
  if (!options.public_key_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(options.public_key_pem.data(),
                               static_cast<int>(options.public_key_pem.size()));
    EVP_PKEY* key = bio ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(bio);
    if (key == nullptr) {
      return Status::InvalidArgument("the JWT public key is not a PEM public key");
    }
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
      if (EVP_PKEY_get_bits(key) < 2048) {
        EVP_PKEY_free(key);
        return Status::InvalidArgument("the JWT RSA key is shorter than 2048 bits");
      }
      v->keys_->rsa = key;
    } else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
      char group[64] = {};
      size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                         &len) != 1 ||
          std::strcmp(group, "prime256v1") != 0) {
        EVP_PKEY_free(key);
        return Status::InvalidArgument("the JWT EC key is not on P-256 (ES256 needs P-256)");
      }
      v->keys_->ec = key;
    } else {
      EVP_PKEY_free(key);
      return Status::InvalidArgument("the JWT public key is neither RSA nor EC");
    }
  }
  return v;
}

Verifier::~Verifier() = default;

Verdict Verifier::Verify(std::string_view token, int64_t now_s) const {
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Invalid("a token is three base64url parts joined by '.'");
  }
  std::string header, payload, signature;
  if (!Base64UrlDecode(token.substr(0, dot1), &header) ||
      !Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1), &payload) ||
      !Base64UrlDecode(token.substr(dot2 + 1), &signature)) {
    return Invalid("a part of the token is not base64url");
  }
  // Both parts through the one parser of client JSON: what is not UTF-8
  // would reach error messages ("alg") and, for the claims, the log (the
  // subject, a tenant stamped into records) and so frames (src/common/utf8.h).
  rapidjson::Document h;
  if (!ParseJsonInput(header, &h, "the token's header").ok() || !h.IsObject()) {
    return Invalid("the token's header is not a JSON object in UTF-8");
  }
  auto alg_it = h.FindMember("alg");
  if (alg_it == h.MemberEnd() || !alg_it->value.IsString()) {
    return Invalid("the token's header has no \"alg\"");
  }
  const std::string_view alg(alg_it->value.GetString(), alg_it->value.GetStringLength());
  const std::string_view signed_part = token.substr(0, dot2);
  bool good = false;
  if (alg == "HS256" && !keys_->secret.empty()) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), keys_->secret.data(), static_cast<int>(keys_->secret.size()),
         reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), mac,
         &mac_len);
    good = signature.size() == mac_len && CRYPTO_memcmp(mac, signature.data(), mac_len) == 0;
  } else if (alg == "RS256" && keys_->rsa != nullptr) {
    good = VerifyDigest(keys_->rsa, signed_part,
                        reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
  } else if (alg == "ES256" && keys_->ec != nullptr) {
    std::string der;
    good = RawEcdsaToDer(signature, &der) &&
           VerifyDigest(keys_->ec, signed_part, reinterpret_cast<const unsigned char*>(der.data()),
                        der.size());
  } else {
    std::string shown(alg.substr(0, 16));
    while (!IsUtf8(shown)) shown.pop_back();  // not cut inside a character
    return Invalid("algorithm \"" + shown + "\" is not accepted by this server");
  }
  if (!good) return Invalid("the token's signature does not verify");

  rapidjson::Document c;
  if (!ParseJsonInput(payload, &c, "the token's claims").ok() || !c.IsObject()) {
    return Invalid("the token's claims are not a JSON object in UTF-8");
  }
  Verdict v;
  v.claims.json = payload;
  for (auto& m : c.GetObject()) {
    std::string name(m.name.GetString(), m.name.GetStringLength());
    const rapidjson::Value& val = m.value;
    if (val.IsString()) {
      v.claims.values[name].assign(val.GetString(), val.GetStringLength());
    } else if (val.IsBool()) {
      v.claims.values[name] = val.GetBool() ? "true" : "false";
    } else if (val.IsInt64()) {
      v.claims.values[name] = std::to_string(val.GetInt64());
    } else if (val.IsNumber()) {
      v.claims.values[name] = std::to_string(val.GetDouble());
    }
  }
  if (auto sub = c.FindMember("sub"); sub != c.MemberEnd() && sub->value.IsString()) {
    v.claims.subject.assign(sub->value.GetString(), sub->value.GetStringLength());
  }
  if (auto exp = c.FindMember("exp"); exp != c.MemberEnd()) {
    if (!NumericDate(exp->value, &v.claims.expires)) return Invalid("\"exp\" is not a number");
    if (now_s > v.claims.expires + leeway_) {
      v.code = "token_expired";
      v.message = "the token expired at " + std::to_string(v.claims.expires);
      return v;
    }
  }
  if (auto nbf = c.FindMember("nbf"); nbf != c.MemberEnd()) {
    int64_t not_before = 0;
    if (!NumericDate(nbf->value, &not_before)) return Invalid("\"nbf\" is not a number");
    if (now_s + leeway_ < not_before) {
      return Invalid("the token is not valid before " + std::to_string(not_before));
    }
  }
  v.ok = true;
  return v;
}

}  // namespace eventide::auth
