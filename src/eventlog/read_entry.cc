#include "src/eventlog/read_entry.h"

namespace eventide::eventlog {

Status ReadLocalEntry(wal::Log* log, wal::Position p, std::unique_ptr<wal::Reader>* reader,
                      std::string* payload) {
  if (*reader == nullptr) *reader = log->NewReader();
  if ((*reader)->next_position() != p) {
    Status s = (*reader)->Seek(p);
    if (!s.ok()) return s;
  }
  wal::Entry e;
  auto got = (*reader)->Next(&e);
  if (!got.ok()) return got.status();
  if (!got.value()) {
    return Status::NotFound("entry " + std::to_string(p.value()) + " is not durable yet");
  }
  payload->assign(e.payload.data(), e.payload.size());
  return Status::OK();
}

}  // namespace eventide::eventlog
