// Request headers and file bytes through src/http/static_file.h: an
// Accept-Encoding value (AcceptsGzip), an If-None-Match value (EtagMatches),
// and a file's bytes (MakeStaticFile). Byte 0 picks which; the rest is the
// input.
//
// Checks: no crash; a value that names neither gzip nor `*` never accepts
// gzip; an If-None-Match that matches holds the ETag or `*`; a prepared
// file keeps its bytes, its ETag is 18 characters and follows the bytes
// only, and its gzip copy, when there is one, is smaller and inflates back
// to exactly the bytes.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "src/http/static_file.h"

namespace {

using eventide::http::AcceptsGzip;
using eventide::http::EtagMatches;
using eventide::http::MakeStaticFile;
using eventide::http::StaticFile;

void Check(bool ok) {
  if (!ok) std::abort();
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string Gunzip(const std::string& z, size_t expected) {
  z_stream s{};
  Check(inflateInit2(&s, 15 + 16) == Z_OK);
  std::string out(expected + 1, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data()));
  s.avail_in = static_cast<uInt>(z.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  Check(inflate(&s, Z_FINISH) == Z_STREAM_END);
  Check(s.avail_in == 0);
  out.resize(s.total_out);
  inflateEnd(&s);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t pick = data[0] % 3;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (pick) {
    case 0: {
      const bool gzip = AcceptsGzip(in);
      const std::string lower = Lower(in);
      if (lower.find("gzip") == std::string::npos && in.find('*') == std::string_view::npos) {
        Check(!gzip);
      }
      break;
    }
    case 1: {
      const std::string etag = "\"0123456789abcdef\"";
      if (EtagMatches(in, etag)) {
        Check(in.find(etag) != std::string_view::npos || in.find('*') != std::string_view::npos);
      }
      // The input's own first tag (its first comma-separated item, trimmed),
      // as a file's ETag, matches it.
      std::string_view first = in.substr(0, in.find(','));
      while (!first.empty() && (first.front() == ' ' || first.front() == '\t'))
        first.remove_prefix(1);
      while (!first.empty() && (first.back() == ' ' || first.back() == '\t'))
        first.remove_suffix(1);
      if (first.size() >= 2 && first.front() == '"' && first.back() == '"') {
        Check(EtagMatches(in, first));
      }
      break;
    }
    default: {
      // Bytes as a text file (compressible type) and as an image.
      const std::string body(in);
      StaticFile css = MakeStaticFile("assets/x.css", body);
      StaticFile png = MakeStaticFile("x.png", body);
      Check(css.body == body && png.body == body);
      Check(css.etag.size() == 18 && css.etag == png.etag);
      Check(png.gzip.empty() && png.gzip_etag.empty());
      if (css.gzip.empty()) Check(css.gzip_etag.empty());
      if (!css.gzip.empty()) {
        Check(css.gzip.size() < body.size());
        Check(Gunzip(css.gzip, body.size()) == body);
        Check(css.gzip_etag != css.etag && css.gzip_etag.size() == 21);
      }
      break;
    }
  }
  return 0;
}
