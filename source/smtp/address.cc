// Parsing of MAIL FROM / RCPT TO arguments (RFC 5321 4.1.2, 4.1.1.2-3; RFC 1870, 6152,
// 6531, 3461). Liberal where real clients differ harmlessly (a space after the colon,
// no angle brackets), strict where it matters (address syntax, unknown parameters).
#include "petrel/smtp/address.h"

#include <fmt/format.h>

#include <cctype>

#include "petrel/core/strings.h"

namespace petrel::smtp {

namespace {

constexpr size_t MaxPathLength = 256;  // RFC 5321 4.5.3.1.3
constexpr size_t MaxEnvidLength = 100;  // RFC 3461 4.4

bool isAtext(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(char(c)) != std::string_view::npos;
}

// Strict UTF-8 validation (no overlongs, no surrogates); only called on non-ASCII input.
bool validUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

bool validLocalPart(std::string_view lp, bool utf8) {
  if (lp.empty()) return false;
  if (lp.front() == '"') {
    // quoted-string: qtextSMTP or quoted-pairSMTP
    if (lp.size() < 2 || lp.back() != '"') return false;
    for (size_t i = 1; i + 1 < lp.size(); ++i) {
      unsigned char c = lp[i];
      if (c == '\\') {
        ++i;
        if (i + 1 >= lp.size()) return false;
        // quoted-pairSMTP is a backslash and %d32-126: no CR, NUL or TAB smuggled through.
        unsigned char e = lp[i];
        if (e < 32 || e > 126) return false;
        continue;
      }
      if (c == '"' || c < 32 || c == 127) return false;  // qtextSMTP has no controls, no TAB
      if (c >= 0x80 && !utf8) return false;
    }
    return true;
  }
  // dot-string
  bool prev_dot = true;
  for (unsigned char c : lp) {
    if (c == '.') {
      if (prev_dot) return false;
      prev_dot = true;
      continue;
    }
    prev_dot = false;
    if (isAtext(c)) continue;
    if (c >= 0x80 && utf8) continue;
    return false;
  }
  return !prev_dot;
}

bool validDomain(std::string_view d, bool utf8) {
  if (d.empty() || d.size() > 255) return false;
  if (d.front() == '[') {
    // address literal; we only check its shape
    if (d.back() != ']' || d.size() < 3) return false;
    for (unsigned char c : d.substr(1, d.size() - 2)) {
      if (!(std::isalnum(c) || c == '.' || c == ':' || c == '-')) return false;
    }
    return true;
  }
  for (auto label : split(d, '.')) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (unsigned char c : label) {
      if (std::isalnum(c) || c == '-') continue;
      if (c >= 0x80 && utf8) continue;
      return false;
    }
  }
  return true;
}

// Finds the path in `arg`; returns it (with brackets stripped) and the rest (parameters).
bool splitPath(std::string_view arg, std::string_view& path, std::string_view& rest) {
  arg = trim(arg);
  if (arg.empty()) return false;
  if (arg.front() != '<') {
    // No brackets: tolerated like Postfix (strict_rfc821_envelopes = no).
    size_t sp = arg.find(' ');
    path = arg.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view() : arg.substr(sp + 1);
    return true;
  }
  bool quoted = false;
  for (size_t i = 1; i < arg.size(); ++i) {
    char c = arg[i];
    if (quoted && c == '\\') {
      ++i;
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (!quoted && c == '>') {
      path = arg.substr(1, i - 1);
      rest = arg.substr(i + 1);
      if (!rest.empty() && rest.front() != ' ') return false;
      return true;
    }
  }
  return false;
}

enum class PathKind { Sender, Recipient };

// Validates a path and fills `out`; on failure returns the reply.
std::optional<ParseFailure> parsePath(std::string_view path, PathKind kind, bool utf8,
                                      Address& out) {
  const char* status = kind == PathKind::Sender ? "5.1.7" : "5.1.3";
  auto bad = [&](std::string what) {
    return ParseFailure{Reply(501, status, fmt::format("Bad {} address syntax", what))};
  };
  const char* what = kind == PathKind::Sender ? "sender" : "recipient";
  if (path.size() + 2 > MaxPathLength) {  // the limit includes the angle brackets
    return ParseFailure{Reply(501, status, fmt::format("Bad {} address: too long", what))};
  }
  // A source route "@a,@b:" is accepted and ignored (RFC 5321 4.1.2, C).
  if (!path.empty() && path.front() == '@') {
    size_t colon = path.find(':');
    if (colon == std::string_view::npos) return bad(what);
    path.remove_prefix(colon + 1);
  }
  if (path.empty()) {
    if (kind == PathKind::Sender) {
      out.text.clear();
      return std::nullopt;
    }
    return bad(what);
  }
  bool ascii = true;
  for (unsigned char c : path) ascii &= c < 0x80;
  if (!ascii) {
    if (!utf8) {
      return ParseFailure{Reply(553, "5.6.7",
                                fmt::format("Non-ASCII {} address requires SMTPUTF8", what))};
    }
    if (!validUtf8(path)) return bad(what);
  }
  size_t at = path.rfind('@');
  if (at == std::string_view::npos) {
    // Only "postmaster" may come without a domain (RFC 5321 4.1.1.3).
    if (kind == PathKind::Recipient && iequals(path, "postmaster")) {
      out.text = std::string(path);
      return std::nullopt;
    }
    return bad(what);
  }
  if (!validLocalPart(path.substr(0, at), utf8) || !validDomain(path.substr(at + 1), utf8)) {
    return bad(what);
  }
  out.text = std::string(path);
  return std::nullopt;
}

struct Param {
  std::string key;  // upper case
  std::string_view value;
  bool has_value;
};

std::vector<Param> splitParams(std::string_view rest) {
  std::vector<Param> out;
  for (auto tok : split(trim(rest), ' ')) {
    if (tok.empty()) continue;
    size_t eq = tok.find('=');
    Param p;
    p.key = toLower(tok.substr(0, eq));
    for (auto& c : p.key) c = char(std::toupper((unsigned char)c));
    p.has_value = eq != std::string_view::npos;
    if (p.has_value) p.value = tok.substr(eq + 1);
    out.push_back(std::move(p));
  }
  return out;
}

ParseFailure unsupported(const Param& p) {
  // Echo the keyword only when it is one (esmtp-keyword, RFC 5321 4.1.2): raw client bytes
  // (a bare CR, NUL, 8-bit) must not reach a reply line, nor make it longer than 512 octets.
  bool keyword = !p.key.empty() && p.key.size() <= 64 && p.key.front() != '-';
  for (char c : p.key) {
    keyword &= (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  }
  if (!keyword) return ParseFailure{Reply(555, "5.5.4", "Unsupported option")};
  return ParseFailure{Reply(555, "5.5.4", fmt::format("Unsupported option: {}", p.key))};
}
// Decoded DSN values go into DSN headers (Original-Envelope-Id, Original-Recipient): no
// control characters, so no CRLF injection. `ascii`: printable US-ASCII only (ENVID, RFC 3461
// 4.4).
bool printable(std::string_view s, bool ascii) {
  for (unsigned char c : s) {
    if (c < 32 || c == 127 || (ascii && c > 127)) return false;
  }
  return true;
}

ParseFailure badValue(const Param& p) {
  return ParseFailure{Reply(501, "5.5.4", fmt::format("Bad parameter syntax: {}", p.key))};
}

}  // namespace

std::string_view Address::localPart() const {
  std::string_view t = text;
  size_t at = t.rfind('@');
  return at == std::string_view::npos ? t : t.substr(0, at);
}

std::string_view Address::domain() const {
  std::string_view t = text;
  size_t at = t.rfind('@');
  return at == std::string_view::npos ? std::string_view() : t.substr(at + 1);
}

bool Address::isAscii() const {
  for (unsigned char c : text) {
    if (c >= 0x80) return false;
  }
  return true;
}

std::optional<std::string> decodeXtext(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c == '+') {
      if (i + 2 >= s.size()) return std::nullopt;
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += char(hi * 16 + lo);
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') {
      return std::nullopt;
    } else {
      out += char(c);
    }
  }
  return out;
}

