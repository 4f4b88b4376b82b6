// The graphql-sse "next" and "complete" events (graphql-sse protocol,
// distinct connections mode) for a compiled Plan (plan.h):
//
//   event: next
//   id: 42
//   data: {"data":{"message":{"id":"msg-1","title":"Hello"}}}
//
//   event: complete
//   data:
//
// The bytes depend only on the plan's key and the event, so the server
// encodes an event once per distinct Plan::key and shares the bytes among
// every subscriber whose plan has that key (and Delivers the event).
#ifndef EVENTIDE_SRC_GRAPHQL_ENCODE_H_
#define EVENTIDE_SRC_GRAPHQL_ENCODE_H_

#include <rapidjson/document.h>

#include <string>

#include "src/event/event.h"
#include "src/graphql/plan.h"
#include "wal/position.h"

namespace eventide::graphql {

// The payload of a "next" event for `e`:
//   create, update  {"data":{ROOT:{...}}}
//   delete          {"data":{ROOT:{...}},"extensions":{"op":"delete"}}
//                   (the selection of the record's last state)
// ROOT is the plan's root key; its object has the plan's fields in
// selection order under their response keys; a field the record lacks is
// null; __typename is the table's type name. `record` is e.data parsed
// (nullptr, or anything but an object, when it does not parse: every field
// is then null).
// REQUIRES: plan.Delivers(e) (a publish has no payload here).
void AppendNextPayload(const Plan& plan, const event::Event& e, const rapidjson::Value* record,
                       std::string* out);

// Appends the whole "next" event, with `position` as its id, to *out and
// returns true; returns false and appends nothing when the plan does not
// deliver `e` (another table or record, or a publish). Parses e.data; a
// server encoding one event for several plans parses once and calls the
// overload below.
bool AppendNextEvent(const Plan& plan, wal::Position position, const event::Event& e,
                     std::string* out);
bool AppendNextEvent(const Plan& plan, wal::Position position, const event::Event& e,
                     const rapidjson::Value* record, std::string* out);

// "event: complete\ndata: \n\n": the end of the stream.
void AppendCompleteEvent(std::string* out);

}  // namespace eventide::graphql

#endif  // EVENTIDE_SRC_GRAPHQL_ENCODE_H_
