// The entry codec: what one log entry's payload records. One event on a
// table: a create, update, delete or publish, with the record or message as
// JSON bytes. The server encodes, the projection, cursors and eventide-log
// decode. The bytes are described in wal/FORMAT.md ("Entry payload").
#ifndef EVENTIDE_SRC_EVENT_EVENT_H_
#define EVENTIDE_SRC_EVENT_EVENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wal/status.h"

namespace eventide::event {

enum class Op : uint8_t {
  kCreate = 1,
  kUpdate = 2,   // replace or merge: `data` is the whole record after the write
  kDelete = 3,   // `data` is the record's last state before the delete
  kPublish = 4,  // a message to the topic; changes no record
};

// "create", "update", "delete", "publish".
std::string_view OpName(Op op);
std::optional<Op> ParseOp(std::string_view name);

// Version 1 has no `prev`; version 2 is version 1 plus a non-empty `prev`.
// Encode writes version 1 whenever `prev` is empty, so each event has one
// encoding.
inline constexpr uint8_t kEventVersion = 1;
inline constexpr uint8_t kEventVersionWithPrev = 2;

// An event. Decode fills the views with pointers into the payload it was
// given, so a decoded Event lives no longer than that payload.
struct Event {
  Op op = Op::kCreate;
  int64_t time_ms = 0;       // wall-clock time the server accepted the write
  std::string_view app;      // app id, never empty
  std::string_view table;    // table name as the schema declares it, never empty
  std::string_view id;       // record id; empty for a table-level publish
  std::string_view tenant;   // writer's tenant claim; empty when unknown
  std::string_view subject;  // writer's subject (JWT sub); empty when unknown
  std::string_view data;     // JSON bytes (record or message); may be empty
  // update only, and only on tables with a read rule: the record before the
  // write, so that a subscriber can be told a record left its view
  // (SPEC section 8) when it is read back from the log. Else empty.
  std::string_view prev;
  // Not logged: set on a copy the hub encodes for a subscriber who may no
  // longer see the record ("left_view"), with op kDelete and `data` the
  // state it last saw. Empty for every logged event.
  std::string_view reason;
};

// Replaces *out with the encoding of `e`. Reuses out's capacity.
void Encode(const Event& e, std::string* out);
// Bytes Encode would produce.
size_t EncodedSize(const Event& e);

// Parses `payload`. Corruption when it is not a version-1 event: unknown
// version or operation, a length running past the end, trailing bytes, or an
// empty app or table.
Status Decode(std::string_view payload, Event* out);

}  // namespace eventide::event

#endif  // EVENTIDE_SRC_EVENT_EVENT_H_
