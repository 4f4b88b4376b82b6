// Minting development JWTs (`eventide token`, SPEC section 2). Verification
// comes with the auth issue.
#ifndef EVENTIDE_SRC_AUTH_JWT_MINT_H_
#define EVENTIDE_SRC_AUTH_JWT_MINT_H_

#include <string>
#include <string_view>

namespace eventide::auth {

// RFC 4648 section 5, without padding.
std::string Base64UrlEncode(std::string_view bytes);

// header {"alg":"HS256","typ":"JWT"} . claims . HMAC-SHA256(secret).
// REQUIRES: claims_json is a compact JSON object.
std::string MintHs256(std::string_view secret, std::string_view claims_json);

}  // namespace eventide::auth

#endif  // EVENTIDE_SRC_AUTH_JWT_MINT_H_
