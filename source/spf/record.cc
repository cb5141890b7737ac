// SPF record parser; see record.h. The grammar is RFC 7208 section 12; every check below
// names the ABNF rule it enforces.
#include "petrel/spf/record.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace petrel::spf {

namespace {

char lower(char c) { return char(std::tolower(static_cast<unsigned char>(c))); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlnum(char c) { return isAlpha(c) || isDigit(c); }

// Shown in error texts: control characters and non-ASCII as \xNN, so that a hostile record
// cannot put anything into a log line.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  if (s.size() > 200) out += "...";
  return out;
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool isTopLabel(std::string_view label) {
  if (label.empty()) return false;
  bool alpha = false;
  bool dash = false;
  for (char c : label) {
    if (isAlpha(c)) {
      alpha = true;
    } else if (c == '-') {
      dash = true;
    } else if (!isDigit(c)) {
      return false;
    }
  }
  if (!dash) return alpha;
  return isAlnum(label.front()) && isAlnum(label.back());
}

// "/" ("0" / %x31-39 0*nDIGIT), value at most `max`; -1 if `text` is not one.
int cidrValue(std::string_view text, int max) {
  if (text.empty() || text.size() > 3 || !std::all_of(text.begin(), text.end(), isDigit)) {
    return -1;
  }
  if (text.size() > 1 && text[0] == '0') return -1;
  int v = 0;
  for (char c : text) v = v * 10 + (c - '0');
  return v <= max ? v : -1;
}

Error bad(std::string_view term, std::string what) {
  return Error::permanent(fmt::format("'{}': {}", printable(term), what));
}

// Splits "domain/cidr4//cidr6" for a and mx (dual-cidr-length) or "net/cidr" for ip4/ip6.
struct CidrSplit {
  std::string_view rest;
  std::optional<std::string_view> cidr4;
  std::optional<std::string_view> cidr6;
};

CidrSplit splitCidr(std::string_view arg, bool dual) {
  CidrSplit out{arg, {}, {}};
  auto digitsTail = [](std::string_view s) {
    size_t i = s.size();
    while (i > 0 && isDigit(s[i - 1])) --i;
    return i;
  };
  if (dual) {
    size_t i = digitsTail(out.rest);
    if (i >= 2 && i < out.rest.size() && out.rest[i - 1] == '/' && out.rest[i - 2] == '/') {
      out.cidr6 = out.rest.substr(i);
      out.rest = out.rest.substr(0, i - 2);
    }
  }
  size_t i = digitsTail(out.rest);
  if (i >= 1 && i < out.rest.size() && out.rest[i - 1] == '/') {
    out.cidr4 = out.rest.substr(i);
    out.rest = out.rest.substr(0, i - 1);
  }
  return out;
}

Result<Mechanism> parseMechanism(std::string_view term) {
  Mechanism m;
  m.text = std::string(term);
  std::string_view t = term;
  switch (t.front()) {
    case '+':
      m.qualifier = Outcome::Pass;
      t.remove_prefix(1);
      break;
    case '-':
      m.qualifier = Outcome::Fail;
      t.remove_prefix(1);
      break;
    case '~':
      m.qualifier = Outcome::SoftFail;
      t.remove_prefix(1);
      break;
    case '?':
      m.qualifier = Outcome::Neutral;
      t.remove_prefix(1);
      break;
    default:
      break;
  }
  size_t end = 0;
  while (end < t.size() && isAlnum(t[end])) ++end;
  std::string_view name = t.substr(0, end);
  std::string_view after = t.substr(end);
  struct Known {
    const char* name;
    MechanismKind kind;
  };
  static constexpr Known Kinds[] = {
      {"all", MechanismKind::All}, {"include", MechanismKind::Include}, {"a", MechanismKind::A},
      {"mx", MechanismKind::Mx},   {"ptr", MechanismKind::Ptr},         {"ip4", MechanismKind::Ip4},
      {"ip6", MechanismKind::Ip6}, {"exists", MechanismKind::Exists},
  };
  auto known = std::find_if(std::begin(Kinds), std::end(Kinds),
                            [&](const Known& k) { return iequals(name, k.name); });
  if (name.empty() || known == std::end(Kinds)) {
    return bad(term, "unknown mechanism");
  }
  m.kind = known->kind;
  if (!after.empty() && after.front() != ':' && after.front() != '/') {
    return bad(term, "unknown mechanism");
  }
  switch (m.kind) {
    case MechanismKind::All:
      if (!after.empty()) return bad(term, "'all' takes no argument");
      return m;
    case MechanismKind::Include:
    case MechanismKind::Exists:
      // include = "include" ":" domain-spec; exists = "exists" ":" domain-spec
      if (after.empty() || after.front() != ':') return bad(term, "needs ':' and a domain-spec");
      m.domain_spec = std::string(after.substr(1));
      if (auto ok = checkDomainSpec(m.domain_spec); !ok) return bad(term, ok.error().message());
      return m;
    case MechanismKind::Ptr:
      // ptr = "ptr" [ ":" domain-spec ]: no CIDR length
      if (after.empty()) return m;
      if (after.front() != ':') return bad(term, "ptr takes no CIDR length");
      m.domain_spec = std::string(after.substr(1));
      if (auto ok = checkDomainSpec(m.domain_spec); !ok) return bad(term, ok.error().message());
      return m;
    case MechanismKind::A:
    case MechanismKind::Mx: {
      CidrSplit s = splitCidr(after, true);
      if (s.cidr4) {
        m.cidr4 = cidrValue(*s.cidr4, 32);
        if (m.cidr4 < 0) return bad(term, "bad IPv4 CIDR length");
      }
      if (s.cidr6) {
        m.cidr6 = cidrValue(*s.cidr6, 128);
        if (m.cidr6 < 0) return bad(term, "bad IPv6 CIDR length");
      }
      if (s.rest.empty()) return m;
      if (s.rest.front() != ':') return bad(term, "bad CIDR length");
      m.domain_spec = std::string(s.rest.substr(1));
      if (auto ok = checkDomainSpec(m.domain_spec); !ok) return bad(term, ok.error().message());
      return m;
    }
    case MechanismKind::Ip4:
    case MechanismKind::Ip6: {
      bool v6 = m.kind == MechanismKind::Ip6;
      if (after.empty() || after.front() != ':') return bad(term, "needs ':' and a network");
      CidrSplit s = splitCidr(after.substr(1), false);
      auto ip = IpAddress::parse(s.rest);
      // ip4-network is a dotted quad (qnum: no leading zeros); ip6-network is RFC 4291 2.2,
      // which includes the ::ffff:a.b.c.d form.
      if (!ip || ip->v6 != v6) {
        return bad(term, fmt::format("bad {} address", v6 ? "IPv6" : "IPv4"));
      }
      m.network = *ip;
      if (s.cidr4) {
        int v = cidrValue(*s.cidr4, v6 ? 128 : 32);
        if (v < 0) return bad(term, "bad CIDR length");
        (v6 ? m.cidr6 : m.cidr4) = v;
      }
      return m;
    }
  }
  return bad(term, "unknown mechanism");
}

}  // namespace

std::string_view outcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::None:
      return "none";
    case Outcome::Neutral:
      return "neutral";
    case Outcome::Pass:
      return "pass";
    case Outcome::Fail:
      return "fail";
    case Outcome::SoftFail:
      return "softfail";
    case Outcome::TempError:
      return "temperror";
    case Outcome::PermError:
      return "permerror";
  }
  return "?";
}

