// The self-signed certificate `--tls auto` uses (SPEC section 2).
#ifndef EVENTIDE_SRC_NET_CERT_H_
#define EVENTIDE_SRC_NET_CERT_H_

#include <string>

#include "wal/status.h"

namespace eventide::net {

// Makes sure DIR/tls/cert.pem and DIR/tls/key.pem exist. The first call
// generates an EC P-256 key and a self-signed certificate for localhost
// (CN=localhost; subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1; valid
// one year), written atomically, the key mode 0600. Later calls reuse them.
Status EnsureSelfSignedCertificate(const std::string& dir, std::string* cert_path,
                                   std::string* key_path, bool* generated);

}  // namespace eventide::net

#endif  // EVENTIDE_SRC_NET_CERT_H_
