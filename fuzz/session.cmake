# The HTTP connection state machine (src/http/session.h), bytes in.
eventide_fuzzer(http_session_fuzzer eventide_http)