std::optional<ParseFailure> parseMailFrom(std::string_view arg, MailParams& out) {
  std::string_view path, rest;
  if (!splitPath(arg, path, rest)) {
    return ParseFailure{Reply(501, "5.5.4", "Syntax: MAIL FROM:<address>")};
  }
  out = MailParams{};
  auto params = splitParams(rest);
  for (const auto& p : params) {
    if (p.key == "SMTPUTF8" && !p.has_value) out.smtputf8 = true;
  }
  for (const auto& p : params) {
    if (p.key == "SIZE") {
      auto n = p.has_value ? parseUnsigned(p.value) : std::nullopt;
      if (!n) return badValue(p);
      out.size = *n;
    } else if (p.key == "BODY") {
      std::string v = toLower(p.value);
      if (v == "7bit") {
        out.body = "7BIT";
      } else if (v == "8bitmime") {
        out.body = "8BITMIME";
      } else {
        return ParseFailure{Reply(501, "5.5.4", "Unsupported BODY type")};
      }
    } else if (p.key == "SMTPUTF8") {
      if (p.has_value) return badValue(p);
    } else if (p.key == "RET") {
      std::string v = toLower(p.value);
      if (v != "full" && v != "hdrs") return badValue(p);
      out.dsn_ret = v == "full" ? "FULL" : "HDRS";
    } else if (p.key == "ENVID") {
      auto v = decodeXtext(p.value);
      if (!v || p.value.size() > MaxEnvidLength || !printable(*v, true)) return badValue(p);
      out.dsn_envid = *v;
    } else {
      return unsupported(p);
    }
  }
  return parsePath(path, PathKind::Sender, out.smtputf8, out.sender);
}

