// What the two compatibility dialects (SPEC section 7, docs/DIALECTS.md)
// share: the one app they serve (the server config's `compat_app:`), the
// tables a request names, who opened the stream, and an SSE stream over one
// cursor that follows several tables.
//
//   GET /api/realtime?tables=posts,comments            AYB            (ayb.h)
//   GET /api/v1/realtime/subscribe?collection=posts    SnackBase SSE  (snackbase.h)
//   GET /api/v1/realtime/ws  (upgrade)                 SnackBase WS   (snackbase.h)
//
// Both dialects name tables by their URL (export) name, case-insensitively
// as the native routes do; events carry the canonical export name, so the
// bytes of one event are the same for every subscriber of a dialect.
//
// Loop thread only.
#ifndef EVENTIDE_SRC_DIALECTS_COMPAT_H_
#define EVENTIDE_SRC_DIALECTS_COMPAT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/auth/jwt.h"
#include "src/config/config.h"
#include "src/event/event.h"
#include "src/schema/schema.h"
#include "src/stream/sse_stream.h"
#include "src/stream/subscription.h"

namespace eventide::dialects {

// Schema name -> export name of every table of the compat app, for encoders.
using ExportNames = std::map<std::string, std::string, std::less<>>;

// The app the dialects map "tables" and "collections" to.
class CompatApp {
 public:
  // REQUIRES: app outlives this.
  explicit CompatApp(const config::App* app);

  const config::App& app() const { return *app_; }
  const std::string& id() const { return app_->app_id; }
  // A table by its URL name (case-insensitive); nullptr when there is none.
  const schema::Table* Find(std::string_view url_name) const;
  // Whether SSE / WebSocket is on for `t` (the app and the table agree).
  bool SseOn(const schema::Table& t) const { return t.exported && t.sse && app_->sse; }
  bool WsOn(const schema::Table& t) const { return t.exported && t.ws && app_->ws; }
  const ExportNames& export_names() const { return export_names_; }

 private:
  const config::App* app_;
  ExportNames export_names_;
};

// One table a request follows.
struct CompatTable {
  std::string name;                                 // as the schema names it (in events and topics)
  std::string export_name;                          // as the dialect's clients name it
  std::shared_ptr<const policy::Policy> read_rule;  // the table's (null: none)
};

// Who opened a stream: the token's subject and claims as checked at the
// door (anonymous when the app's auth let it in without one). Each stream
// keeps it, so that per-subscriber read policies (SPEC section 8) can judge
// its events.
struct CompatAuth {
  bool anonymous = true;
  auth::Claims claims;
  // As read rules see it.
  policy::Principal principal() const {
    policy::Principal p;
    if (anonymous) return p;
    p.subject = claims.subject;
    p.claims_json = claims.json.empty() ? "{}" : claims.json;
    return p;
  }
};

// The operations the dialects deliver: publishes are not theirs (AYB and
// SnackBase have no such event).
inline constexpr uint8_t kRecordOps = stream::OpBit(event::Op::kCreate) |
                                      stream::OpBit(event::Op::kUpdate) |
                                      stream::OpBit(event::Op::kDelete);

// The topic of one cursor over `tables` (distinct; at least one) of `app`:
// their creates, updates and deletes.
stream::Topic TablesTopic(const std::string& app, const std::vector<CompatTable>& tables);

// The record an event carries: the record after a create or update, its
// last state for a delete ({"id":…} if the entry has none).
void AppendRecord(const event::Event& e, std::string* out);

// An SSE stream of a compat dialect: the request, as the server resolved it.
struct CompatSseRequest {
  std::string app;                  // the compat app's id
  std::vector<CompatTable> tables;  // distinct, in the order asked; at least one
  bool retained = false;            // ?retained=true
  stream::ResumeId resume;          // Last-Event-ID, else ?lastEventId=
  CompatAuth auth;
};

// What AYB and SnackBase SSE streams share: `retry:` then a `connected`
// notice on connect, one subscription (one cursor over all the request's
// tables), events as unnamed SSE events (the client's `message`), the
// native `event: error` when the token expires, `retry:` at shutdown.
class CompatSseStream : public stream::SseFramedStream {
 public:
  // `format`: the hub format of the dialect's events. REQUIRES: ctx and
  // transport outlive the stream.
  CompatSseStream(stream::StreamContext* ctx, stream::StreamTransport* transport,
                  CompatSseRequest request, size_t format);

  void Start(std::string_view early) override;
  const CompatAuth& auth() const { return req_.auth; }

 protected:
  // The notice sent after `retry:`, before anything else.
  virtual void SayConnected(wal::Position head) = 0;
  // Sends one unnamed event (an EventSource's `message`).
  void SendMessage(std::string_view data, std::string_view id = {});
  // The export name of a table the stream follows, by its schema name.
  const std::string& ExportName(const std::string& table) const;

  CompatSseRequest req_;
  std::string data_;  // a notice being built

 private:
  // The one place this stream makes its subscription (a read-policy filter
  // for auth() attaches here).
  std::unique_ptr<stream::Subscription> NewSubscription();
  void SayGoodbye() override;
  void SayTokenExpired() override;

  size_t format_;
  std::string scratch_;
};

}  // namespace eventide::dialects

#endif  // EVENTIDE_SRC_DIALECTS_COMPAT_H_
