// From a GraphQL subscription request to a compiled plan (docs/GRAPHQL.md).
//
// The app's schema is exposed as a GraphQL schema whose Subscription type
// has one field per table:
//
//   type Subscription {
//     message(id: ID): Message     # root field: the table, see FindRootTable
//   }
//   type Message { id: ID! title: String! ... }   # the table's fields
//
// `subscription { message { id title } }` follows the table topic;
// `subscription { message(id: "msg-1") { id title } }` follows one record.
// A Plan is what the encoder (encode.h) needs for every event: the table,
// the record filter and the selected fields in response order.
#ifndef EVENTIDE_SRC_GRAPHQL_PLAN_H_
#define EVENTIDE_SRC_GRAPHQL_PLAN_H_

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <vector>

#include "src/event/event.h"
#include "src/graphql/document.h"
#include "src/graphql/parser.h"
#include "src/schema/schema.h"

namespace eventide::graphql {

// One entry of the response object, in selection order.
struct PlanField {
  std::string response_key;  // the alias, else the field name
  std::string field_name;    // a member of the record, or "__typename"
  bool typename_field = false;  // __typename: the table's type name
};

struct Plan {
  std::string table;           // schema::Table::name: the table in log entries and topics
  std::string root_key;        // response key of the root field ("message", or its alias)
  std::string record_id;       // non-empty: only events on this record (record topic)
  std::string operation_name;  // empty for an anonymous subscription
  std::vector<PlanField> fields;
  // Canonical key of the bytes this plan produces for an event: two plans
  // with equal keys encode every event to the same bytes, so the server
  // encodes once per key and shares the result. It describes the output
  // only (table, root key, fields in order, aliases): the record filter is
  // not part of it, since a record subscription and a table subscription
  // with the same selection produce the same bytes for the events both get.
  std::string key;

  // Whether this plan delivers `e`: same table, same record when the plan
  // follows one, and not a publish (publishes are not delivered, see
  // docs/GRAPHQL.md).
  bool Delivers(const event::Event& e) const;
};

struct CompileOptions {
  // When true, only tables whose @export turns on `sse` may be subscribed to
  // (SPEC section 3: a stream is opt-in per table); the others answer an
  // error naming the table. The app-level switch (config.yaml) is the
  // server's to check.
  bool require_sse = true;
};

// The table a root field names: the table's URL name (@export(name:)) or,
// failing that, its type name, both case-insensitively, as URLs match
// tables (SPEC section 3). nullptr when there is none.
const schema::Table* FindRootTable(const schema::Schema& schema, std::string_view field_name);

// Validates the operation of `doc` chosen by `operation_name` (empty: the
// only operation) against `schema`, with `variables` (a JSON object, or
// nullptr for none), and fills *plan. On failure returns false and fills
// *error: the first problem found, with the location of the offending node
// (none for request-level problems: an unknown or missing operationName, a
// bad variables value).
// "schema" need not outlive the plan: the plan copies what it needs.
[[nodiscard]] bool Compile(const Document& doc, std::string_view operation_name,
                           const rapidjson::Value* variables, const schema::Schema& schema,
                           const CompileOptions& options, Plan* plan, Error* error);

// A graphql-over-http request body: {"query": "...", "operationName": "...",
// "variables": {...}, "extensions": {...}} (operationName, variables and
// extensions optional, and may be null). Parses, validates and compiles it.
// On failure *error holds the reason; the server answers it with 400 and
// ErrorsJson(...). The server keeps the body size in check before calling.
[[nodiscard]] bool CompileRequest(std::string_view body, const schema::Schema& schema,
                                  const CompileOptions& options, const ParseLimits& limits,
                                  Plan* plan, Error* error);

// {"errors":[{"message":"...","locations":[{"line":1,"column":20}]}]}; no
// "locations" member for an error without one.
std::string ErrorsJson(const std::vector<Error>& errors);

}  // namespace eventide::graphql

#endif  // EVENTIDE_SRC_GRAPHQL_PLAN_H_
