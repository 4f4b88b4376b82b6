# JWT verification (src/auth).
eventide_fuzzer(jwt_fuzzer eventide_auth)
