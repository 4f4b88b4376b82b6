# SSE framing and resume ids (src/stream).
eventide_fuzzer(sse_fuzzer eventide_stream)
