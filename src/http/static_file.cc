#include "src/http/static_file.h"

#include <xxhash.h>
#include <zlib.h>

#include <cstdio>

#include "src/http/response.h"

namespace eventide::http {
namespace {

constexpr size_t kMinGzipBytes = 256;

bool Compressible(std::string_view content_type) {
  return content_type.starts_with("text/") || content_type.starts_with("application/json") ||
         content_type.starts_with("image/svg+xml");
}

// gzip (RFC 1952) at the best level; empty on failure.
std::string Gzip(std::string_view in) {
  z_stream z{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    return {};
  }
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : std::string();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// q=0, q=0.0, q=0.00, q=0.000: refused. Anything else (absent, malformed
// included) counts as accepted: a client that names a coding wants it.
bool QIsZero(std::string_view params) {
  while (!params.empty()) {
    size_t semi = params.find(';');
    std::string_view p = params.substr(0, semi);
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    size_t eq = p.find('=');
    if (eq == std::string_view::npos || !IEquals(Trim(p.substr(0, eq)), "q")) continue;
    std::string_view v = Trim(p.substr(eq + 1));
    if (v.empty() || v[0] != '0') return false;
    v.remove_prefix(1);
    if (v.empty()) return true;
    if (v[0] != '.') return false;
    for (char c : v.substr(1)) {
      if (c != '0') return false;
    }
    return true;
  }
  return false;
}

}  // namespace

StaticFile MakeStaticFile(std::string_view path, std::string body) {
  StaticFile f;
  f.content_type = std::string(ContentTypeFor(path));
  char tag[20];
  std::snprintf(tag, sizeof tag, "\"%016llx\"",
                static_cast<unsigned long long>(XXH3_64bits(body.data(), body.size())));
  f.etag = tag;
  if (body.size() >= kMinGzipBytes && Compressible(f.content_type)) {
    std::string z = Gzip(body);
    if (!z.empty() && z.size() * 10 <= body.size() * 9) {
      f.gzip = std::move(z);
      f.gzip_etag = f.etag.substr(0, f.etag.size() - 1) + "-gz\"";
    }
  }
  f.body = std::move(body);
  return f;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  bool star = false;
  while (!accept_encoding.empty()) {
    size_t comma = accept_encoding.find(',');
    std::string_view item = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
    size_t semi = item.find(';');
    std::string_view coding = Trim(item.substr(0, semi));
    std::string_view params = semi == std::string_view::npos ? "" : item.substr(semi + 1);
    if (IEquals(coding, "gzip") || IEquals(coding, "x-gzip")) return !QIsZero(params);
    if (coding == "*") star = !QIsZero(params);
  }
  return star;
}

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    size_t comma = if_none_match.find(',');
    std::string_view tag = Trim(if_none_match.substr(0, comma));
    if_none_match =
        comma == std::string_view::npos ? std::string_view() : if_none_match.substr(comma + 1);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

}  // namespace eventide::http
