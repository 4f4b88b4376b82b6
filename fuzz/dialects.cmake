# The SnackBase WebSocket dialect: client bytes through wslay into
# SnackbaseWsStream (src/dialects).
eventide_fuzzer(snackbase_ws_fuzzer eventide_dialects)
