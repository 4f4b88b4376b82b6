# GraphQL subscription documents (src/graphql): parse, validate, encode.
eventide_fuzzer(graphql_fuzzer eventide_graphql)
