// Apps declare their tables in a GraphQL-SDL subset (SPEC section 3):
//
//   type Message @table(database: "realtime-demo")
//                @export(name: "message", rest: true, sse: true, ws: true)
//                @policy(read: "author = $auth.sub") {
//     id: ID! @primaryKey
//     tags: [String!]
//     __createdAt__: String
//   }
//
// A small hand-written recursive-descent parser (no packaged GraphQL parser
// exists): `type` definitions with directives, fields with named, list and
// non-null types and field directives, `#` comments, commas as whitespace.
// Every error is "FILE:LINE:COL: reason". Decisions are in docs/CONFIG.md.
#ifndef EVENTIDE_SRC_SCHEMA_SCHEMA_H_
#define EVENTIDE_SRC_SCHEMA_SCHEMA_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wal/status.h"

namespace eventide::policy {
class Policy;
}

namespace eventide::schema {

enum class Scalar { kID, kString, kInt, kFloat, kBoolean, kJSON };
std::string_view ScalarName(Scalar s);

struct FieldType {
  Scalar scalar = Scalar::kString;
  bool list = false;           // [T]
  bool required = false;       // T! or [T]!
  bool item_required = false;  // [T!]
};

struct Field {
  std::string name;
  FieldType type;
  bool primary_key = false;
  bool server_set = false;  // __createdAt__ / __updatedAt__: the server writes them
  int line = 0;
};

struct Table {
  std::string name;         // the type name, e.g. "Message": the name in log entries
  std::string export_name;  // URL name: @export(name:) or the type name
  std::string database;     // @table(database:)
  bool exported = false;    // has @export
  // Features the table turns on (the app's config.yaml must agree). Within
  // @export, `rest` defaults to true and `sse`/`ws` to false: streams are
  // opt-in, as the seed documents show (`@export(ws: true)`).
  bool rest = false, sse = false, ws = false;
  std::vector<Field> fields;
  size_t primary_key = 0;                 // index into fields
  std::string policy_read, policy_write;  // raw @policy expressions ("" = none)
  int policy_line = 0;                    // where @policy is
  // The rules in force (config::LoadApps compiles them): the table's
  // @policy, and'ed with the app's tenant rule (`__tenant__ =
  // $auth.<tenant_claim>`). Null: no rule, everyone may.
  std::shared_ptr<const policy::Policy> read_rule, write_rule;
  std::string file;
  int line = 0;

  const Field* FindField(std::string_view name) const;
};

struct Schema {
  std::vector<Table> tables;
  // Case-insensitive, as URLs match tables (SPEC section 3).
  const Table* FindByExportName(std::string_view url_name) const;
  const Table* FindByName(std::string_view type_name) const;
};

// Parses `text`, the contents of `file`, appending its tables to *out.
// InvalidArgument "FILE:LINE:COL: reason" on the first error; *out is then
// unchanged.
Status ParseSchema(std::string_view text, std::string_view file, Schema* out);

}  // namespace eventide::schema

#endif  // EVENTIDE_SRC_SCHEMA_SCHEMA_H_
