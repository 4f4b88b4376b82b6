#include "src/http/response.h"

#include <charconv>

#include "src/common/json_text.h"
#include "src/common/utf8.h"

namespace eventide::http {

std::string_view StatusText(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

namespace {

void AppendHead(const ResponseHead& head, std::string* out, bool close) {
  out->append("HTTP/1.1 ");
  char num[24];
  auto r = std::to_chars(num, num + sizeof(num), head.status);
  out->append(num, r.ptr);
  out->push_back(' ');
  out->append(StatusText(head.status));
  out->append("\r\n");
  for (const Header& h : head.headers) {
    out->append(h.name);
    out->append(": ");
    out->append(h.value);
    out->append("\r\n");
  }
  out->append(head.raw_headers);
  if (head.close || close) out->append("connection: close\r\n");
}

}  // namespace

void AppendResponse(const ResponseHead& head, std::string_view body, std::string* out, bool close) {
  AppendHead(head, out, close);
  // 204 and 304 have no body, and a Content-Length on them would describe
  // one (RFC 9110 sections 8.6 and 15.4.5).
  if (head.status == 204 || head.status == 304) {
    out->append("\r\n");
    return;
  }
  out->append("content-length: ");
  char num[24];
  auto r = std::to_chars(
      num, num + sizeof(num),
      head.content_length >= 0 ? static_cast<uint64_t>(head.content_length) : body.size());
  out->append(num, r.ptr);
  out->append("\r\n\r\n");
  out->append(body);
}

void AppendStreamHead(const ResponseHead& head, std::string* out) {
  AppendHead(head, out, false);
  out->append("\r\n");
}

std::string_view ContentTypeFor(std::string_view path) {
  size_t dot = path.rfind('.');
  size_t slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  std::string_view ext = path.substr(dot + 1);
  struct Type {
    std::string_view ext, type;
  };
  static constexpr Type kTypes[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"txt", "text/plain; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"wasm", "application/wasm"},
  };
  for (const Type& t : kTypes) {
    if (t.ext == ext) return t.type;
  }
  return "application/octet-stream";
}

ResponseHead MethodNotAllowedHead(std::string_view allow) {
  ResponseHead head;
  head.status = 405;
  head.headers.push_back({"content-type", "application/json"});
  head.headers.push_back({"allow", std::string(allow)});
  return head;
}

std::string ErrorBody(std::string_view code, std::string_view message, std::string_view field) {
  std::string out;
  out.reserve(48 + code.size() + message.size() + field.size());
  out.append("{\"error\":{\"code\":");
  AppendJsonString(code, &out);
  // A message may quote a header a client sent, which nothing checked:
  // the answer is JSON, so UTF-8 all the same (errors only: cheap).
  auto append_text = [&out](std::string_view text) {
    if (IsUtf8(text)) {
      AppendJsonString(text, &out);
    } else {
      AppendJsonString(ToUtf8Lossy(text), &out);
    }
  };
  out.append(",\"message\":");
  append_text(message);
  if (!field.empty()) {
    out.append(",\"field\":");
    append_text(field);
  }
  out.append("}}");
  return out;
}

}  // namespace eventide::http
