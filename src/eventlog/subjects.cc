#include "src/eventlog/subjects.h"

namespace eventide::eventlog {

void AppendSubjectToken(std::string_view part, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : part) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (plain) {
      out->push_back(static_cast<char>(c));
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

std::string WriteSubject(std::string_view stream, std::string_view app, std::string_view table,
                         std::string_view id) {
  std::string s;
  s.reserve(stream.size() + app.size() + table.size() + id.size() + 8);
  s.append(stream);
  s.push_back('.');
  AppendSubjectToken(app, &s);
  s.push_back('.');
  AppendSubjectToken(table, &s);
  if (!id.empty()) {
    s.push_back('.');
    AppendSubjectToken(id, &s);
  }
  return s;
}

std::string StreamSubjects(std::string_view stream) { return std::string(stream) + ".>"; }

}  // namespace eventide::eventlog
