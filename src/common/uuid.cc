#include "src/common/uuid.h"

#include <openssl/rand.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace eventide {

std::string NewUuidV4() {
  // Random bytes are drawn from OpenSSL 4 KiB at a time: RAND_bytes costs a
  // getpid() (its fork check) and a lock per call, which per record showed up
  // in the write path's syscall count.
  thread_local uint8_t pool[4096];
  thread_local size_t used = sizeof(pool);
  if (used + 16 > sizeof(pool)) {
    if (RAND_bytes(pool, sizeof(pool)) != 1) std::abort();  // the CSPRNG failing is not recoverable
    used = 0;
  }
  uint8_t b[16];
  std::memcpy(b, pool + used, sizeof(b));
  std::memset(pool + used, 0, sizeof(b));  // an id's randomness is used once
  used += sizeof(b);
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
