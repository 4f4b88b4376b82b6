#include "src/hooks/url.h"

#include <arpa/inet.h>

#include <cctype>

namespace eventide::hooks {
namespace {

// Longer URLs are almost certainly a mistake (a payload pasted into config),
// and every request line carries the target.
constexpr size_t kMaxUrlBytes = 2048;
// RFC 1035: a DNS name is at most 253 characters written out.
constexpr size_t kMaxHostBytes = 253;

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

Status Invalid(std::string_view url, std::string_view why) {
  return Status::InvalidArgument("hook URL \"" + std::string(url) + "\": " + std::string(why));
}

}  // namespace

std::string HookUrl::HostHeader() const {
  std::string out;
  bool v6 = host.find(':') != std::string::npos;
  if (v6) out.push_back('[');
  out += host;
  if (v6) out.push_back(']');
  if (port != (tls ? 443 : 80)) out += ":" + std::to_string(port);
  return out;
}

std::string HookUrl::Redacted() const {
  std::string out = tls ? "https://" : "http://";
  out += HostHeader();
  out += target.substr(0, target.find('?'));
  return out;
}

Result<HookUrl> ParseHookUrl(std::string_view url) {
  if (url.empty()) return Invalid(url, "empty");
  if (url.size() > kMaxUrlBytes) {
    return Status::InvalidArgument("hook URL longer than " + std::to_string(kMaxUrlBytes) +
                                   " bytes");
  }
  for (char ch : url) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) {
      return Invalid(url, "spaces, control characters and non-ASCII bytes must be percent-encoded");
    }
  }
  HookUrl out;
  std::string_view rest;
  if (StartsWithNoCase(url, "http://")) {
    rest = url.substr(7);
  } else if (StartsWithNoCase(url, "https://")) {
    out.tls = true;
    out.port = 443;
    rest = url.substr(8);
  } else {
    return Invalid(url, "must start with http:// or https://");
  }
  if (rest.find('#') != std::string_view::npos) {
    return Invalid(url, "a fragment (#...) is never sent to the server; remove it");
  }
  size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return Invalid(url, "credentials (user:password@) are not supported in hook URLs");
  }
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Invalid(url, "unterminated [IPv6] address");
    std::string v6(authority.substr(1, close - 1));
    unsigned char buf[16];
    if (inet_pton(AF_INET6, v6.c_str(), buf) != 1) return Invalid(url, "bad IPv6 address");
    out.host = v6;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Invalid(url, "unexpected characters after the IPv6 address");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.find(':');
    std::string_view host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
    if (host.empty()) return Invalid(url, "no host");
    if (host.size() > kMaxHostBytes) return Invalid(url, "host name too long");
    for (char c : host) {
      if (!IsNameChar(c)) return Invalid(url, "bad character in host name");
    }
    out.host = std::string(host);
  }
  if (has_port) {
    if (port_text.empty() || port_text.size() > 5) return Invalid(url, "bad port");
    uint32_t port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return Invalid(url, "bad port");
      port = port * 10 + static_cast<uint32_t>(c - '0');
    }
    if (port == 0 || port > 65535) return Invalid(url, "port must be 1..65535");
    out.port = static_cast<uint16_t>(port);
  }
  if (target.empty()) {
    out.target = "/";
  } else if (target[0] == '?') {
    out.target = "/" + std::string(target);
  } else {
    out.target = std::string(target);
  }
  return out;
}

}  // namespace eventide::hooks
