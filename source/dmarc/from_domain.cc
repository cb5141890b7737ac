// The From: domains; see from_domain.h. A small tokenizer for RFC 5322 3.2 (atoms, quoted
// strings, domain literals, comments, specials) and an address-list reader over its tokens.
// Folding (CRLF followed by whitespace) is whitespace; a bare CR or LF, or any other control
// character outside a quoted string or comment, is a syntax error.
#include "petrel/dmarc/from_domain.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <variant>

#include "petrel/core/strings.h"
#include "petrel/dmarc/public_suffix.h"

namespace petrel::dmarc {

namespace {

constexpr size_t MaxAddresses = 64;
constexpr int MaxCommentDepth = 16;

struct Token {
  enum Kind { Atom, Quoted, Literal, Special } kind;
  std::string text;  // Special: the character
};

bool isSpecial(char c) {
  return std::string_view("()<>[]:;@\\,.\"").find(c) != std::string_view::npos;
}

// Fails with the reason.
std::optional<std::string> tokenize(std::string_view s, std::vector<Token>& out) {
  size_t i = 0;
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (i < s.size()) {
    char c = s[i];
    if (ws(c)) {
      // Folding: CR LF WSP. A CR or LF elsewhere cannot be in a field body.
      if (c == '\r' || c == '\n') {
        size_t j = c == '\r' && i + 1 < s.size() && s[i + 1] == '\n' ? i + 2 : i + 1;
        if (j >= s.size() || !(s[j] == ' ' || s[j] == '\t'))
          return "a line break that is not folding";
        i = j;
      } else {
        ++i;
      }
      continue;
    }
    if (c == '(') {
      int depth = 0;
      for (; i < s.size(); ++i) {
        if (s[i] == '\\') {
          ++i;
        } else if (s[i] == '(') {
          if (++depth > MaxCommentDepth) return "comments nested too deep";
        } else if (s[i] == ')') {
          if (--depth == 0) break;
        }
      }
      if (i >= s.size()) return "an unterminated comment";
      ++i;
      continue;
    }
    if (c == '"') {
      std::string text;
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        text += s[i];
      }
      if (i >= s.size()) return "an unterminated quoted string";
      ++i;
      out.push_back({Token::Quoted, std::move(text)});
      continue;
    }
    if (c == '[') {
      size_t end = s.find(']', i);
      if (end == std::string_view::npos) return "an unterminated domain literal";
      out.push_back({Token::Literal, std::string(s.substr(i, end - i + 1))});
      i = end + 1;
      continue;
    }
    if (isSpecial(c)) {
      if (c == ')' || c == ']' || c == '\\') return fmt::format("a stray '{}'", c);
      out.push_back({Token::Special, std::string(1, c)});
      ++i;
      continue;
    }
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return "a control character";
    size_t start = i;
    while (i < s.size() && !ws(s[i]) && !isSpecial(s[i]) &&
           !(static_cast<unsigned char>(s[i]) < 0x20 || s[i] == 0x7f)) {
      ++i;
    }
    out.push_back({Token::Atom, std::string(s.substr(start, i - start))});
  }
  return std::nullopt;
}

bool isSpecialToken(const Token& t, char c) { return t.kind == Token::Special && t.text[0] == c; }

// A DNS domain the way DMARC can look it up: labels of letters, digits, '-' and '_' (and
// UTF-8, punycoded), at most 63 octets each, 253 in all, two labels at least is not required
// (a TLD may publish a record). Returns the A-label form, or the reason it is unusable.
std::variant<std::string, std::string> dnsDomain(const std::vector<Token>& toks, size_t from,
                                                 size_t to) {
  using V = std::variant<std::string, std::string>;
  auto problem = [](std::string why) { return V(std::in_place_index<1>, std::move(why)); };
  if (from >= to) return problem("an address without a domain");
  if (toks[from].kind == Token::Literal) {
    return problem(to - from == 1 ? "a domain literal" : "text after a domain literal");
  }
  std::string domain;
  bool want_label = true;
  for (size_t i = from; i < to; ++i) {
    const Token& t = toks[i];
    if (want_label && t.kind == Token::Atom) {
      auto label = toALabel(t.text);
      if (!label || label->empty()) return problem("a domain label that is not DNS");
      for (char c : *label) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
          return problem("a domain label that is not DNS");
        }
      }
      domain += *label;
      want_label = false;
    } else if (!want_label && isSpecialToken(t, '.')) {
      domain += '.';
      want_label = true;
    } else {
      return problem("a malformed domain");
    }
  }
  if (want_label) return problem("a domain ending in a dot");
  if (domain.size() > 253) return problem("a domain longer than 253 octets");
  return V(std::in_place_index<0>, toLower(domain));
}

