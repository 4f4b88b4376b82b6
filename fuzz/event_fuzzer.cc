// Fuzzes the event codec: event::Decode never crashes on arbitrary bytes, and
// whatever it accepts re-encodes to exactly the bytes it was given (one
// encoding per event, so a payload can be compared, hashed or re-written
// byte for byte).
//
// The checks run from the worst failure to the mildest, so that the message
// names the worst: views outside the input, then an encoding that decodes to
// a different event, and only then bytes that differ.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "src/event/event.h"
#include "wal/status.h"

namespace {

using eventide::event::Event;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "event_fuzzer: check failed: %s\n", what);
  std::abort();
}

void Dump(const char* what, std::string_view bytes) {
  std::fprintf(stderr, "%s (%zu bytes):", what, bytes.size());
  for (size_t i = 0; i < bytes.size() && i < 256; ++i) {
    std::fprintf(stderr, " %02x", static_cast<unsigned char>(bytes[i]));
  }
  std::fputc('\n', stderr);
}

// Decode promises views into the payload it was given.
bool Inside(std::string_view field, std::string_view payload) {
  if (field.empty()) return true;
  return field.data() >= payload.data() &&
         field.data() + field.size() <= payload.data() + payload.size();
}

bool SameEvent(const Event& a, const Event& b) {
  return a.op == b.op && a.time_ms == b.time_ms && a.app == b.app && a.table == b.table &&
         a.id == b.id && a.tenant == b.tenant && a.subject == b.subject && a.data == b.data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eventide::event;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Event e;
  eventide::Status s = Decode(input, &e);
  if (!s.ok()) {
    if (!s.IsCorruption()) {
      std::fprintf(stderr, "Decode failed with %s\n", s.ToString().c_str());
      Die("Decode fails only with Corruption");
    }
    return 0;
  }
  if (e.app.empty() || e.table.empty()) Die("Decode accepted an empty app or table");
  if (OpName(e.op) == "?") Die("Decode accepted an unknown op");
  for (std::string_view f : {e.app, e.table, e.id, e.tenant, e.subject, e.data}) {
    if (!Inside(f, input)) Die("a decoded field points outside the payload");
  }

  std::string encoded;
  Encode(e, &encoded);
  if (EncodedSize(e) != encoded.size()) Die("EncodedSize differs from Encode's size");
  Event again;
  s = Decode(encoded, &again);
  if (!s.ok()) {
    std::fprintf(stderr, "Decode(Encode(e)): %s\n", s.ToString().c_str());
    Dump("input  ", input);
    Dump("encoded", encoded);
    Die("Decode refuses what Encode wrote");
  }
  if (!SameEvent(e, again)) {
    Dump("input  ", input);
    Dump("encoded", encoded);
    Die("Decode(Encode(e)) is not e");
  }
  if (encoded != input) {
    std::fprintf(stderr, "round trip changed the bytes (EncodedSize %zu)\n", EncodedSize(e));
    Dump("input  ", input);
    Dump("encoded", encoded);
    Die("Encode(Decode(bytes)) is not bytes");
  }
  return 0;
}
