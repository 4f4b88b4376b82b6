// The GraphQL document parser: the executable definitions of the spec
// (October 2021, section 2): operations (query, mutation, subscription, or
// an anonymous selection set), variable definitions, selection sets, fields
// with aliases, arguments and directives, fragment spreads, inline fragments
// and fragment definitions. Type-system definitions (`type Foo {...}`) are
// not executable and are a syntax error here.
//
// Limits bound the work a peer can cause; each is checked while parsing, so
// an oversized document costs no more than the limit.
#ifndef EVENTIDE_SRC_GRAPHQL_PARSER_H_
#define EVENTIDE_SRC_GRAPHQL_PARSER_H_

#include <cstddef>
#include <string_view>

#include "src/graphql/document.h"

namespace eventide::graphql {

struct ParseLimits {
  // 64 KiB: a subscription names one table and its fields; real documents
  // are well under 1 KiB. Also the bound on one error message's input.
  size_t max_document_bytes = 64 * 1024;
  // Nesting of selection sets, list and object values and list types
  // together. The parser recurses once per level, so this bounds its stack.
  // A subscription needs 2 or 3; 32 leaves room for fragments.
  int max_depth = 32;
  // Tokens in the document (graphql-js's maxTokens option). With 64 KiB at
  // most ~32k tokens are possible; 8192 is far beyond any real subscription.
  size_t max_tokens = 8192;
};

// Parses `source` into *out. On a syntax error (or an exceeded limit)
// returns false and fills *error with a graphql-js style message
// ("Syntax Error: Expected Name, found \"}\".") and exactly one location;
// *out is then unspecified.
[[nodiscard]] bool ParseDocument(std::string_view source, const ParseLimits& limits,
                                 Document* out, Error* error);

}  // namespace eventide::graphql

#endif  // EVENTIDE_SRC_GRAPHQL_PARSER_H_
