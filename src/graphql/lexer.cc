#include "src/graphql/lexer.h"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

namespace eventide::graphql {
namespace {

bool IsNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsNameContinue(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsSurrogate(uint32_t cp) { return cp >= 0xD800 && cp <= 0xDFFF; }

// The spec's BlockStringValue(rawValue) (section 2.9.4): drop the common
// indentation of all lines but the first, then blank leading and trailing
// lines.
std::string BlockStringValue(std::string_view raw) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  for (size_t i = 0; i <= raw.size(); ++i) {
    if (i < raw.size() && raw[i] != '\n' && raw[i] != '\r') continue;
    lines.push_back(raw.substr(start, i - start));
    if (i + 1 < raw.size() && raw[i] == '\r' && raw[i + 1] == '\n') ++i;
    start = i + 1;
  }
  auto indent_of = [](std::string_view l) {
    size_t n = 0;
    while (n < l.size() && (l[n] == ' ' || l[n] == '\t')) ++n;
    return n;
  };
  size_t common = std::string_view::npos;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t indent = indent_of(lines[i]);
    if (indent < lines[i].size() && indent < common) common = indent;
  }
  if (common != std::string_view::npos) {
    for (size_t i = 1; i < lines.size(); ++i) {
      lines[i].remove_prefix(std::min(common, lines[i].size()));
    }
  }
  size_t first = 0, last = lines.size();
  while (first < last && indent_of(lines[first]) == lines[first].size()) ++first;
  while (last > first && indent_of(lines[last - 1]) == lines[last - 1].size()) --last;
  std::string out;
  for (size_t i = first; i < last; ++i) {
    if (i > first) out.push_back('\n');
    out.append(lines[i]);
  }
  return out;
}

}  // namespace

std::string TokenKindDescription(TokenKind kind) {
  switch (kind) {
    case TokenKind::kEof:
      return "<EOF>";
    case TokenKind::kBang:
      return "\"!\"";
    case TokenKind::kDollar:
      return "\"$\"";
    case TokenKind::kAmp:
      return "\"&\"";
    case TokenKind::kParenL:
      return "\"(\"";
    case TokenKind::kParenR:
      return "\")\"";
    case TokenKind::kSpread:
      return "\"...\"";
    case TokenKind::kColon:
      return "\":\"";
    case TokenKind::kEquals:
      return "\"=\"";
    case TokenKind::kAt:
      return "\"@\"";
    case TokenKind::kBracketL:
      return "\"[\"";
    case TokenKind::kBracketR:
      return "\"]\"";
    case TokenKind::kBraceL:
      return "\"{\"";
    case TokenKind::kPipe:
      return "\"|\"";
    case TokenKind::kBraceR:
      return "\"}\"";
    case TokenKind::kName:
      return "Name";
    case TokenKind::kInt:
      return "Int";
    case TokenKind::kFloat:
      return "Float";
    case TokenKind::kString:
      return "String";
    case TokenKind::kBlockString:
      return "BlockString";
  }
  return "<EOF>";
}

std::string TokenDescription(const Token& t) {
  std::string out = TokenKindDescription(t.kind);
  switch (t.kind) {
    case TokenKind::kName:
    case TokenKind::kInt:
    case TokenKind::kFloat:
    case TokenKind::kString:
    case TokenKind::kBlockString:
      // graphql-js prints the value as is, between quotes; long values are
      // cut so that an error message stays small.
      out += " \"";
      if (t.value.size() > 64) {
        size_t cut = 64;
        while (cut > 0 && (static_cast<unsigned char>(t.value[cut]) & 0xC0) == 0x80) --cut;
        out.append(t.value, 0, cut);
        out += "...";
      } else {
        out += t.value;
      }
      out += "\"";
      break;
    default:
      break;
  }
  return out;
}

Lexer::Lexer(std::string_view source) : src_(source) {}

Location Lexer::LocationAt(size_t offset) const {
  // Columns are counted from the last position asked for on this line, so a
  // long single-line document costs linear time, not quadratic.
  if (column_line_start_ != line_start_ || offset < column_offset_) {
    column_line_start_ = line_start_;
    column_offset_ = line_start_;
    column_ = 1;
  }
  for (size_t i = column_offset_; i < offset && i < src_.size(); ++i) {
    if ((static_cast<unsigned char>(src_[i]) & 0xC0) != 0x80) ++column_;
  }
  column_offset_ = std::max(column_offset_, std::min(offset, src_.size()));
  return Location{line_, column_};
}

