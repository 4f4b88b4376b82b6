// The on-disk format of the log: segment file names, the segment header and
// the entry framing. See FORMAT.md, which is normative; this header and
// FORMAT.md change together.
#ifndef EVENTIDE_WAL_FORMAT_H_
#define EVENTIDE_WAL_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "wal/position.h"

namespace eventide::wal {

// ---- Segment header (32 bytes at offset 0 of every segment) ----
//   0  char[8] magic        "EVTDWAL\n"
//   8  u32     version      kFormatVersion
//  12  u32     header_bytes kSegmentHeaderBytes (room to grow)
//  16  u64     base         position of the first entry in this segment
//  24  u64     checksum     XXH3-64 of bytes [0, 24)
inline constexpr char kSegmentMagic[8] = {'E', 'V', 'T', 'D', 'W', 'A', 'L', '\n'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kSegmentHeaderBytes = 32;

// ---- Entry (32-byte header, then the payload) ----
//   0  u32 length     payload bytes
//   4  u32 flags      must be 0 in version 1
//   8  u64 position
//  16  i64 timestamp  microseconds since the Unix epoch, set by the writer
//  24  u64 checksum   XXH3-64 of header bytes [0, 24) followed by the payload
inline constexpr size_t kEntryHeaderBytes = 32;
// An entry larger than this is refused by the writer and, when read, is
// taken as damage: no reader ever allocates more than this for one entry.
inline constexpr uint32_t kMaxPayloadBytes = 64u << 20;

static_assert(sizeof(kSegmentMagic) == 8);
static_assert(kSegmentHeaderBytes == 8 + 4 + 4 + 8 + 8);
static_assert(kEntryHeaderBytes == 4 + 4 + 8 + 8 + 8);

// Segment files are named by their base position, 20 decimal digits, so that
// lexical order is position order: "00000000000000000001.log".
inline constexpr std::string_view kSegmentSuffix = ".log";
std::string SegmentFileName(Position base);
// The base position named by a segment file name, or nullopt if the name is
// not a segment's.
std::optional<Position> ParseSegmentFileName(std::string_view name);

// Little-endian fixed-width codecs (the format is little-endian on every host).
inline void PutU32(char* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}
inline void PutU64(char* dst, uint64_t v) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t GetU32(const char* src) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(src[i]);
  return v;
}
inline uint64_t GetU64(const char* src) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(src[i]);
  return v;
}

uint64_t Checksum(std::string_view header24, std::string_view payload);

// Segment header.
void EncodeSegmentHeader(Position base, char out[kSegmentHeaderBytes]);
// Returns an empty string when the header is valid and names `base`
// (or any base when `expect_base` is None), otherwise the reason it is not.
std::string CheckSegmentHeader(std::string_view bytes, Position expect_base);

// Entry header. EncodeEntryHeader fills all 32 bytes including the checksum.
struct EntryHeader {
  uint32_t length = 0;
  uint32_t flags = 0;
  Position position;
  int64_t timestamp_us = 0;
  uint64_t checksum = 0;
};
void EncodeEntryHeader(Position position, int64_t timestamp_us, std::string_view payload,
                       char out[kEntryHeaderBytes]);
EntryHeader DecodeEntryHeader(const char* in);

// A complete entry with a valid checksum and flags 0, found by FindValidEntry.
struct FoundEntry {
  uint64_t offset = 0;  // within the bytes searched
  Position position;
  uint64_t bytes = 0;  // header and payload
};

// Searches `bytes` at every byte offset (entries after damage need not start
// where the damaged entry's length says) for the first complete entry whose
// checksum holds and whose position is at least `min_position` and at most
// `min_position` plus one per 32 bytes of offset (a chain cannot advance
// faster). Recovery uses it to tell a torn tail (nothing valid after the
// damage) from corruption followed by good entries (FORMAT.md section 6).
std::optional<FoundEntry> FindValidEntry(std::string_view bytes, Position min_position);

// ---- The synced mark (the file SYNCED in the log directory) ----
//   0  char[8] magic     "EVTDSYN\n"
//   8  u64     base      base position of the segment it describes
//  16  u64     bytes     that segment's length known to be fdatasync'ed
//  24  u64     checksum  XXH3-64 of bytes [0, 24)
// Rewritten in place (never synced on the write path) after each fdatasync of
// the active segment: a lower bound on what is durable, so recovery knows
// that damage before it is not a crash's doing.
inline constexpr char kSyncedMarkMagic[8] = {'E', 'V', 'T', 'D', 'S', 'Y', 'N', '\n'};
inline constexpr size_t kSyncedMarkBytes = 32;
inline constexpr std::string_view kSyncedMarkFileName = "SYNCED";

struct SyncedMark {
  Position base;
  uint64_t bytes = 0;
};
void EncodeSyncedMark(const SyncedMark& mark, char out[kSyncedMarkBytes]);
// Empty when `bytes` is a valid mark (filled into *mark), otherwise why not.
std::string DecodeSyncedMark(std::string_view bytes, SyncedMark* mark);

}  // namespace eventide::wal

#endif  // EVENTIDE_WAL_FORMAT_H_