std::string_view mechanismName(MechanismKind kind) {
  switch (kind) {
    case MechanismKind::All:
      return "all";
    case MechanismKind::Include:
      return "include";
    case MechanismKind::A:
      return "a";
    case MechanismKind::Mx:
      return "mx";
    case MechanismKind::Ptr:
      return "ptr";
    case MechanismKind::Ip4:
      return "ip4";
    case MechanismKind::Ip6:
      return "ip6";
    case MechanismKind::Exists:
      return "exists";
  }
  return "?";
}

bool isSpfRecord(std::string_view txt) {
  return txt.size() >= 6 && iequals(txt.substr(0, 6), "v=spf1") &&
         (txt.size() == 6 || txt[6] == ' ');
}

Status checkMacroString(std::string_view text, bool explanation) {
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ' ' && explanation) continue;
    if (c != '%') {
      // macro-literal = %x21-24 / %x26-7E
      if (c < 0x21 || c > 0x7e) {
        return Error::permanent(
            fmt::format("character \\x{:02x} not allowed", static_cast<unsigned char>(c)));
      }
      continue;
    }
    if (i + 1 == text.size()) return Error::permanent("'%' at the end");
    char n = text[++i];
    if (n == '%' || n == '_' || n == '-') continue;
    if (n != '{') return Error::permanent(fmt::format("bad macro '%{}'", printable({&n, 1})));
    size_t close = text.find('}', i);
    if (close == std::string_view::npos) return Error::permanent("unterminated macro");
    std::string_view body = text.substr(i + 1, close - i - 1);
    std::string shown = fmt::format("%{{{}}}", printable(body));
    // macro-expand = "%{" macro-letter transformers *delimiter "}"
    if (body.empty()) return Error::permanent("empty macro '%{}'");
    char letter = lower(body[0]);
    if (std::string_view("slodiphcrtv").find(letter) == std::string_view::npos) {
      return Error::permanent(fmt::format("unknown macro letter in '{}'", shown));
    }
    if (!explanation && (letter == 'c' || letter == 'r' || letter == 't')) {
      return Error::permanent(fmt::format("'{}' is only allowed in explanations", shown));
    }
    size_t j = 1;
    size_t digits = j;
    while (j < body.size() && isDigit(body[j])) ++j;
    if (j > digits) {
      // "If a DIGIT is specified, the value MUST be nonzero" (RFC 7208 7.1).
      std::string_view num = body.substr(digits, j - digits);
      if (std::all_of(num.begin(), num.end(), [](char d) { return d == '0'; })) {
        return Error::permanent(fmt::format("zero digit transformer in '{}'", shown));
      }
    }
    if (j < body.size() && lower(body[j]) == 'r') ++j;
    for (; j < body.size(); ++j) {
      if (std::string_view(".-+,/_=").find(body[j]) == std::string_view::npos) {
        return Error::permanent(fmt::format("bad transformer or delimiter in '{}'", shown));
      }
    }
    i = close;
  }
  return okStatus();
}

