#include "src/stream/stream.h"

#include <limits>

namespace eventide::stream {

StartPlan PlanStart(const ResumeId& resume, bool want_retained, wal::Position head,
                    wal::Position first_retained) {
  StartPlan plan;
  switch (resume.kind) {
    case ResumeId::Kind::kNone:
      plan.replay = want_retained;
      plan.after = head;
      return plan;
    case ResumeId::Kind::kMalformed:
      plan.reset = "unknown";
      break;
    case ResumeId::Kind::kPosition:
      if (resume.position.value() > head.value()) {
        plan.reset = "unknown";  // ahead of the log: not a position it gave out
      } else if (resume.position.value() + 1 < first_retained.value()) {
        plan.reset = "expired";  // entries after it are no longer retained
      } else {
        plan.after = resume.position;
        return plan;
      }
      break;
  }
  // After a reset the client's state is unknown: it gets the snapshot, and
  // `synced` gives it a position to resume from.
  plan.replay = true;
  plan.after = head;
  return plan;
}

std::vector<projection::RecordPtr> RetainedRecords(const projection::Projection& projection,
                                                   const Topic& topic) {
  std::vector<projection::RecordPtr> out;
  const projection::Table* table = projection.Find(topic.app, topic.table);
  if (table == nullptr) return out;
  if (!topic.id.empty()) {
    if (projection::RecordPtr r = table->Get(topic.id)) out.push_back(std::move(r));
    return out;
  }
  out.reserve(table->size());
  table->List("", std::numeric_limits<size_t>::max(), nullptr, &out);
  return out;
}

bool QueryFlag(std::string_view value) { return value != "false" && value != "0"; }

}  // namespace eventide::stream
