# The schema parser and record validation (src/schema).
eventide_fuzzer(schema_fuzzer eventide_schema)
eventide_fuzzer(validate_fuzzer eventide_schema eventide_common)
