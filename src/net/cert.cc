#include "src/net/cert.h"

#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>

namespace eventide::net {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

std::string OpenSslError(const char* what) {
  char buf[256] = "unknown error";
  unsigned long e = ERR_get_error();
  if (e) ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return std::string(what) + ": " + buf;
}

bool AddExt(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

Status WriteFileAtomically(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::FromErrno("open " + tmp, errno);
  ::fchmod(fd, mode);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno("write " + tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("fsync " + tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno("rename " + tmp, errno);
  return Status::OK();
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace

Status EnsureSelfSignedCertificate(const std::string& dir, std::string* cert_path,
                                   std::string* key_path, bool* generated) {
  const std::string tls_dir = dir + "/tls";
  *cert_path = tls_dir + "/cert.pem";
  *key_path = tls_dir + "/key.pem";
  *generated = false;
  std::error_code ec;
  if (std::filesystem::exists(*cert_path, ec) && std::filesystem::exists(*key_path, ec)) {
    return Status::OK();
  }
  std::filesystem::create_directories(tls_dir, ec);
  if (ec) return Status::IOError("create " + tls_dir + ": " + ec.message());

  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::IOError(OpenSslError("generate EC key"));
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Eventide development"), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  if (!AddExt(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") ||
      !AddExt(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExt(cert.get(), NID_key_usage, "critical,digitalSignature") ||
      !AddExt(cert.get(), NID_ext_key_usage, "serverAuth") ||
      !AddExt(cert.get(), NID_subject_key_identifier, "hash")) {
    return Status::IOError(OpenSslError("certificate extensions"));
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Status::IOError(OpenSslError("sign certificate"));
  }
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1 ||
      PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) {
    return Status::IOError(OpenSslError("PEM encode"));
  }
  // The key first: a certificate without its key would be reused as is.
  Status s = WriteFileAtomically(*key_path, BioText(key_bio.get()), 0600);
  if (s.ok()) s = WriteFileAtomically(*cert_path, BioText(cert_bio.get()), 0644);
  if (!s.ok()) return s;
  int dfd = ::open(tls_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  *generated = true;
  return Status::OK();
}

}  // namespace eventide::net
