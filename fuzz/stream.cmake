# SSE framing and resume ids (src/stream).
eventide_fuzzer(sse_fuzzer eventide_stream)
# The WebSocket message path: client bytes through wslay into WsStream.
eventide_fuzzer(ws_fuzzer eventide_stream)
