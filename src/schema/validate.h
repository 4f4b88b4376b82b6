// Checking a REST body against a table's schema (SPEC section 5).
#ifndef EVENTIDE_SRC_SCHEMA_VALIDATE_H_
#define EVENTIDE_SRC_SCHEMA_VALIDATE_H_

#include <rapidjson/document.h>

#include <optional>
#include <string>

#include "src/schema/schema.h"

namespace eventide::schema {

enum class WriteMode { kCreate, kReplace, kMerge };

struct Violation {
  std::string field;  // "" for whole-body problems
  std::string message;
};

// Create and replace: every required field present (except, on create, the
// primary key, which the server may generate, and the server-set
// timestamps), no unknown field, each value of its type. Merge: only the
// fields present are checked, and null is refused for a required field.
// Server-set fields (__createdAt__/__updatedAt__) sent by a client are
// accepted and ignored: the server overwrites them, so a client may PUT back
// a record it read. ID values are strings or integers.
std::optional<Violation> Validate(const Table& table, const rapidjson::Value& body, WriteMode mode);

// A record id as JSON carries it (a primary key value, a WebSocket "id"): a
// non-empty string without '/' or NUL (an id is one URL path segment, or the record
// could not be addressed) or an integer. False for anything else.
bool RecordIdText(const rapidjson::Value& v, std::string* out);

}  // namespace eventide::schema

#endif  // EVENTIDE_SRC_SCHEMA_VALIDATE_H_
