// The Public Suffix List and the organizational domain; see public_suffix.h. The matching
// algorithm is the one of https://publicsuffix.org/list/ ("Formal algorithm"): an exception
// rule wins, otherwise the rule with the most labels, otherwise "*".
#include "petrel/dmarc/public_suffix.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <vector>

#include "petrel/core/strings.h"

namespace petrel::dmarc {

namespace {

// Decodes UTF-8 into code points; false on a malformed sequence (overlong forms, surrogates
// and values past U+10FFFF included).
bool decodeUtf8(std::string_view s, std::vector<uint32_t>& out) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp = 0;
    size_t len = 0;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1f;
      len = 2;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0f;
      len = 3;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07;
      len = 4;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t MinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < MinForLength[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    out.push_back(cp);
    i += len;
  }
  return true;
}

// RFC 3492 6.1.
uint32_t adapt(uint32_t delta, uint32_t points, bool first) {
  constexpr uint32_t Base = 36, TMin = 1, TMax = 26, Skew = 38, Damp = 700;
  delta = first ? delta / Damp : delta / 2;
  delta += delta / points;
  uint32_t k = 0;
  while (delta > ((Base - TMin) * TMax) / 2) {
    delta /= Base - TMin;
    k += Base;
  }
  return k + (((Base - TMin + 1) * delta) / (delta + Skew));
}

char punyDigit(uint32_t d) { return static_cast<char>(d < 26 ? 'a' + d : '0' + (d - 26)); }

// RFC 3492 6.3 for one label of code points (ASCII already lower case).
std::optional<std::string> punycode(const std::vector<uint32_t>& input) {
  constexpr uint32_t Base = 36, TMin = 1, TMax = 26;
  std::string out;
  for (uint32_t c : input) {
    if (c < 0x80) out += static_cast<char>(c);
  }
  uint32_t b = static_cast<uint32_t>(out.size());
  uint32_t h = b;
  if (b > 0) out += '-';
  uint32_t n = 0x80, bias = 72;
  uint64_t delta = 0;
  while (h < input.size()) {
    uint32_t m = UINT32_MAX;
    for (uint32_t c : input) {
      if (c >= n && c < m) m = c;
    }
    delta += uint64_t(m - n) * (h + 1);
    if (delta > UINT32_MAX) return std::nullopt;
    n = m;
    for (uint32_t c : input) {
      if (c < n && ++delta > UINT32_MAX) return std::nullopt;
      if (c == n) {
        uint64_t q = delta;
        for (uint32_t k = Base;; k += Base) {
          uint32_t t = k <= bias ? TMin : (k >= bias + TMax ? TMax : k - bias);
          if (q < t) break;
          out += punyDigit(static_cast<uint32_t>(t + (q - t) % (Base - t)));
          q = (q - t) / (Base - t);
        }
        out += punyDigit(static_cast<uint32_t>(q));
        bias = adapt(static_cast<uint32_t>(delta), h + 1, h == b);
        delta = 0;
        ++h;
      }
    }
    ++delta;
    ++n;
    if (out.size() + 4 > 63) return std::nullopt;  // RFC 1035 2.3.4: labels of 63 octets
  }
  if (out.size() + 4 > 63) return std::nullopt;
  return "xn--" + out;
}

// The labels of a name in compare form; false when malformed.
bool asciiLabels(std::string_view domain, std::vector<std::string>& out) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty() || domain.size() > 253) return false;
  for (std::string_view label : split(domain, '.')) {
    if (label.empty()) return false;
    auto a = toALabel(label);
    if (!a) return false;
    out.push_back(std::move(*a));
  }
  return true;
}

std::string join(const std::vector<std::string>& labels, size_t from) {
  std::string s;
  for (size_t i = from; i < labels.size(); ++i) {
    if (!s.empty()) s += '.';
    s += labels[i];
  }
  return s;
}

}  // namespace

std::optional<std::string> toALabel(std::string_view label) {
  bool ascii = true;
  for (char c : label) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return label.size() <= 63 ? std::optional(toLower(label)) : std::nullopt;
  std::vector<uint32_t> cps;
  if (!decodeUtf8(label, cps)) return std::nullopt;
  for (uint32_t& c : cps) {
    if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
  }
  return punycode(cps);
}

