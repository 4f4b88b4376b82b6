#include "src/stream/resume.h"

#include <cstdint>

namespace eventide::stream {

ResumeId ParseResumeId(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  ResumeId r;
  if (text.empty()) return r;
  r.kind = ResumeId::Kind::kMalformed;
  if (text.size() > 20 || (text.size() > 1 && text[0] == '0')) return r;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return r;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return r;  // overflow
    v = v * 10 + d;
  }
  r.kind = ResumeId::Kind::kPosition;
  r.position = wal::Position(v);
  return r;
}

}  // namespace eventide::stream
