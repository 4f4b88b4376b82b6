#include "wal/format.h"

// Inlined: the checksum is on the hot path of every append and every read.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cstdio>

namespace eventide::wal {

std::string SegmentFileName(Position base) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu.log", static_cast<unsigned long long>(base.value()));
  return name;
}

std::optional<Position> ParseSegmentFileName(std::string_view name) {
  if (name.size() != 20 + kSegmentSuffix.size()) return std::nullopt;
  if (name.substr(20) != kSegmentSuffix) return std::nullopt;
  uint64_t v = 0;
  for (char c : name.substr(0, 20)) {
    if (c < '0' || c > '9') return std::nullopt;
    // 20 digits can exceed 2^64; positions never get near, so refuse.
    if (v > (UINT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v == 0) return std::nullopt;
  return Position(v);
}

uint64_t Checksum(std::string_view header24, std::string_view payload) {
  // One streaming state so that the checksum covers header and payload as a
  // single byte string without copying them together.
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, header24.data(), header24.size());
  XXH3_64bits_update(&state, payload.data(), payload.size());
  return XXH3_64bits_digest(&state);
}

void EncodeSegmentHeader(Position base, char out[kSegmentHeaderBytes]) {
  std::memcpy(out, kSegmentMagic, 8);
  PutU32(out + 8, kFormatVersion);
  PutU32(out + 12, kSegmentHeaderBytes);
  PutU64(out + 16, base.value());
  PutU64(out + 24, XXH3_64bits(out, 24));
}

std::string CheckSegmentHeader(std::string_view bytes, Position expect_base) {
  if (bytes.size() < kSegmentHeaderBytes) return "segment header is short";
  const char* p = bytes.data();
  if (std::memcmp(p, kSegmentMagic, 8) != 0) return "bad magic: not an Eventide log segment";
  if (GetU64(p + 24) != XXH3_64bits(p, 24)) return "segment header checksum mismatch";
  uint32_t version = GetU32(p + 8);
  if (version != kFormatVersion) {
    return "unsupported format version " + std::to_string(version);
  }
  if (GetU32(p + 12) != kSegmentHeaderBytes) return "unexpected segment header size";
  uint64_t base = GetU64(p + 16);
  if (!expect_base.IsNone() && base != expect_base.value()) {
    return "header base position " + std::to_string(base) + " does not match the file name";
  }
  return {};
}

void EncodeEntryHeader(Position position, int64_t timestamp_us, std::string_view payload,
                       char out[kEntryHeaderBytes]) {
  PutU32(out, static_cast<uint32_t>(payload.size()));
  PutU32(out + 4, 0);
  PutU64(out + 8, position.value());
  PutU64(out + 16, static_cast<uint64_t>(timestamp_us));
  PutU64(out + 24, Checksum(std::string_view(out, 24), payload));
}

EntryHeader DecodeEntryHeader(const char* in) {
  EntryHeader h;
  h.length = GetU32(in);
  h.flags = GetU32(in + 4);
  h.position = Position(GetU64(in + 8));
  h.timestamp_us = static_cast<int64_t>(GetU64(in + 16));
  h.checksum = GetU64(in + 24);
  return h;
}

std::optional<FoundEntry> FindValidEntry(std::string_view bytes, Position min_position) {
  const char* p = bytes.data();
  const size_t n = bytes.size();
  for (size_t off = 0; off + kEntryHeaderBytes <= n; ++off) {
    // Cheap filters first: the flags word is zero, the position is in range
    // and the entry fits. Zero-filled space fails the position test, so a
    // torn tail of zeros is skipped without a checksum.
    if (GetU32(p + off + 4) != 0) continue;
    uint64_t pos = GetU64(p + off + 8);
    if (pos == 0) {
      // Zero-filled space (what a crash leaves most often): an entry needs a
      // non-zero byte in its position field, so skip to where the next
      // non-zero byte could be part of one.
      size_t z = off + 16;
      while (z < n && p[z] == 0) ++z;
      off = std::max(off, z - 16);
      continue;
    }
    if (pos < min_position.value() || pos > min_position.value() + off / kEntryHeaderBytes + 1) {
      continue;
    }
    uint32_t length = GetU32(p + off);
    if (length > kMaxPayloadBytes || length > n - off - kEntryHeaderBytes) continue;
    std::string_view payload(p + off + kEntryHeaderBytes, length);
    if (Checksum(std::string_view(p + off, 24), payload) != GetU64(p + off + 24)) continue;
    return FoundEntry{off, Position(pos), kEntryHeaderBytes + uint64_t{length}};
  }
  return std::nullopt;
}

void EncodeSyncedMark(const SyncedMark& mark, char out[kSyncedMarkBytes]) {
  std::memcpy(out, kSyncedMarkMagic, 8);
  PutU64(out + 8, mark.base.value());
  PutU64(out + 16, mark.bytes);
  PutU64(out + 24, XXH3_64bits(out, 24));
}

std::string DecodeSyncedMark(std::string_view bytes, SyncedMark* mark) {
  if (bytes.size() != kSyncedMarkBytes) {
    return "is " + std::to_string(bytes.size()) + " bytes, not " + std::to_string(kSyncedMarkBytes);
  }
  const char* p = bytes.data();
  if (std::memcmp(p, kSyncedMarkMagic, 8) != 0) return "has a bad magic";
  if (GetU64(p + 24) != XXH3_64bits(p, 24)) return "checksum mismatch";
  mark->base = Position(GetU64(p + 8));
  mark->bytes = GetU64(p + 16);
  if (mark->base.IsNone()) return "names base position 0";
  if (mark->bytes < kSegmentHeaderBytes) return "records fewer bytes than a segment header";
  return {};
}

}  // namespace eventide::wal
