// JWT verification (src/auth/jwt.h): every algorithm with keys made here by
// OpenSSL, and every way a token can be wrong.
#include "src/auth/jwt.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>

#include "src/auth/jwt_mint.h"
#include "src/common/utf8.h"

namespace eventide::auth {
namespace {

constexpr int64_t kNow = 1'800'000'000;

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

Key NewRsa() { return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})); }
Key NewEc() { return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }

std::string PublicPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

// Signs header.claims with `key` (RS256 or ES256, by the key's type).
std::string Sign(EVP_PKEY* key, const std::string& alg, const std::string& claims) {
  std::string signing =
      Base64UrlEncode(R"({"alg":")" + alg + R"(","typ":"JWT"})") + "." + Base64UrlEncode(claims);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(signing.data()),
                 signing.size());
  std::string sig(len, '\0');
  EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(signing.data()), signing.size());
  sig.resize(len);
  EVP_MD_CTX_free(md);
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    // DER -> R || S, 32 bytes each (RFC 7518 section 3.4).
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(es);
    sig = raw;
  }
  return signing + "." + Base64UrlEncode(sig);
}

VerifierOptions Options(std::string secret, std::string pem) {
  VerifierOptions o;
  o.hs256_secret = std::move(secret);
  o.public_key_pem = std::move(pem);
  return o;
}

std::unique_ptr<Verifier> Make(VerifierOptions o) {
  auto v = Verifier::Create(o);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? std::move(v).value() : nullptr;
}

const std::string kClaims = R"({"sub":"ann","account":"acme","admin":true,"n":42,"exp":)" +
                            std::to_string(kNow + 3600) + "}";

TEST(JwtTest, Hs256VerifiesAndExposesTheClaims) {
  auto v = Make(Options("s3cret", ""));
  Verdict r = v->Verify(MintHs256("s3cret", kClaims), kNow);
  ASSERT_TRUE(r.ok) << r.code << ": " << r.message;
  EXPECT_EQ(r.claims.subject, "ann");
  EXPECT_EQ(r.claims.expires, kNow + 3600);
  EXPECT_EQ(r.claims.values.at("account"), "acme");
  EXPECT_EQ(r.claims.values.at("admin"), "true");
  EXPECT_EQ(r.claims.values.at("n"), "42");
  EXPECT_EQ(r.claims.json, kClaims);
}

TEST(JwtTest, Rs256AndEs256Verify) {
  Key rsa = NewRsa(), ec = NewEc();
  auto vr = Make(Options("", PublicPem(rsa.get())));
  EXPECT_TRUE(vr->Verify(Sign(rsa.get(), "RS256", kClaims), kNow).ok);
  auto ve = Make(Options("", PublicPem(ec.get())));
  Verdict r = ve->Verify(Sign(ec.get(), "ES256", kClaims), kNow);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.claims.subject, "ann");
}

TEST(JwtTest, ATokenFromAnotherKeyIsRefused) {
  Key rsa = NewRsa(), other_rsa = NewRsa(), ec = NewEc(), other_ec = NewEc();
  auto vr = Make(Options("", PublicPem(rsa.get())));
  Verdict r = vr->Verify(Sign(other_rsa.get(), "RS256", kClaims), kNow);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.code, "token_invalid");
  auto ve = Make(Options("", PublicPem(ec.get())));
  EXPECT_FALSE(ve->Verify(Sign(other_ec.get(), "ES256", kClaims), kNow).ok);
  auto vh = Make(Options("right", ""));
  EXPECT_FALSE(vh->Verify(MintHs256("wrong", kClaims), kNow).ok);
}

TEST(JwtTest, ExpiryAndNotBeforeWithLeeway) {
  auto v = Make(Options("k", ""));
  auto token = [](const std::string& claims) { return MintHs256("k", claims); };
  Verdict expired = v->Verify(token(R"({"exp":)" + std::to_string(kNow - 31) + "}"), kNow);
  EXPECT_FALSE(expired.ok);
  EXPECT_EQ(expired.code, "token_expired");
  EXPECT_TRUE(v->Verify(token(R"({"exp":)" + std::to_string(kNow - 30) + "}"), kNow).ok)
      << "within the leeway";
  Verdict early = v->Verify(token(R"({"nbf":)" + std::to_string(kNow + 31) + "}"), kNow);
  EXPECT_FALSE(early.ok);
  EXPECT_EQ(early.code, "token_invalid");
  EXPECT_TRUE(v->Verify(token(R"({"nbf":)" + std::to_string(kNow + 30) + "}"), kNow).ok);
  EXPECT_TRUE(v->Verify(token(R"({"sub":"no expiry"})"), kNow).ok);
  EXPECT_FALSE(v->Verify(token(R"({"exp":"tomorrow"})"), kNow).ok);
  EXPECT_TRUE(v->Verify(token(R"({"exp":)" + std::to_string(kNow + 10) + ".5}"), kNow).ok)
      << "NumericDate may have a fraction";
}

