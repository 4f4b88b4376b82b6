# src/http/static_file.h: Accept-Encoding and If-None-Match values, and file
# bytes through MakeStaticFile (gzip round trip).
find_package(ZLIB REQUIRED)
eventide_fuzzer(static_file_fuzzer eventide_http ZLIB::ZLIB)
