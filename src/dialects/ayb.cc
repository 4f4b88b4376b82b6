#include "src/dialects/ayb.h"

#include <charconv>
#include <utility>

#include "src/common/json_text.h"
#include "src/stream/sse.h"

namespace eventide::dialects {
namespace {

const stream::Frame& CommentFrame() {
  static const stream::Frame frame = std::make_shared<const std::string>(": ping\n\n");
  return frame;
}

}  // namespace

stream::Encoder AybEncoder(ExportNames names) {
  return [names = std::move(names)](wal::Position p, const event::Event& e) {
    std::string out;
    if (e.op == event::Op::kPublish) return out;  // not an AYB event
    const std::string_view action = event::OpName(e.op);
    auto table = names.find(e.table);
    std::string data;
    data.reserve(e.data.size() + 64);
    data.append("{\"action\":\"").append(action).append("\",\"table\":");
    AppendJsonString(table == names.end() ? e.table : std::string_view(table->second), &data);
    data.append(",\"record\":");
    AppendRecord(e, &data);
    // The record left the subscriber's view (SPEC section 8); `record` is
    // the last state it could see.
    if (!e.reason.empty()) data.append(",\"reason\":\"").append(e.reason).append("\"");
    data.push_back('}');
    char id[24];
    auto r = std::to_chars(id, id + sizeof(id), p.value());
    stream::AppendSseEvent("", std::string_view(id, static_cast<size_t>(r.ptr - id)), data, &out);
    return out;
  };
}

AybStream::AybStream(stream::StreamContext* ctx, stream::StreamTransport* transport,
                     CompatSseRequest request, size_t format)
    : CompatSseStream(ctx, transport, std::move(request), format) {
  ++ctx_->stats.ayb_streams;
}

AybStream::~AybStream() { --ctx_->stats.ayb_streams; }

const stream::Frame& AybStream::Heartbeat() const { return CommentFrame(); }

void AybStream::SayConnected(wal::Position head) {
  // "action" is the dialect's discriminator; "type" keeps the native
  // notices' name (SPEC section 6) for clients that look for it.
  data_.assign(R"({"action":"connected","type":"connected","status":"ok","position":)");
  data_.append(std::to_string(head.value())).push_back('}');
  SendMessage(data_);
}

void AybStream::OnReset(const stream::Subscription&, std::string_view reason, wal::Position head) {
  data_.assign(R"({"action":"reset","type":"reset","reason":")");
  data_.append(reason).append("\",\"position\":").append(std::to_string(head.value()));
  data_.push_back('}');
  SendMessage(data_);
}

void AybStream::OnRetained(const stream::Subscription& s, const projection::Record& r) {
  // A current record looks like its create, so a client that knows only
  // create/update/delete builds its state from it; "retained" tells the
  // others. No id: it has no position of its own.
  data_.assign(R"({"action":"create","table":)");
  AppendJsonString(ExportName(s.retained_table()), &data_);
  data_.append(",\"record\":").append(r.json());
  data_.append(",\"retained\":true}");
  SendMessage(data_);
}

void AybStream::OnSynced(const stream::Subscription&, wal::Position p) {
  const std::string pos = std::to_string(p.value());
  data_.assign(R"({"action":"synced","type":"synced","position":)").append(pos).push_back('}');
  SendMessage(data_, pos);
}

}  // namespace eventide::dialects