TEST(JwtTest, AlgNoneAndAlgorithmConfusionAreRefused) {
  Key rsa = NewRsa();
  const std::string pem = PublicPem(rsa.get());
  auto v = Make(Options("k", pem));
  // alg none: no signature at all.
  std::string none = Base64UrlEncode(R"({"alg":"none"})") + "." + Base64UrlEncode(kClaims) + ".";
  Verdict r = v->Verify(none, kNow);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("not accepted"), std::string::npos) << r.message;
  // An HS256 token "signed" with the RSA public key as the secret is not
  // accepted by a verifier that only has that public key.
  auto rsa_only = Make(Options("", pem));
  EXPECT_FALSE(rsa_only->Verify(MintHs256(pem, kClaims), kNow).ok);
  // A token whose alg names a key type the verifier does not hold.
  EXPECT_FALSE(rsa_only->Verify(Sign(NewEc().get(), "ES256", kClaims), kNow).ok);
  // The header says RS256 but the signature is an HMAC.
  std::string hs = MintHs256("k", kClaims);
  std::string forged = Base64UrlEncode(R"({"alg":"RS256"})") + hs.substr(hs.find('.'));
  EXPECT_FALSE(v->Verify(forged, kNow).ok);
}

// The token with the first character of its signature changed.
std::string Tampered(std::string token) {
  char& c = token[token.rfind('.') + 1];
  c = c == 'A' ? 'B' : 'A';
  return token;
}

TEST(JwtTest, MalformedTokensSayWhy) {
  auto v = Make(Options("k", ""));
  const std::string good = MintHs256("k", kClaims);
  const std::string h = good.substr(0, good.find('.'));
  struct Case {
    std::string token, why;
  } cases[] = {
      {"", "three"},
      {"abc", "three"},
      {"a.b", "three"},
      {good + ".x", "three"},
      {"a!.b.c", "base64url"},
      {h + ".eyJ=.c", "base64url"},
      {Base64UrlEncode("not json") + "." + Base64UrlEncode("{}") + ".AA", "header"},
      {Base64UrlEncode(R"({"typ":"JWT"})") + "." + Base64UrlEncode("{}") + ".AA", "alg"},
      {Base64UrlEncode(R"({"alg":5})") + "." + Base64UrlEncode("{}") + ".AA", "alg"},
      {MintHs256("k", "[1,2]"), "claims"},
      {MintHs256("k", "not json"), "claims"},
      {Tampered(good), "signature"},
      {good.substr(0, good.rfind('.') + 1), "signature"},
  };
  for (const Case& c : cases) {
    Verdict r = v->Verify(c.token, kNow);
    EXPECT_FALSE(r.ok) << c.token;
    EXPECT_EQ(r.code, "token_invalid") << c.token;
    EXPECT_NE(r.message.find(c.why), std::string::npos) << c.token << " -> " << r.message;
  }
}

TEST(JwtTest, TokensThatAreNotUtf8AreRefusedAndTheMessageIsUtf8) {
  auto v = Make(Options("k", ""));
  // Signed, so only the encoding is wrong: the subject and claims would be
  // logged with every write, and a message quoting "alg" sent in a frame.
  const std::string bad_claims[] = {
      "{\"sub\":\"\xff\xfe\",\"exp\":9999999999}",
      R"({"sub":"\udc00","exp":9999999999})",
  };
  for (const std::string& claims : bad_claims) {
    Verdict r = v->Verify(MintHs256("k", claims), kNow);
    EXPECT_FALSE(r.ok) << claims;
    EXPECT_EQ(r.code, "token_invalid");
    EXPECT_NE(r.message.find("UTF-8"), std::string::npos) << r.message;
  }
  Verdict alg =
      v->Verify(Base64UrlEncode("{\"alg\":\"\xff\"}") + "." + Base64UrlEncode("{}") + ".AA", kNow);
  EXPECT_FALSE(alg.ok);
  EXPECT_TRUE(IsUtf8(alg.message)) << alg.message;
  // Cut at 16 bytes, an alg made of two-byte characters keeps whole ones.
  Verdict long_alg = v->Verify(Base64UrlEncode("{\"alg\":\"x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                               "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}") +
                                   "." + Base64UrlEncode("{}") + ".AA",
                               kNow);
  EXPECT_FALSE(long_alg.ok);
  EXPECT_TRUE(IsUtf8(long_alg.message)) << long_alg.message;
}

TEST(JwtTest, KeysAreCheckedAtStartUp) {
  EXPECT_FALSE(Verifier::Create(Options("", "-----BEGIN PUBLIC KEY-----\nnope\n")).ok());
  Key small(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
  EXPECT_FALSE(Verifier::Create(Options("", PublicPem(small.get()))).ok());
  Key p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  auto r = Verifier::Create(Options("", PublicPem(p384.get())));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("P-256"), std::string::npos);
}

TEST(JwtTest, Base64UrlDecodeIsStrict) {
  std::string out;
  EXPECT_TRUE(Base64UrlDecode("aGk", &out));
  EXPECT_EQ(out, "hi");
  EXPECT_FALSE(Base64UrlDecode("aGk=", &out)) << "no padding";
  EXPECT_FALSE(Base64UrlDecode("aGl", &out)) << "non-zero leftover bits";
  EXPECT_FALSE(Base64UrlDecode("a", &out)) << "no encoding is 1 mod 4 long";
  EXPECT_FALSE(Base64UrlDecode("a+b/", &out)) << "base64, not base64url";
  EXPECT_TRUE(Base64UrlDecode("", &out));
}

}  // namespace
}  // namespace eventide::auth
