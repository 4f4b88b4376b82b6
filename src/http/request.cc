#include "src/http/request.h"

#include <cctype>

#include "src/common/utf8.h"

namespace eventide::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Decode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;  // "%" or "%a" at the end
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

}  // namespace

const std::string* Request::FindHeader(std::string_view lower_name) const {
  for (const Header& h : headers) {
    if (h.name == lower_name) return &h.value;
  }
  return nullptr;
}

bool SplitPath(std::string_view path, std::vector<std::string>* segments) {
  segments->clear();
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) {
      std::string seg;
      if (!Decode(path.substr(i, j - i), false, &seg)) return false;
      if (seg.find('/') != std::string::npos || seg.find('\0') != std::string::npos) return false;
      segments->push_back(std::move(seg));
    }
    i = j + 1;
  }
  return true;
}

bool ParseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>* params) {
  params->clear();
  size_t i = 0;
  while (i < query.size()) {
    size_t j = query.find('&', i);
    if (j == std::string_view::npos) j = query.size();
    std::string_view pair = query.substr(i, j - i);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string k, v;
      if (!Decode(pair.substr(0, eq), true, &k)) return false;
      if (eq != std::string_view::npos && !Decode(pair.substr(eq + 1), true, &v)) return false;
      params->emplace_back(std::move(k), std::move(v));
    }
    i = j + 1;
  }
  return true;
}

void AppendPathSegment(std::string_view segment, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char ch : segment) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out->push_back(ch);
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

bool TargetIsUtf8(std::string_view target) {
  // Decoding the whole target at once judges each segment, key and value:
  // '/', '?', '&', '=' and '+' are ASCII, so they never sit inside a
  // multi-byte sequence, and a sequence split by one is invalid either way.
  if (target.find('%') == std::string_view::npos) return IsUtf8(target);
  std::string decoded;
  decoded.reserve(target.size());
  for (size_t i = 0; i < target.size(); ++i) {
    int hi = -1, lo = -1;
    if (target[i] == '%' && i + 2 < target.size()) {
      hi = HexValue(target[i + 1]);
      lo = HexValue(target[i + 2]);
    }
    if (hi >= 0 && lo >= 0) {
      decoded.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      decoded.push_back(target[i]);
    }
  }
  return IsUtf8(decoded);
}

}  // namespace eventide::http
