// The executable-definition subset of a GraphQL document (GraphQL spec,
// October 2021, section 2 "Language"): operations, fragments, selections,
// arguments, directives, values and variable definitions. ParseDocument
// (parser.h) builds it; Compile (plan.h) checks it against an app's schema.
//
// A Document owns all its strings: it outlives the source text it was parsed
// from.
#ifndef EVENTIDE_SRC_GRAPHQL_DOCUMENT_H_
#define EVENTIDE_SRC_GRAPHQL_DOCUMENT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace eventide::graphql {

// 1-based line and column. Lines end at LF, CRLF or CR (spec 2.1.2); columns
// count Unicode code points from the start of the line (graphql-js counts
// UTF-16 units: the two differ only after a character outside the BMP).
struct Location {
  int line = 1;
  int column = 1;
  bool operator==(const Location&) const = default;
};

// One entry of a GraphQL response's "errors" array (spec 7.1.2). Syntax and
// document errors carry the location of the offending token; request-level
// errors (a bad request body, an unknown operationName) carry none.
struct Error {
  std::string message;
  std::vector<Location> locations;
};

struct ObjectField;

struct Value {
  enum class Kind : uint8_t {
    kVariable,  // text: the name without '$'
    kInt,       // text: as written ("-12")
    kFloat,     // text: as written ("1.5e3")
    kString,    // text: the decoded value (escapes applied, block string dedented)
    kBoolean,   // boolean
    kNull,
    kEnum,      // text: the name
    kList,      // items
    kObject,    // fields
  };
  Kind kind = Kind::kNull;
  std::string text;
  bool boolean = false;
  bool block = false;  // kString written as a block string ("""...""")
  std::vector<Value> items;
  std::vector<ObjectField> fields;
  Location loc;
};

struct ObjectField {
  std::string name;
  Value value;
  Location loc;
};

struct Argument {
  std::string name;
  Value value;
  Location loc;
};

struct Directive {
  std::string name;  // without '@'
  std::vector<Argument> arguments;
  Location loc;
};

// A type reference in a variable definition: Name, [Type] or Type!.
struct TypeRef {
  std::string name;            // the named type; empty for a list
  std::vector<TypeRef> of;     // a list: exactly one element, the item type
  bool non_null = false;
  Location loc;

  bool IsList() const { return !of.empty(); }
  // "[String!]!" as written in GraphQL.
  std::string ToString() const;
};

struct Selection {
  enum class Kind : uint8_t { kField, kFragmentSpread, kInlineFragment };
  Kind kind = Kind::kField;
  std::string alias;           // kField: empty when there is none
  std::string name;            // kField: the field; kFragmentSpread: the fragment
  std::string type_condition;  // kInlineFragment: empty when there is none
  std::vector<Argument> arguments;    // kField
  std::vector<Directive> directives;
  bool has_selection_set = false;     // kField: `{...}` follows (never empty when true)
  std::vector<Selection> selection_set;
  Location loc;  // of the alias (or name) of a field; of "..." otherwise

  // The key the field's value has in the response: the alias, else the name.
  const std::string& ResponseKey() const { return alias.empty() ? name : alias; }
};

struct VariableDefinition {
  std::string name;  // without '$'
  TypeRef type;
  bool has_default = false;
  Value default_value;  // constant: holds no variable
  std::vector<Directive> directives;
  Location loc;
};

struct Operation {
  enum class Type : uint8_t { kQuery, kMutation, kSubscription };
  Type type = Type::kQuery;
  bool shorthand = false;  // an anonymous `{ ... }`: a query
  std::string name;        // empty when anonymous
  std::vector<VariableDefinition> variables;
  std::vector<Directive> directives;
  std::vector<Selection> selection_set;
  Location loc;
};

// "query", "mutation", "subscription".
const char* OperationTypeName(Operation::Type t);

struct Fragment {
  std::string name;
  std::string type_condition;
  Location type_condition_loc;
  std::vector<Directive> directives;
  std::vector<Selection> selection_set;
  Location loc;
};

struct Document {
  std::vector<Operation> operations;  // in document order
  std::vector<Fragment> fragments;    // in document order
};

}  // namespace eventide::graphql

#endif  // EVENTIDE_SRC_GRAPHQL_DOCUMENT_H_