// One mailbox's tokens [from, to): name-addr or addr-spec. Adds its domain, or says why not.
std::optional<std::string> mailbox(const std::vector<Token>& toks, size_t from, size_t to,
                                   FromDomains& out) {
  size_t lt = to;
  for (size_t i = from; i < to; ++i) {
    if (isSpecialToken(toks[i], '<')) {
      lt = i;
      break;
    }
  }
  size_t spec_from = from, spec_to = to;
  if (lt != to) {
    if (!isSpecialToken(toks[to - 1], '>')) return "text after '>'";
    spec_from = lt + 1;
    spec_to = to - 1;
    // obs-route: "<@relay1,@relay2:user@example.com>"
    for (size_t i = spec_from; i < spec_to; ++i) {
      if (isSpecialToken(toks[i], ':')) spec_from = i + 1;
    }
    for (size_t i = spec_from; i < spec_to; ++i) {
      if (isSpecialToken(toks[i], '<') || isSpecialToken(toks[i], '>')) return "nested '<'";
    }
  } else {
    for (size_t i = from; i < to; ++i) {
      if (isSpecialToken(toks[i], '>')) return "a '>' without '<'";
    }
  }
  if (spec_from >= spec_to) return "an empty address";
  size_t at = spec_to;
  for (size_t i = spec_from; i < spec_to; ++i) {
    if (isSpecialToken(toks[i], '@')) at = i;  // the last '@': a quoted local part may hold one
  }
  if (at == spec_to) return "an address without a domain";
  if (at == spec_from) return "an address without a local part";
  for (size_t i = spec_from; i < at; ++i) {
    const Token& t = toks[i];
    if (!(t.kind == Token::Atom || t.kind == Token::Quoted || isSpecialToken(t, '.'))) {
      return "a malformed local part";
    }
  }
  auto d = dnsDomain(toks, at + 1, spec_to);
  if (d.index() == 1) return std::get<1>(d);
  ++out.addresses;
  const std::string& domain = std::get<0>(d);
  if (std::find(out.domains.begin(), out.domains.end(), domain) == out.domains.end()) {
    if (out.domains.size() >= MaxFromDomains) {
      return fmt::format("more than {} From: domains", MaxFromDomains);
    }
    out.domains.push_back(domain);
  }
  if (out.addresses > MaxAddresses)
    return fmt::format("more than {} From: addresses", MaxAddresses);
  return std::nullopt;
}

// address-list over one field's tokens.
std::optional<std::string> addressList(const std::vector<Token>& toks, FromDomains& out) {
  bool in_group = false;
  size_t start = 0;
  int angle = 0;
  auto element = [&](size_t from, size_t to) -> std::optional<std::string> {
    if (from == to) return std::nullopt;  // obs-addr-list / obs-mbox-list: empty elements
    return mailbox(toks, from, to, out);
  };
  for (size_t i = 0; i < toks.size(); ++i) {
    const Token& t = toks[i];
    if (isSpecialToken(t, '<')) ++angle;
    if (isSpecialToken(t, '>')) --angle;
    if (angle < 0) return "a '>' without '<'";
    if (angle > 0) continue;  // a route's ':' and ',' are inside the brackets
    if (isSpecialToken(t, ':')) {
      if (in_group) return "a group inside a group";
      in_group = true;  // the display name before it is skipped
      start = i + 1;
    } else if (isSpecialToken(t, ';')) {
      if (!in_group) return "a ';' outside a group";
      if (auto e = element(start, i)) return e;
      in_group = false;
      // Only ',' (or the end) may follow a group.
      if (i + 1 < toks.size() && !isSpecialToken(toks[i + 1], ',')) return "text after a group";
      start = i + 1;
    } else if (isSpecialToken(t, ',')) {
      if (auto e = element(start, i)) return e;
      start = i + 1;
    }
  }
  if (angle != 0) return "a '<' without '>'";
  if (in_group) return "a group without its ';'";
  return element(start, toks.size());
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) {
    auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u >= 0x7f ? '?' : c;
  }
  return out;
}

}  // namespace

FromDomains fromDomainsOfValues(const std::vector<std::string_view>& values) {
  FromDomains out;
  out.fields = values.size();
  if (values.empty()) {
    out.problem = "no From: field";
    return out;
  }
  for (std::string_view v : values) {
    if (v.size() > MaxFromValue) {
      out.problem = fmt::format("a From: field longer than {} octets", MaxFromValue);
      break;
    }
    std::vector<Token> toks;
    if (auto e = tokenize(v, toks)) {
      out.problem = "From: is not an address list: " + *e;
      break;
    }
    if (auto e = addressList(toks, out)) {
      out.problem = "From: is not an address list: " + printable(*e);
      break;
    }
  }
  if (out.problem.empty() && out.domains.empty()) out.problem = "From: holds no address";
  if (!out.problem.empty()) out.domains.clear();
  return out;
}

FromDomains fromDomains(const std::vector<content::HeaderField>& fields) {
  std::vector<std::string_view> values;
  for (const auto& f : fields) {
    if (iequals(f.name, "From")) values.push_back(f.value());
  }
  return fromDomainsOfValues(values);
}

}  // namespace petrel::dmarc
