// Webhook URLs (SPEC section 9): the one shape a hook target may take,
//
//   http[s]://host[:port][/path][?query]
//
// where host is a DNS name, an IPv4 address or a bracketed IPv6 address.
// Refused, each with a message that says why: other schemes, credentials
// (user:pass@ — they would end up in logs), fragments (never sent), ports
// outside 1..65535, spaces, control or non-ASCII bytes (percent-encode them),
// and URLs over 2 KiB.
#ifndef EVENTIDE_SRC_HOOKS_URL_H_
#define EVENTIDE_SRC_HOOKS_URL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "wal/status.h"

namespace eventide::hooks {

struct HookUrl {
  bool tls = false;    // https
  std::string host;    // as written, without brackets for IPv6: "example.com", "::1"
  uint16_t port = 80;  // 80 or 443 unless given
  std::string target;  // the request target: path and query ("/" when absent)

  // The Host header's value: host, bracketed if IPv6, with ":port" when the
  // port is not the scheme's default.
  std::string HostHeader() const;
  // scheme://host[:port]/path without the query: what logs may show (a
  // query often carries a secret).
  std::string Redacted() const;
};

// Parses a hook URL; InvalidArgument names what is wrong.
Result<HookUrl> ParseHookUrl(std::string_view url);

}  // namespace eventide::hooks

#endif  // EVENTIDE_SRC_HOOKS_URL_H_