std::optional<ParseFailure> parseRcptTo(std::string_view arg, bool utf8_allowed,
                                        RcptParams& out) {
  std::string_view path, rest;
  if (!splitPath(arg, path, rest)) {
    return ParseFailure{Reply(501, "5.5.4", "Syntax: RCPT TO:<address>")};
  }
  out = RcptParams{};
  for (const auto& p : splitParams(rest)) {
    if (p.key == "NOTIFY") {
      std::string v = toLower(p.value);
      bool ok = !v.empty();
      bool never = false, other = false;
      for (auto item : split(v, ',')) {
        if (item == "never") {
          never = true;
        } else if (item == "success" || item == "failure" || item == "delay") {
          other = true;
        } else {
          ok = false;
        }
      }
      if (!ok || (never && other)) return badValue(p);  // RFC 3461 4.1
      for (auto& c : v) c = char(std::toupper((unsigned char)c));
      out.dsn_notify = v;
    } else if (p.key == "ORCPT") {
      // addr-type ";" xtext (RFC 3461 4.2); utf-8-addr-xtext is accepted as-is
      size_t semi = p.value.find(';');
      if (semi == std::string_view::npos || semi == 0 ||
          !printable(p.value.substr(0, semi), true)) {
        return badValue(p);
      }
      auto v = decodeXtext(p.value.substr(semi + 1));
      if (!v) {
        if (!utf8_allowed) return badValue(p);
        v = std::string(p.value.substr(semi + 1));
      }
      if (!printable(*v, false)) return badValue(p);
      out.dsn_orcpt = fmt::format("{};{}", p.value.substr(0, semi), *v);
    } else {
      return unsupported(p);
    }
  }
  return parsePath(path, PathKind::Recipient, utf8_allowed, out.recipient);
}

}  // namespace petrel::smtp