std::optional<PublicSuffixList::Rule> PublicSuffixList::parseRule(std::string_view line) {
  line = trim(line);
  // The rule is the line up to the first whitespace; "//" starts a comment line.
  size_t ws = line.find_first_of(" \t\r");
  if (ws != std::string_view::npos) line = line.substr(0, ws);
  if (line.empty() || line.substr(0, 2) == "//" || line.size() > MaxRuleLength) {
    return std::nullopt;
  }
  Rule r;
  if (line.front() == '!') {
    r.exception = true;
    line.remove_prefix(1);
  } else if (line.substr(0, 2) == "*.") {
    r.wildcard = true;
    line.remove_prefix(2);
  }
  std::vector<std::string> labels;
  if (!asciiLabels(line, labels)) return std::nullopt;
  for (const auto& l : labels) {
    // A '*' anywhere but the leftmost label is not something the list uses.
    if (l.find('*') != std::string::npos || l.find('!') != std::string::npos) return std::nullopt;
  }
  r.name = join(labels, 0);
  return r;
}

Result<PublicSuffixList> PublicSuffixList::parse(std::string_view text, std::string_view name) {
  if (text.size() > MaxFileBytes) {
    return Error::config(
        fmt::format("public suffix list {}: larger than {} octets", name, MaxFileBytes));
  }
  PublicSuffixList psl;
  psl.source_ = std::string(name);
  for (std::string_view line : split(text, '\n')) {
    std::string_view t = trim(line);
    if (t.empty() || t.substr(0, 2) == "//") continue;
    auto rule = parseRule(t);
    if (!rule) {
      ++psl.skipped_;
      continue;
    }
    if (psl.ruleCount() >= MaxRules) {
      return Error::config(
          fmt::format("public suffix list {}: more than {} rules", name, MaxRules));
    }
    auto& set = rule->exception ? psl.exceptions_ : rule->wildcard ? psl.wildcards_ : psl.rules_;
    set.insert(std::move(rule->name));
  }
  if (psl.ruleCount() == 0) {
    return Error::config(fmt::format("public suffix list {}: no rules", name));
  }
  return psl;
}

Result<PublicSuffixList> PublicSuffixList::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error::config(fmt::format("public suffix list {}: cannot read it", path));
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > MaxFileBytes) {
      return Error::config(
          fmt::format("public suffix list {}: larger than {} octets", path, MaxFileBytes));
    }
  }
  if (in.bad()) return Error::config(fmt::format("public suffix list {}: read error", path));
  return parse(text, path);
}

size_t PublicSuffixList::suffixLabels(const std::string& ascii, size_t labels) const {
  // Suffix i starts after the i-th dot.
  std::vector<size_t> starts{0};
  for (size_t i = 0; i < ascii.size(); ++i) {
    if (ascii[i] == '.') starts.push_back(i + 1);
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    // The exception's rule minus its leftmost label; a one-label exception ("!ck") would
    // leave nothing, and a public suffix has at least one label.
    if (exceptions_.count(ascii.substr(starts[i]))) return std::max<size_t>(labels - i - 1, 1);
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    std::string suffix = ascii.substr(starts[i]);
    if (i > 0 && wildcards_.count(suffix)) return labels - i + 1;
    if (rules_.count(suffix)) return labels - i;
  }
  return 1;  // the implicit "*" rule
}

std::optional<std::string> PublicSuffixList::publicSuffix(std::string_view domain) const {
  std::vector<std::string> ascii;
  if (!asciiLabels(domain, ascii)) return std::nullopt;
  size_t n = suffixLabels(join(ascii, 0), ascii.size());
  std::string lower = toLower(domain);
  if (!lower.empty() && lower.back() == '.') lower.pop_back();
  std::vector<std::string> given;
  for (std::string_view l : split(lower, '.')) given.emplace_back(l);
  return join(given, given.size() - n);
}

std::optional<std::string> PublicSuffixList::registrableDomain(std::string_view domain) const {
  std::vector<std::string> ascii;
  if (!asciiLabels(domain, ascii)) return std::nullopt;
  size_t n = suffixLabels(join(ascii, 0), ascii.size());
  if (n >= ascii.size()) return std::nullopt;
  std::string lower = toLower(domain);
  if (!lower.empty() && lower.back() == '.') lower.pop_back();
  std::vector<std::string> given;
  for (std::string_view l : split(lower, '.')) given.emplace_back(l);
  return join(given, given.size() - n - 1);
}

std::string PublicSuffixList::organizationalDomain(std::string_view domain) const {
  if (auto r = registrableDomain(domain)) return *r;
  std::string lower = toLower(domain);
  if (!lower.empty() && lower.back() == '.') lower.pop_back();
  return lower;
}

}  // namespace petrel::dmarc