Status checkDomainSpec(std::string_view text) {
  if (text.empty()) return Error::permanent("empty domain-spec");
  if (auto ok = checkMacroString(text, false); !ok) return ok;
  // domain-end = ( "." toplabel [ "." ] ) / macro-expand
  std::string_view s = text;
  if (s.back() == '}') {
    return okStatus();  // ends in a macro-expand (checked above)
  }
  if (s.size() >= 2 && s[s.size() - 2] == '%' &&
      (s.back() == '%' || s.back() == '_' || s.back() == '-')) {
    // "%%", "%_" and "%-" are macro-expands too, unless that '%' is itself escaped.
    size_t n = 0;
    for (size_t i = s.size() - 1; i > 0 && s[i - 1] == '%'; --i) ++n;
    if (n % 2 == 1) return okStatus();
  }
  if (s.back() == '.') s.remove_suffix(1);
  size_t dot = s.rfind('.');
  if (dot == std::string_view::npos || !isTopLabel(s.substr(dot + 1))) {
    return Error::permanent(fmt::format("'{}' does not end in a valid top label", printable(text)));
  }
  return okStatus();
}

bool usesMacro(std::string_view s, char letter) {
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    if (s[i] == '%') {
      if (s[i + 1] == '{' && lower(s[i + 2]) == letter) return true;
      ++i;  // skip the escaped character
    }
  }
  return false;
}

bool Record::usesMacro(char letter) const {
  auto uses = [letter](std::string_view s) { return spf::usesMacro(s, letter); };
  for (const auto& m : mechanisms) {
    if (uses(m.domain_spec)) return true;
  }
  return (redirect && uses(*redirect)) || (exp && uses(*exp));
}

Result<Record> parseRecord(std::string_view txt) {
  if (!isSpfRecord(txt)) return Error::permanent("not an SPF record (no 'v=spf1')");
  Record record;
  std::string_view rest = txt.substr(6);
  // terms = *( 1*SP ( directive / modifier ) ), record = version terms *SP
  while (!rest.empty()) {
    size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    size_t end = rest.find(' ');
    std::string_view term = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);

    // modifier = name "=" macro-string, name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
    size_t n = 0;
    if (isAlpha(term[0])) {
      n = 1;
      while (n < term.size() &&
             (isAlnum(term[n]) || term[n] == '-' || term[n] == '_' || term[n] == '.')) {
        ++n;
      }
    }
    if (n > 0 && n < term.size() && term[n] == '=') {
      std::string name;
      for (char c : term.substr(0, n)) name += lower(c);
      std::string value(term.substr(n + 1));
      if (name == "redirect" || name == "exp") {
        auto& slot = name == "redirect" ? record.redirect : record.exp;
        // RFC 7208 6: each of these modifiers MUST NOT appear more than once.
        if (slot) return bad(term, fmt::format("{}= appears more than once", name));
        if (auto ok = checkDomainSpec(value); !ok) return bad(term, ok.error().message());
        slot = std::move(value);
      } else {
        // Unknown modifiers are ignored (RFC 7208 6), but must still be well formed.
        if (auto ok = checkMacroString(value, false); !ok) return bad(term, ok.error().message());
        record.unknown.push_back({std::move(name), std::move(value)});
      }
      continue;
    }
    auto mechanism = parseMechanism(term);
    if (!mechanism) return mechanism.error();
    record.mechanisms.push_back(std::move(*mechanism));
  }
  return record;
}

}  // namespace petrel::spf
