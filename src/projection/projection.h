// The projection: each table's current records, in memory, materialized from
// the log. The loop thread applies durable entries in position order; a
// checkpoint writer on another thread reads a Snapshot.
//
// Memory layout of one record (one allocation, shared by every holder):
//
//   +----------+----------+--------+--------+----------+----------------+-------+
//   | refcount | json_len | id_off | id_len | position | json bytes     | [id]  |
//   | atomic32 | u32      | u32    | u32    | u64      | (json_len)     |       |
//   +----------+----------+--------+--------+----------+----------------+-------+
//                                                        ^ id_off points here,
// at the id's bytes inside the JSON (the record holds its own key), or past
// the JSON at a copy when they do not appear there verbatim. Each table is a
// std::map from a string_view of the id to the record: a 64-byte map node plus
// a 24-byte header per record beyond the JSON.
#ifndef EVENTIDE_SRC_PROJECTION_PROJECTION_H_
#define EVENTIDE_SRC_PROJECTION_PROJECTION_H_

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/event/event.h"
#include "wal/position.h"

namespace eventide::projection {

class Record;

// An intrusive, thread-safe reference to an immutable Record.
class RecordPtr {
 public:
  RecordPtr() = default;
  RecordPtr(std::nullptr_t) {}  // NOLINT: null, as for shared_ptr
  RecordPtr(const RecordPtr& o);
  RecordPtr(RecordPtr&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  RecordPtr& operator=(RecordPtr o) noexcept {
    std::swap(r_, o.r_);
    return *this;
  }
  ~RecordPtr();
  const Record* get() const { return r_; }
  const Record* operator->() const { return r_; }
  const Record& operator*() const { return *r_; }
  explicit operator bool() const { return r_ != nullptr; }

 private:
  friend class Record;
  explicit RecordPtr(Record* r) : r_(r) {}
  Record* r_ = nullptr;
};

// One stored record: immutable once made; a write makes a new one.
class Record {
 public:
  static RecordPtr Make(wal::Position position, std::string_view id, std::string_view json);
  // The entry that last wrote it.
  wal::Position position() const { return wal::Position(position_); }
  std::string_view id() const { return {data_ + id_off_, id_len_}; }
  // The compact JSON object as served to clients.
  std::string_view json() const { return {data_, json_len_}; }

 private:
  friend class RecordPtr;
  Record() = default;
  mutable std::atomic<uint32_t> refs_{1};
  uint32_t json_len_ = 0;
  uint32_t id_off_ = 0;
  uint32_t id_len_ = 0;
  uint64_t position_ = 0;
  char data_[1];  // json, then the id if it is not inside the json
};

// Byte-wise order of ids, as std::string_view's operator<, but comparing the
// first 8 bytes as one big-endian integer: ids (UUIDs) mostly differ there,
// so most comparisons in a lookup cost no memcmp call.
struct IdLess {
  bool operator()(std::string_view a, std::string_view b) const {
    if (a.size() >= 8 && b.size() >= 8) {
      uint64_t x, y;
      std::memcpy(&x, a.data(), 8);
      std::memcpy(&y, b.data(), 8);
      if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y);
    }
    return a < b;
  }
};

class Table {
 public:
  RecordPtr Get(std::string_view id) const;  // null if absent
  // Appends to *out up to `limit` records in ascending byte-wise id order
  // with id > after ("" = from the start) for which keep (if set) is true.
  void List(std::string_view after, size_t limit, const std::function<bool(const Record&)>& keep,
            std::vector<RecordPtr>* out) const;
  size_t size() const { return records_.size(); }
  uint64_t json_bytes() const { return json_bytes_; }

 private:
  friend class Projection;
  friend struct Snapshot;
  void Put(RecordPtr r);
  void Erase(std::string_view id);
  std::map<std::string_view, RecordPtr, IdLess> records_;  // keys view the records' ids
  uint64_t json_bytes_ = 0;
};

// A consistent copy of every table for a checkpoint. Shares the records.
struct Snapshot {
  struct TableCopy {
    std::string app, table;
    std::vector<RecordPtr> records;  // id order
  };
  wal::Position position;  // the last entry applied
  std::vector<TableCopy> tables;
  uint64_t record_count = 0;
};

class Projection {
 public:
  // Applies the durable entry at p. REQUIRES: p > applied(). Create and
  // update store e.data under e.id; delete removes it; publish changes no
  // record (but p still counts as applied).
  void Apply(wal::Position p, const event::Event& e);
  wal::Position applied() const { return applied_; }
  // Exact names as in events; null if the table never held a record.
  const Table* Find(std::string_view app, std::string_view table) const;
  uint64_t record_count() const { return record_count_; }
  // O(records) pointer copies, on the loop thread; safe to read elsewhere.
  std::shared_ptr<const Snapshot> TakeSnapshot() const;
  // Used by checkpoint loading: installs a record as of `position`.
  void Load(std::string_view app, std::string_view table, wal::Position position,
            std::string_view id, std::string_view json);
  void SetApplied(wal::Position p) { applied_ = p; }

 private:
  Table* FindOrCreate(std::string_view app, std::string_view table);
  // (app, table) -> table; few tables, so a map keyed by "app\0table".
  std::map<std::string, Table, std::less<>> tables_;
  wal::Position applied_;
  uint64_t record_count_ = 0;
};

}  // namespace eventide::projection

#endif  // EVENTIDE_SRC_PROJECTION_PROJECTION_H_