bool Lexer::Fail(size_t offset, std::string message, Error* error) const {
  error->message = "Syntax Error: " + std::move(message);
  error->locations = {LocationAt(offset)};
  return false;
}

size_t Lexer::Utf8LengthAt(size_t offset, uint32_t* code_point) const {
  auto b = [&](size_t i) { return static_cast<unsigned char>(src_[offset + i]); };
  size_t left = src_.size() - offset;
  unsigned char c = b(0);
  size_t len;
  uint32_t cp;
  if (c < 0x80) {
    *code_point = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (left < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      IsSurrogate(cp)) {
    return 0;
  }
  *code_point = cp;
  return len;
}

std::string Lexer::DescribeCharAt(size_t offset) const {
  if (offset >= src_.size()) return "<EOF>";
  uint32_t cp = 0;
  if (Utf8LengthAt(offset, &cp) == 0) {
    char buf[40];
    std::snprintf(buf, sizeof(buf), "invalid UTF-8 byte 0x%02X",
                  static_cast<unsigned>(static_cast<unsigned char>(src_[offset])));
    return buf;
  }
  if (cp >= 0x20 && cp <= 0x7E) {
    if (cp == '"') return "'\"'";
    return std::string("\"") + static_cast<char>(cp) + "\"";
  }
  char buf[16];
  std::snprintf(buf, sizeof(buf), "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

void Lexer::SkipIgnored() {
  while (pos_ < src_.size()) {
    char c = src_[pos_];
    if (c == ' ' || c == '\t' || c == ',') {
      ++pos_;
    } else if (c == '\n' || c == '\r') {
      ++pos_;
      if (c == '\r' && pos_ < src_.size() && src_[pos_] == '\n') ++pos_;
      ++line_;
      line_start_ = pos_;
    } else if (c == '#') {
      // A comment runs to the end of the line; its bytes are not checked
      // (they never reach a response).
      while (pos_ < src_.size() && src_[pos_] != '\n' && src_[pos_] != '\r') ++pos_;
    } else if (src_.substr(pos_, 3) == "\xEF\xBB\xBF") {
      // UnicodeBOM is an ignored token anywhere (spec 2.1.1).
      pos_ += 3;
    } else {
      return;
    }
  }
}

bool Lexer::Next(Token* t, Error* error) {
  SkipIgnored();
  t->value.clear();
  t->loc = LocationAt(pos_);
  if (pos_ >= src_.size()) {
    t->kind = TokenKind::kEof;
    return true;
  }
  char c = src_[pos_];
  auto punct = [&](TokenKind k, size_t len) {
    t->kind = k;
    pos_ += len;
    return true;
  };
  switch (c) {
    case '!':
      return punct(TokenKind::kBang, 1);
    case '$':
      return punct(TokenKind::kDollar, 1);
    case '&':
      return punct(TokenKind::kAmp, 1);
    case '(':
      return punct(TokenKind::kParenL, 1);
    case ')':
      return punct(TokenKind::kParenR, 1);
    case ':':
      return punct(TokenKind::kColon, 1);
    case '=':
      return punct(TokenKind::kEquals, 1);
    case '@':
      return punct(TokenKind::kAt, 1);
    case '[':
      return punct(TokenKind::kBracketL, 1);
    case ']':
      return punct(TokenKind::kBracketR, 1);
    case '{':
      return punct(TokenKind::kBraceL, 1);
    case '|':
      return punct(TokenKind::kPipe, 1);
    case '}':
      return punct(TokenKind::kBraceR, 1);
    case '.':
      if (src_.substr(pos_, 3) == "...") return punct(TokenKind::kSpread, 3);
      break;
    case '"':
      if (src_.substr(pos_, 3) == "\"\"\"") return ReadBlockString(t, error);
      return ReadString(t, error);
    default:
      break;
  }
  if (IsNameStart(c)) {
    size_t start = pos_;
    while (pos_ < src_.size() && IsNameContinue(src_[pos_])) ++pos_;
    t->kind = TokenKind::kName;
    t->value.assign(src_.substr(start, pos_ - start));
    return true;
  }
  if (IsDigit(c) || c == '-') return ReadNumber(t, error);
  if (c == '\'') {
    return Fail(pos_,
                "Unexpected single quote character ('), did you mean to use a double quote (\")?",
                error);
  }
  uint32_t cp = 0;
  if (Utf8LengthAt(pos_, &cp) == 0 || cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) {
    return Fail(pos_, "Invalid character: " + DescribeCharAt(pos_) + ".", error);
  }
  return Fail(pos_, "Unexpected character: " + DescribeCharAt(pos_) + ".", error);
}

// IntValue and FloatValue (spec 2.9.1, 2.9.2). A number may not be followed
// by a '.' or a NameStart: "1.2.3" and "0x1" are errors, not two tokens.
bool Lexer::ReadNumber(Token* t, Error* error) {
  size_t start = pos_;
  bool is_float = false;
  auto at = [&](size_t i) { return i < src_.size() ? src_[i] : '\0'; };
  auto read_digits = [&]() {
    if (!IsDigit(at(pos_))) {
      return Fail(pos_, "Invalid number, expected digit but got: " + DescribeCharAt(pos_) + ".",
                  error);
    }
    while (IsDigit(at(pos_))) ++pos_;
    return true;
  };
  if (at(pos_) == '-') ++pos_;
  if (at(pos_) == '0') {
    ++pos_;
    if (IsDigit(at(pos_))) {
      return Fail(pos_, "Invalid number, unexpected digit after 0: " + DescribeCharAt(pos_) + ".",
                  error);
    }
  } else if (!read_digits()) {
    return false;
  }
  if (at(pos_) == '.') {
    is_float = true;
    ++pos_;
    if (!read_digits()) return false;
  }
  if (at(pos_) == 'e' || at(pos_) == 'E') {
    is_float = true;
    ++pos_;
    if (at(pos_) == '+' || at(pos_) == '-') ++pos_;
    if (!read_digits()) return false;
  }
  if (at(pos_) == '.' || IsNameStart(at(pos_))) {
    return Fail(pos_, "Invalid number, expected digit but got: " + DescribeCharAt(pos_) + ".",
                error);
  }
  t->kind = is_float ? TokenKind::kFloat : TokenKind::kInt;
  t->value.assign(src_.substr(start, pos_ - start));
  return true;
}

bool Lexer::ReadString(Token* t, Error* error) {
  ++pos_;  // the opening quote
  std::string& out = t->value;
  while (pos_ < src_.size()) {
    char c = src_[pos_];
    if (c == '"') {
      ++pos_;
      t->kind = TokenKind::kString;
      return true;
    }
    if (c == '\n' || c == '\r') break;  // no line terminator in a string
    if (c == '\\') {
      size_t esc = pos_;
      char e = pos_ + 1 < src_.size() ? src_[pos_ + 1] : '\0';
      switch (e) {
        case '"':
          out.push_back('"');
          pos_ += 2;
          continue;
        case '\\':
          out.push_back('\\');
          pos_ += 2;
          continue;
        case '/':
          out.push_back('/');
          pos_ += 2;
          continue;
        case 'b':
          out.push_back('\b');
          pos_ += 2;
          continue;
        case 'f':
          out.push_back('\f');
          pos_ += 2;
          continue;
        case 'n':
          out.push_back('\n');
          pos_ += 2;
          continue;
        case 'r':
          out.push_back('\r');
          pos_ += 2;
          continue;
        case 't':
          out.push_back('\t');
          pos_ += 2;
          continue;
        case 'u':
          break;
        default: {
          if (pos_ + 1 >= src_.size()) return Fail(pos_ + 1, "Unterminated string.", error);
          uint32_t cp = 0;
          size_t n = Utf8LengthAt(pos_ + 1, &cp);
          // The message quotes the escape: never with bytes that are not
          // UTF-8, which would make the errors JSON invalid.
          if (n == 0) {
            return Fail(pos_ + 1,
                        "Invalid character within String: " + DescribeCharAt(pos_ + 1) + ".",
                        error);
          }
          size_t len = 1 + n;
          return Fail(esc,
                      "Invalid character escape sequence: \"" +
                          std::string(src_.substr(esc, std::min(len, src_.size() - esc))) + "\".",
                      error);
        }
      }
      // \uXXXX, \u{X...} (October 2021), and a surrogate pair \uD83D\uDE00.
      auto read_escape = [&](size_t at, uint32_t* cp, size_t* end) {
        if (at + 2 < src_.size() && src_[at + 2] == '{') {
          size_t i = at + 3;
          uint32_t v = 0;
          size_t digits = 0;
          while (i < src_.size() && HexValue(src_[i]) >= 0) {
            v = v * 16 + static_cast<uint32_t>(HexValue(src_[i]));
            if (v > 0x10FFFF) return false;
            ++i;
            ++digits;
          }
          if (digits == 0 || i >= src_.size() || src_[i] != '}') return false;
          *cp = v;
          *end = i + 1;
          return true;
        }
        if (at + 6 > src_.size()) return false;
        uint32_t v = 0;
        for (size_t i = at + 2; i < at + 6; ++i) {
          int h = HexValue(src_[i]);
          if (h < 0) return false;
          v = v * 16 + static_cast<uint32_t>(h);
        }
        *cp = v;
        *end = at + 6;
        return true;
      };
      auto bad_escape = [&](size_t end) {
        size_t stop = end;
        while (stop < src_.size() && stop < esc + 12 && src_[stop] != '"' && src_[stop] != '\n' &&
               src_[stop] != '\r' && static_cast<unsigned char>(src_[stop]) < 0x80 &&
               src_[stop] != '\\' && (stop <= esc + 1 || src_[stop - 1] != '}')) {
          ++stop;
        }
        return Fail(esc,
                    "Invalid Unicode escape sequence: \"" +
                        std::string(src_.substr(esc, stop - esc)) + "\".",
                    error);
      };
      uint32_t cp = 0;
      size_t end = 0;
      if (!read_escape(pos_, &cp, &end)) return bad_escape(pos_ + 2);
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        // A leading surrogate must be followed by an escaped trailing one.
        uint32_t low = 0;
        size_t end2 = 0;
        if (end + 1 < src_.size() && src_[end] == '\\' && src_[end + 1] == 'u' &&
            read_escape(end, &low, &end2) && low >= 0xDC00 && low <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          end = end2;
        } else {
          return bad_escape(end);
        }
      } else if (IsSurrogate(cp)) {
        return bad_escape(end);
      }
      AppendUtf8(cp, &out);
      pos_ = end;
      continue;
    }
    uint32_t cp = 0;
    size_t n = Utf8LengthAt(pos_, &cp);
    if (n == 0 || (cp < 0x20 && cp != '\t')) {
      return Fail(pos_, "Invalid character within String: " + DescribeCharAt(pos_) + ".", error);
    }
    out.append(src_.substr(pos_, n));
    pos_ += n;
  }
  return Fail(pos_, "Unterminated string.", error);
}

bool Lexer::ReadBlockString(Token* t, Error* error) {
  pos_ += 3;
  std::string raw;
  while (pos_ < src_.size()) {
    if (src_.substr(pos_, 3) == "\"\"\"") {
      pos_ += 3;
      t->kind = TokenKind::kBlockString;
      t->value = BlockStringValue(raw);
      return true;
    }
    if (src_.substr(pos_, 4) == "\\\"\"\"") {
      raw.append("\"\"\"");
      pos_ += 4;
      continue;
    }
    char c = src_[pos_];
    if (c == '\n' || c == '\r') {
      raw.push_back(c);
      ++pos_;
      if (c == '\r' && pos_ < src_.size() && src_[pos_] == '\n') {
        raw.push_back('\n');
        ++pos_;
      }
      ++line_;
      line_start_ = pos_;
      continue;
    }
    uint32_t cp = 0;
    size_t n = Utf8LengthAt(pos_, &cp);
    if (n == 0 || (cp < 0x20 && cp != '\t')) {
      return Fail(pos_, "Invalid character within String: " + DescribeCharAt(pos_) + ".", error);
    }
    raw.append(src_.substr(pos_, n));
    pos_ += n;
  }
  return Fail(pos_, "Unterminated string.", error);
}

}  // namespace eventide::graphql
