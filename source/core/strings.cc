// ASCII string helpers; see headers/petrel/core/strings.h.
#include "petrel/core/strings.h"

#include <string.h>
#include <time.h>

#include <charconv>
#include <limits>

namespace petrel {

namespace {
char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }
}  // namespace

std::string toLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lowerAscii(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

bool istartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' ||
                        s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::optional<uint64_t> parseUnsigned(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

namespace {
std::optional<uint64_t> parseWithSuffix(std::string_view s,
                                        uint64_t (*mult)(std::string_view suffix)) {
  s = trim(s);
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  auto n = parseUnsigned(s.substr(0, digits));
  if (!n) return std::nullopt;
  uint64_t m = mult(trim(s.substr(digits)));
  if (m == 0) return std::nullopt;
  if (*n > std::numeric_limits<uint64_t>::max() / m) return std::nullopt;
  return *n * m;
}
}  // namespace

std::optional<uint64_t> parseSize(std::string_view s) {
  return parseWithSuffix(s, [](std::string_view u) -> uint64_t {
    std::string l = toLower(u);
    if (l.empty() || l == "b") return 1;
    if (l == "k" || l == "kb" || l == "kib") return 1024;
    if (l == "m" || l == "mb" || l == "mib") return 1024 * 1024;
    if (l == "g" || l == "gb" || l == "gib") return 1024ull * 1024 * 1024;
    return 0;
  });
}

std::optional<uint64_t> parseDuration(std::string_view s) {
  return parseWithSuffix(s, [](std::string_view u) -> uint64_t {
    std::string l = toLower(u);
    if (l.empty() || l == "s") return 1;
    if (l == "m") return 60;
    if (l == "h") return 3600;
    if (l == "d") return 86400;
    if (l == "w") return 7 * 86400;
    return 0;
  });
}

std::string jsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          static const char* hex = "0123456789abcdef";
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += char(c);
        }
    }
  }
  return out;
}

std::string formatLocalTime(int64_t unix_time, const char* format) {
  time_t t = time_t(unix_time);
  struct tm tm;
  localtime_r(&t, &tm);
  char text[64];
  return strftime(text, sizeof text, format, &tm) > 0 ? text : "";
}

std::string rfc5322Date(int64_t unix_time) {
  return formatLocalTime(unix_time, "%a, %d %b %Y %H:%M:%S %z");
}

bool hasControlCharacter(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

std::string systemErrorText(int err) {
  char buf[256];
  // strerror_r has two signatures (GNU returns char*, XSI int); these overloads pick either.
  struct Pick {
    static const char* text(int rc, const char* buf) { return rc == 0 ? buf : "unknown error"; }
    static const char* text(const char* s, const char*) { return s; }
  };
  return Pick::text(strerror_r(err, buf, sizeof buf), buf);
}

}  // namespace petrel
