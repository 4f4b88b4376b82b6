#include "src/graphql/encode.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>

#include "src/common/json_text.h"
#include "src/stream/sse.h"

namespace eventide::graphql {
namespace {

// Writes RapidJSON output straight into a std::string.
class StringSink {
 public:
  using Ch = char;
  explicit StringSink(std::string* out) : out_(out) {}
  void Put(char c) { out_->push_back(c); }
  void Flush() {}

 private:
  std::string* out_;
};

}  // namespace

void AppendNextPayload(const Plan& plan, const event::Event& e, const rapidjson::Value* record,
                       std::string* out) {
  if (record != nullptr && !record->IsObject()) record = nullptr;
  out->append("{\"data\":{");
  AppendJsonString(plan.root_key, out);
  out->append(":{");
  StringSink sink(out);
  for (size_t i = 0; i < plan.fields.size(); ++i) {
    const PlanField& f = plan.fields[i];
    if (i > 0) out->push_back(',');
    AppendJsonString(f.response_key, out);
    out->push_back(':');
    if (f.typename_field) {
      AppendJsonString(plan.table, out);
      continue;
    }
    const rapidjson::Value* v = nullptr;
    if (record != nullptr) {
      auto it = record->FindMember(rapidjson::Value(
          f.field_name.data(), static_cast<rapidjson::SizeType>(f.field_name.size())));
      if (it != record->MemberEnd()) v = &it->value;
    }
    if (v == nullptr) {
      out->append("null");
    } else {
      // A fresh writer per value: a Writer accepts one root value.
      rapidjson::Writer<StringSink> w(sink);
      v->Accept(w);
    }
  }
  out->append("}}");
  if (e.op == event::Op::kDelete) {
    out->append(",\"extensions\":{\"op\":\"delete\"");
    // A record that left the subscriber's view: its data is the last state
    // the subscriber could see.
    if (!e.reason.empty()) out->append(",\"reason\":\"").append(e.reason).append("\"");
    out->push_back('}');
  }
  out->push_back('}');
}

bool AppendNextEvent(const Plan& plan, wal::Position position, const event::Event& e,
                     const rapidjson::Value* record, std::string* out) {
  if (!plan.Delivers(e)) return false;
  std::string payload;
  payload.reserve(e.data.size() + plan.root_key.size() + 48);
  AppendNextPayload(plan, e, record, &payload);
  char id[24];
  auto r = std::to_chars(id, id + sizeof(id), position.value());
  stream::AppendSseEvent("next", std::string_view(id, static_cast<size_t>(r.ptr - id)), payload,
                         out);
  return true;
}

bool AppendNextEvent(const Plan& plan, wal::Position position, const event::Event& e,
                     std::string* out) {
  if (!plan.Delivers(e)) return false;
  rapidjson::Document record;
  record.Parse<rapidjson::kParseFullPrecisionFlag>(e.data.data(), e.data.size());
  return AppendNextEvent(plan, position, e, record.HasParseError() ? nullptr : &record, out);
}

void AppendCompleteEvent(std::string* out) { stream::AppendSseEvent("complete", "", "", out); }

}  // namespace eventide::graphql
