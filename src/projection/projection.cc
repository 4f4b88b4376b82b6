#include "src/projection/projection.h"

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <new>
#include <type_traits>

namespace eventide::projection {

RecordPtr::RecordPtr(const RecordPtr& o) : r_(o.r_) {
  if (r_) r_->refs_.fetch_add(1, std::memory_order_relaxed);
}

RecordPtr::~RecordPtr() {
  if (r_ && r_->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    r_->~Record();
    std::free(r_);
  }
}

RecordPtr Record::Make(wal::Position position, std::string_view id, std::string_view json) {
  static_assert(std::is_standard_layout_v<Record>, "offsetof(Record, data_) must be valid");
  // The id's bytes appear in the record's JSON (as its key's value) unless
  // they needed escaping; any occurrence of the same bytes will do.
  size_t at = id.empty() ? 0 : json.find(id);
  const bool inside = at != std::string_view::npos;
  const size_t bytes = offsetof(Record, data_) + json.size() + (inside ? 0 : id.size());
  void* mem = std::malloc(bytes);
  if (mem == nullptr) std::abort();  // out of memory: nothing sane to do
  Record* r = new (mem) Record();
  r->position_ = position.value();
  r->json_len_ = static_cast<uint32_t>(json.size());
  r->id_len_ = static_cast<uint32_t>(id.size());
  std::memcpy(r->data_, json.data(), json.size());
  if (inside) {
    r->id_off_ = static_cast<uint32_t>(at);
  } else {
    r->id_off_ = static_cast<uint32_t>(json.size());
    std::memcpy(r->data_ + json.size(), id.data(), id.size());
  }
  return RecordPtr(r);
}

RecordPtr Table::Get(std::string_view id) const {
  auto it = records_.find(id);
  return it == records_.end() ? RecordPtr() : it->second;
}

void Table::List(std::string_view after, size_t limit,
                 const std::function<bool(const Record&)>& keep,
                 std::vector<RecordPtr>* out) const {
  auto it = after.empty() ? records_.begin() : records_.upper_bound(after);
  for (size_t n = 0; it != records_.end() && n < limit; ++it) {
    if (keep && !keep(*it->second)) continue;
    out->push_back(it->second);
    ++n;
  }
}

void Table::Put(RecordPtr r) {
  json_bytes_ += r->json().size();
  // One descent: the node that holds the id, or where it goes.
  auto it = records_.lower_bound(r->id());
  if (it != records_.end() && it->first == r->id()) {
    json_bytes_ -= it->second->json().size();
    // The node's key views the old record's id: re-key the node to the new
    // record (same bytes, same place) and put it back at the same spot.
    auto next = std::next(it);
    auto node = records_.extract(it);
    node.key() = r->id();
    node.mapped() = std::move(r);
    records_.insert(next, std::move(node));
    return;
  }
  std::string_view key = r->id();
  records_.emplace_hint(it, key, std::move(r));
}

void Table::Erase(std::string_view id) {
  auto it = records_.find(id);
  if (it == records_.end()) return;
  json_bytes_ -= it->second->json().size();
  records_.erase(it);
}

static std::string TableKey(std::string_view app, std::string_view table) {
  std::string k;
  k.reserve(app.size() + table.size() + 1);
  k.append(app).push_back('\0');
  k.append(table);
  return k;
}

Table* Projection::FindOrCreate(std::string_view app, std::string_view table) {
  std::string key = TableKey(app, table);
  auto it = tables_.find(key);
  if (it == tables_.end()) it = tables_.emplace(std::move(key), Table()).first;
  return &it->second;
}

const Table* Projection::Find(std::string_view app, std::string_view table) const {
  auto it = tables_.find(TableKey(app, table));
  return it == tables_.end() ? nullptr : &it->second;
}

void Projection::Apply(wal::Position p, const event::Event& e) {
  applied_ = p;
  switch (e.op) {
    case event::Op::kCreate:
    case event::Op::kUpdate: {
      Table* t = FindOrCreate(e.app, e.table);
      size_t before = t->size();
      t->Put(Record::Make(p, e.id, e.data));
      record_count_ += t->size() - before;
      break;
    }
    case event::Op::kDelete: {
      auto it = tables_.find(TableKey(e.app, e.table));
      if (it == tables_.end()) break;
      size_t before = it->second.size();
      it->second.Erase(e.id);
      record_count_ -= before - it->second.size();
      break;
    }
    case event::Op::kPublish:
      break;
  }
}

void Projection::Load(std::string_view app, std::string_view table, wal::Position position,
                      std::string_view id, std::string_view json) {
  Table* t = FindOrCreate(app, table);
  size_t before = t->size();
  t->Put(Record::Make(position, id, json));
  record_count_ += t->size() - before;
}

std::shared_ptr<const Snapshot> Projection::TakeSnapshot() const {
  auto snap = std::make_shared<Snapshot>();
  snap->position = applied_;
  snap->record_count = record_count_;
  for (const auto& [key, table] : tables_) {
    Snapshot::TableCopy copy;
    size_t nul = key.find('\0');
    copy.app = key.substr(0, nul);
    copy.table = key.substr(nul + 1);
    copy.records.reserve(table.size());
    for (const auto& [id, r] : table.records_) copy.records.push_back(r);
    snap->tables.push_back(std::move(copy));
  }
  return snap;
}

}  // namespace eventide::projection
