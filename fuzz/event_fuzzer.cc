// Fuzzes the event codec: event::Decode never crashes on arbitrary bytes, and
// whatever it accepts re-encodes to exactly the bytes it was given (one
// encoding per event, so a payload can be compared, hashed or re-written
// byte for byte).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "src/event/event.h"
#include "wal/status.h"

namespace {

void Dump(const char* what, std::string_view bytes) {
  std::fprintf(stderr, "%s (%zu bytes):", what, bytes.size());
  for (size_t i = 0; i < bytes.size() && i < 256; ++i) {
    std::fprintf(stderr, " %02x", static_cast<unsigned char>(bytes[i]));
  }
  std::fputc('\n', stderr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eventide::event;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Event e;
  eventide::Status s = Decode(input, &e);
  if (!s.ok()) {
    if (!s.IsCorruption()) {
      std::fprintf(stderr, "Decode failed with %s, expected Corruption\n", s.ToString().c_str());
      std::abort();
    }
    return 0;
  }
  if (e.app.empty() || e.table.empty() || OpName(e.op) == "?") {
    std::fprintf(stderr, "Decode accepted an event without app/table or with a bad op\n");
    std::abort();
  }
  std::string encoded;
  Encode(e, &encoded);
  if (encoded != input || EncodedSize(e) != encoded.size()) {
    std::fprintf(stderr, "round trip changed the bytes (EncodedSize %zu)\n", EncodedSize(e));
    Dump("input  ", input);
    Dump("encoded", encoded);
    std::abort();
  }
  return 0;
}
