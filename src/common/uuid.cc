#include "src/common/uuid.h"

#include <openssl/rand.h>

#include <cstdint>
#include <cstdlib>

namespace eventide {

std::string NewUuidV4() {
  uint8_t b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) std::abort();  // the CSPRNG failing is not recoverable
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[b[i] >> 4]);
    s.push_back(kHex[b[i] & 15]);
  }
  return s;
}

}  // namespace eventide
