// Authentication (SPEC section 8): the token a request presents, checked
// against its app's `auth`, and who it makes the request act for.
#include <strings.h>

#include <algorithm>
#include <utility>

#include "src/common/time.h"
#include "src/server/server.h"

namespace eventide::server {
Server::AuthResult Server::Authenticate(const config::App& app, const http::Request& req) const {
  AuthResult a;
  if (app.auth == "off") return a;
  std::string token;
  if (const std::string* h = req.FindHeader("authorization")) {
    std::string_view v(*h);
    if (v.size() > 7 && strncasecmp(v.data(), "bearer ", 7) == 0) {
      v.remove_prefix(7);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      token.assign(v);
    }
  }
  if (token.empty() && req.upgrade) {
    // Browsers cannot set headers on a WebSocket: the token rides as one of
    // the offered subprotocols (an entry shaped like a JWT), and is echoed
    // back as the chosen one (RFC 6455 section 4.2.2).
    if (const std::string* p = req.FindHeader("sec-websocket-protocol")) {
      std::string_view list(*p);
      while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view entry = list.substr(0, comma);
        while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
        while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
        if (std::count(entry.begin(), entry.end(), '.') == 2) {
          token.assign(entry);
          a.ws_protocol = token;
          break;
        }
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
    }
  }
  std::vector<std::pair<std::string, std::string>> params;
  if (http::ParseQuery(req.query, &params)) {
    for (auto& [k, v] : params) {
      if (k != "token") continue;
      if (!app.allow_query_token) {
        a.ok = false;
        a.code = "query_token_not_allowed";
        a.message = "app " + app.app_id +
                    " takes tokens in the Authorization header (or Sec-WebSocket-Protocol), "
                    "not in the URL";
        return a;
      }
      if (token.empty()) token = v;
    }
  }
  if (token.empty()) {
    if (app.auth == "optional") return a;
    a.ok = false;
    a.code = "token_missing";
    a.message = "app " + app.app_id +
                " needs a token: Authorization: Bearer, Sec-WebSocket-Protocol or ?token=";
    return a;
  }
  auth::Verdict v = verifier_->Verify(token, WallMillis() / 1000);
  if (!v.ok) {
    a.ok = false;
    a.code = v.code;
    a.message = v.message;
    return a;
  }
  a.anonymous = false;
  a.claims = std::move(v.claims);
  return a;
}

policy::Principal Server::PrincipalOf(const AuthResult& a) {
  policy::Principal p;
  if (a.anonymous) return p;
  p.subject = a.claims.subject;
  p.claims_json = a.claims.json.empty() ? "{}" : a.claims.json;
  return p;
}

int64_t Server::AuthDeadline(const AuthResult& a) const {
  if (a.anonymous || a.claims.expires == 0) return 0;
  return (a.claims.expires + static_cast<int64_t>(options_.jwt_leeway_ms / 1000)) * 1000;
}

bool Server::VerifyToken(const std::string& app_id, std::string_view token,
                         stream::TokenCheck* out) {
  out->ok = false;
  if (verifier_ == nullptr) {
    out->code = "token_invalid";
    out->message = "this server checks no tokens";
    return false;
  }
  auth::Verdict v = verifier_->Verify(token, WallMillis() / 1000);
  if (!v.ok) {
    out->code = v.code;
    out->message = v.message;
    return false;
  }
  (void)app_id;  // every app shares the server's keys
  AuthResult a;
  a.anonymous = false;
  a.claims = std::move(v.claims);
  out->ok = true;
  out->subject = a.claims.subject;
  out->claims_json = PrincipalOf(a).claims_json;
  out->exp_s = a.claims.expires;
  out->deadline_wall_ms = AuthDeadline(a);
  return true;
}

void Server::RespondAuthError(http::Exchange* s, uint64_t slot, const config::App& app,
                              const http::Request& req, const AuthResult& a, bool close) {
  ++metrics_.rejected_by_code[a.code];
  http::ResponseHead head;
  head.status = a.status;
  head.close = close;
  head.headers.push_back({"content-type", "application/json"});
  head.headers.push_back({"www-authenticate",
                          a.code == "token_missing" ? "Bearer" : "Bearer error=\"invalid_token\""});
  rest::Service::AddCors(app, req, &head.headers);
  s->Respond(slot, head, http::ErrorBody(a.code, a.message));
}

}  // namespace eventide::server
