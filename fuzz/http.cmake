# src/http/static_file.h: Accept-Encoding and If-None-Match values, and file
# bytes through MakeStaticFile (gzip round trip).
find_package(ZLIB REQUIRED)
eventide_fuzzer(static_file_fuzzer eventide_http ZLIB::ZLIB)
# The HTTP/2 connection state machine (src/http/h2_session.h), bytes in; it
# decodes the server's header blocks with nghttp2's HPACK inflater.
eventide_fuzzer(h2_session_fuzzer eventide_http PkgConfig::LIBNGHTTP2)
# Writes fuzz/corpus/h2_session/ (client bytes made with nghttp2's client
# API): build-fuzz/fuzz/h2_session_seeds fuzz/corpus/h2_session
add_executable(h2_session_seeds h2_session_seeds.cc)
eventide_target(h2_session_seeds)
target_link_libraries(h2_session_seeds PRIVATE PkgConfig::LIBNGHTTP2)
