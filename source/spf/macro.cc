// SPF macro expansion; see macro.h.
#include "petrel/spf/macro.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "petrel/spf/record.h"

namespace petrel::spf {

namespace {

char lower(char c) { return char(std::tolower(static_cast<unsigned char>(c))); }

// RFC 7208 7.3: an upper-case macro letter URL-escapes its value: every character outside
// RFC 3986's "unreserved" set becomes %XX.
std::string urlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 && u < 0x80) {
      out += c;
    } else if (c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

// RFC 7208 7.3: split on the delimiters (default "."), reverse with "r", keep the rightmost
// `keep` parts (0: all), join with ".".
std::string transform(std::string_view value, size_t keep, bool reverse,
                      std::string_view delimiters) {
  if (delimiters.empty()) delimiters = ".";
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || delimiters.find(value[i]) != std::string_view::npos) {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  if (reverse) std::reverse(parts.begin(), parts.end());
  size_t from = keep > 0 && keep < parts.size() ? parts.size() - keep : 0;
  std::string out;
  for (size_t i = from; i < parts.size(); ++i) {
    if (i > from) out += '.';
    out += parts[i];
  }
  return out;
}

std::string letterValue(char letter, const MacroValues& v) {
  switch (letter) {
    case 's':
      return v.sender;
    case 'l':
      return v.local_part;
    case 'o':
      return v.sender_domain;
    case 'd':
      return v.domain;
    case 'i':
      return ipMacroText(v.ip);
    case 'p':
      return v.validated_name;
    case 'v':
      return v.ip.v6 ? "ip6" : "in-addr";
    case 'h':
      return v.helo;
    case 'c':
      return ipText(v.ip);
    case 'r':
      return v.receiver;
    case 't':
      return std::to_string(v.timestamp);
    default:
      return {};
  }
}

}  // namespace

std::string ipText(const IpAddress& ip) {
  char out[INET6_ADDRSTRLEN] = {};
  inet_ntop(ip.v6 ? AF_INET6 : AF_INET, ip.bytes.data(), out, sizeof out);
  return out;
}

std::string ipMacroText(const IpAddress& ip) {
  if (!ip.v6) return ipText(ip);
  std::string out;
  // Upper-case nibbles, as the OpenSPF suite (v-macro-ip6) and pyspf expect; DNS names are
  // case-insensitive, so only explanations show the difference.
  static constexpr char Hex[] = "0123456789ABCDEF";
  for (uint8_t b : ip.bytes) {
    if (!out.empty()) out += '.';
    out += Hex[b >> 4];
    out += '.';
    out += Hex[b & 15];
  }
  return out;
}

Result<std::string> expandMacros(std::string_view text, const MacroValues& values,
                                 bool explanation) {
  if (auto ok = checkMacroString(text, explanation); !ok) return ok.error();
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    char n = text[++i];
    if (n == '%') {
      out += '%';
    } else if (n == '_') {
      out += ' ';
    } else if (n == '-') {
      out += "%20";
    } else {  // "{" letter digits ["r"] delimiters "}", checked above
      size_t close = text.find('}', i);
      std::string_view body = text.substr(i + 1, close - i - 1);
      char letter = body[0];
      size_t j = 1;
      size_t keep = 0;
      while (j < body.size() && body[j] >= '0' && body[j] <= '9') {
        keep = std::min<size_t>(keep * 10 + size_t(body[j] - '0'), 1000);
        ++j;
      }
      bool reverse = false;
      if (j < body.size() && lower(body[j]) == 'r') {
        reverse = true;
        ++j;
      }
      std::string_view delimiters = body.substr(j);
      std::string value = letterValue(lower(letter), values);
      if (j > 1 || !delimiters.empty()) value = transform(value, keep, reverse, delimiters);
      out += std::isupper(static_cast<unsigned char>(letter)) != 0 ? urlEscape(value) : value;
      i = close;
    }
  }
  if (!explanation) {
    if (!out.empty() && out.back() == '.') out.pop_back();
    // RFC 7208 7.3: over 253 characters, drop labels from the left until it fits.
    while (out.size() > 253) {
      size_t dot = out.find('.');
      if (dot == std::string::npos) break;
      out.erase(0, dot + 1);
    }
  }
  return out;
}

}  // namespace petrel::spf
