// Comparators, match types and the message pieces of match.h.
#include "match.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "petrel/core/base64.h"
#include "petrel/core/strings.h"

namespace petrel::sieve {

namespace {

char fold(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool sameChar(bool casemap, char a, char b) { return casemap ? fold(a) == fold(b) : a == b; }

// RFC 4790 9.1: the number of the leading digits; nullopt stands for positive infinity.
std::optional<std::string> numericKey(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') {
    ++n;
  }
  if (n == 0) {
    return std::nullopt;
  }
  std::string_view digits = s.substr(0, n);
  while (digits.size() > 1 && digits.front() == '0') {
    digits.remove_prefix(1);
  }
  return std::string(digits);
}

// <0, 0, >0 in the comparator's order.
int order(std::string_view comparator, std::string_view a, std::string_view b) {
  if (comparator == "i;ascii-numeric") {
    auto x = numericKey(a);
    auto y = numericKey(b);
    if (!x || !y) {
      return (!x && !y) ? 0 : !x ? 1 : -1;
    }
    if (x->size() != y->size()) {
      return x->size() < y->size() ? -1 : 1;
    }
    return x->compare(*y) < 0 ? -1 : x->compare(*y) > 0 ? 1 : 0;
  }
  bool casemap = comparator == "i;ascii-casemap";
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    auto x = static_cast<unsigned char>(casemap ? fold(a[i]) : a[i]);
    auto y = static_cast<unsigned char>(casemap ? fold(b[i]) : b[i]);
    if (x != y) {
      return x < y ? -1 : 1;
    }
  }
  return a.size() == b.size() ? 0 : a.size() < b.size() ? -1 : 1;
}

bool relate(std::string_view relation, int c) {
  if (relation == "gt") return c > 0;
  if (relation == "ge") return c >= 0;
  if (relation == "lt") return c < 0;
  if (relation == "le") return c <= 0;
  if (relation == "eq") return c == 0;
  return c != 0;  // ne
}

// The key of :matches as pattern items: a literal octet, '*' or '?' (a backslash escapes).
struct Item {
  char c;
  bool wildcard;
};

std::vector<Item> pattern(std::string_view key) {
  std::vector<Item> items;
  for (size_t i = 0; i < key.size(); ++i) {
    if (key[i] == '\\' && i + 1 < key.size()) {
      items.push_back({key[++i], false});
    } else if (key[i] == '*' || key[i] == '?') {
      items.push_back({key[i], true});
    } else {
      items.push_back({key[i], false});
    }
  }
  return items;
}

// Backtracking glob with every '*' as short as possible (RFC 5229 3.2 leaves the split to the
// implementation; shortest-first is what Pigeonhole does). The budget bounds the backtracking.
bool glob(const std::vector<Item>& p, size_t pi, std::string_view v, size_t vi, bool casemap,
          std::vector<std::pair<size_t, size_t>>& spans, Budget& budget) {
  while (pi < p.size()) {
    if (!budget.charge()) {
      return false;
    }
    const Item& it = p[pi];
    if (it.wildcard && it.c == '*') {
      for (size_t end = vi; end <= v.size(); ++end) {
        spans.push_back({vi, end - vi});
        if (glob(p, pi + 1, v, end, casemap, spans, budget)) {
          return true;
        }
        spans.pop_back();
        if (budget.exhausted()) {
          return false;
        }
      }
      return false;
    }
    if (vi >= v.size()) {
      return false;
    }
    if (it.wildcard) {  // '?': one character (RFC 5228 2.7.1; octet-wise here)
      spans.push_back({vi, 1});
    } else if (!sameChar(casemap, it.c, v[vi])) {
      return false;
    }
    ++pi;
    ++vi;
  }
  return vi == v.size();
}

bool contains(std::string_view v, std::string_view k, bool casemap, Budget& budget) {
  if (k.empty()) {
    return true;
  }
  if (!budget.charge(1 + v.size() / 64)) {
    return false;
  }
  auto it = std::search(v.begin(), v.end(), k.begin(), k.end(),
                        [casemap](char a, char b) { return sameChar(casemap, a, b); });
  return it != v.end();
}

}  // namespace

bool matchValue(std::string_view comparator, std::string_view match, std::string_view relation,
                std::string_view value, std::string_view key, std::vector<std::string>* captures,
                Budget& budget) {
  if (!budget.charge()) {
    return false;
  }
  bool casemap = comparator == "i;ascii-casemap";
  if (match == "is") {
    return order(comparator, value, key) == 0;
  }
  if (match == "value") {
    return relate(relation, order(comparator, value, key));
  }
  if (match == "contains") {
    return contains(value, key, casemap, budget);
  }
  // matches
  std::vector<std::pair<size_t, size_t>> spans;
  if (!glob(pattern(key), 0, value, 0, casemap, spans, budget)) {
    return false;
  }
  if (captures != nullptr) {
    captures->clear();
    captures->emplace_back(value);
    for (auto [start, len] : spans) {
      captures->emplace_back(value.substr(start, len));
    }
  }
  return true;
}

bool matchCount(std::string_view comparator, std::string_view relation, uint64_t count,
                std::string_view key) {
  // RFC 5231 4.2: the count is compared as a decimal string, normally with i;ascii-numeric.
  return relate(relation, order(comparator == "i;ascii-numeric" ? comparator : "i;ascii-numeric",
                                fmt::format("{}", count), key));
}

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string latin1ToUtf8(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      out += c;
    } else {
      out += static_cast<char>(0xc0 | (u >> 6));
      out += static_cast<char>(0x80 | (u & 0x3f));
    }
  }
  return out;
}

std::string quotedPrintable(std::string_view s, bool header) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (header && c == '_') {
      out += ' ';
    } else if (c == '=' && i + 2 < s.size() + 0 && hexValue(s[i + 1]) >= 0 &&
               hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else if (c == '=' && !header && i + 1 < s.size() && (s[i + 1] == '\r' || s[i + 1] == '\n')) {
      // a soft line break
      i += (s[i + 1] == '\r' && i + 2 < s.size() && s[i + 2] == '\n') ? 2 : 1;
    } else {
      out += c;
    }
  }
  return out;
}

// One encoded-word "=?charset?enc?text?=" at s[i]; its decoded text and length, or nullopt.
std::optional<std::pair<std::string, size_t>> encodedWord(std::string_view s, size_t i) {
  if (s.compare(i, 2, "=?") != 0) {
    return std::nullopt;
  }
  size_t q1 = s.find('?', i + 2);
  if (q1 == std::string_view::npos || q1 + 2 >= s.size() || s[q1 + 2] != '?') {
    return std::nullopt;
  }
  size_t end = s.find("?=", q1 + 3);
  if (end == std::string_view::npos) {
    return std::nullopt;
  }
  std::string charset = toLower(s.substr(i + 2, q1 - i - 2));
  if (auto star = charset.find('*'); star != std::string::npos) {
    charset.resize(star);  // RFC 2231 language
  }
  char enc = fold(s[q1 + 1]);
  std::string_view text = s.substr(q1 + 3, end - q1 - 3);
  if (text.find(' ') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string bytes;
  if (enc == 'b') {
    auto d = base64Decode(text, true);
    if (!d) {
      return std::nullopt;
    }
    bytes = std::move(*d);
  } else if (enc == 'q') {
    bytes = quotedPrintable(text, true);
  } else {
    return std::nullopt;
  }
  if (charset == "iso-8859-1" || charset == "latin1" || charset == "windows-1252") {
    bytes = latin1ToUtf8(bytes);
  }
  return std::make_pair(std::move(bytes), end + 2 - i);
}

std::string decode2047(std::string_view s) {
  std::string out;
  std::string pending_space;  // white space after an encoded-word, dropped if another follows
  bool after_word = false;
  for (size_t i = 0; i < s.size();) {
    if (auto w = encodedWord(s, i)) {
      if (!after_word) {
        out += pending_space;
      }
      pending_space.clear();
      out += w->first;
      i += w->second;
      after_word = true;
      continue;
    }
    if (s[i] == ' ' || s[i] == '\t') {
      pending_space += s[i++];
      continue;
    }
    out += pending_space;
    pending_space.clear();
    after_word = false;
    out += s[i++];
  }
  return out + pending_space;
}

}  // namespace

std::string headerValue(std::string_view raw, bool decode) {
  std::string unfolded;
  for (char c : raw) {
    if (c != '\r' && c != '\n') {
      unfolded += c;
    }
  }
  std::string v(trim(unfolded));
  return decode ? std::string(trim(decode2047(v))) : v;
}

ParsedAddress splitAddress(std::string_view address) {
  ParsedAddress a;
  std::string s(trim(address));
  // A source route "@a,@b:local@domain" (RFC 5322 4.4) is not part of the address.
  if (!s.empty() && s[0] == '@') {
    if (auto colon = s.find(':'); colon != std::string::npos) {
      s.erase(0, colon + 1);
    }
  }
  a.all = s;
  size_t at = s.rfind('@');
  if (at == std::string::npos) {
    a.localpart = s;
    a.valid = false;
    return a;
  }
  a.localpart = s.substr(0, at);
  a.domain = s.substr(at + 1);
  if (a.localpart.size() >= 2 && a.localpart.front() == '"' && a.localpart.back() == '"') {
    std::string unq;
    for (size_t i = 1; i + 1 < a.localpart.size(); ++i) {
      if (a.localpart[i] == '\\' && i + 2 < a.localpart.size()) {
        ++i;
      }
      unq += a.localpart[i];
    }
    a.localpart = unq;
    a.all = a.localpart + "@" + a.domain;
  }
  a.valid = !a.localpart.empty() && !a.domain.empty();
  return a;
}

std::vector<ParsedAddress> addressList(std::string_view value) {
  // Split at top-level commas and group ends, dropping comments; inside each piece the address
  // is what stands in <...>, else the piece itself (after a group's "name:").
  std::vector<ParsedAddress> out;
  std::string piece;
  std::string angle;
  bool in_angle = false;
  bool has_angle = false;
  bool in_quote = false;
  int comment = 0;
  auto flush = [&] {
    std::string text = has_angle ? angle : std::string(trim(piece));
    if (!trim(text).empty()) {
      out.push_back(splitAddress(text));
    }
    piece.clear();
    angle.clear();
    has_angle = false;
    in_angle = false;
  };
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (comment > 0) {
      if (c == '\\') {
        ++i;
      } else if (c == '(') {
        ++comment;
      } else if (c == ')') {
        --comment;
      }
      continue;
    }
    std::string& into = in_angle ? angle : piece;
    if (in_quote) {
      into += c;
      if (c == '\\' && i + 1 < value.size()) {
        into += value[++i];
      } else if (c == '"') {
        in_quote = false;
      }
      continue;
    }
    if (c == '"') {
      in_quote = true;
      into += c;
    } else if (c == '(') {
      comment = 1;
    } else if (c == '<' && !in_angle) {
      in_angle = true;
      has_angle = true;
      angle.clear();
    } else if (c == '>' && in_angle) {
      in_angle = false;
    } else if ((c == ',' || c == ';') && !in_angle) {
      flush();
    } else if (c == ':' && !in_angle && !has_angle && piece.find('@') == std::string::npos) {
      piece.clear();  // a group's display name
    } else if (c == '\r' || c == '\n') {
      continue;
    } else {
      into += c;
    }
  }
  flush();
  return out;
}

namespace {

struct ContentType {
  std::string type = "text";
  std::string subtype = "plain";
  std::string boundary;
};

const content::HeaderField* field(std::span<const content::HeaderField> fields,
                                  std::string_view name) {
  for (const auto& f : fields) {
    if (iequals(f.name, name)) {
      return &f;
    }
  }
  return nullptr;
}

ContentType contentType(std::span<const content::HeaderField> fields) {
  ContentType ct;
  const auto* f = field(fields, "Content-Type");
  if (f == nullptr) {
    return ct;
  }
  std::string v = headerValue(f->value(), false);
  size_t semi = v.find(';');
  std::string t = toLower(trim(std::string_view(v).substr(0, semi)));
  if (auto slash = t.find('/'); slash != std::string::npos) {
    ct.type = std::string(trim(std::string_view(t).substr(0, slash)));
    ct.subtype = std::string(trim(std::string_view(t).substr(slash + 1)));
  }
  std::string lower = toLower(v);
  if (auto b = lower.find("boundary="); b != std::string::npos) {
    std::string_view rest = std::string_view(v).substr(b + 9);
    if (!rest.empty() && rest[0] == '"') {
      ct.boundary = std::string(rest.substr(1, rest.find('"', 1) - 1));
    } else {
      ct.boundary = std::string(rest.substr(0, rest.find_first_of("; \t")));
    }
  }
  return ct;
}

std::string decodeBody(std::span<const content::HeaderField> fields, std::string_view body) {
  const auto* f = field(fields, "Content-Transfer-Encoding");
  std::string cte = f == nullptr ? "" : toLower(headerValue(f->value(), false));
  if (cte == "base64") {
    auto d = base64Decode(body, true);
    return d ? *d : std::string(body);
  }
  if (cte == "quoted-printable") {
    return quotedPrintable(body, false);
  }
  return std::string(body);
}

bool typeWanted(const ContentType& ct, const std::vector<std::string>& types) {
  for (const auto& want : types) {
    std::string w = toLower(want);
    if (w.empty() || w == ct.type || w == ct.type + "/" + ct.subtype) {
      return true;
    }
  }
  return false;
}

void walk(std::span<const content::HeaderField> fields, std::string_view body,
          const std::vector<std::string>& types, int depth, std::vector<std::string>& out) {
  ContentType ct = contentType(fields);
  if (ct.type == "multipart" && !ct.boundary.empty() && depth < 8) {
    std::string delim = "--" + ct.boundary;
    size_t pos = 0;
    std::vector<std::string_view> parts;
    size_t start = std::string_view::npos;
    while (true) {
      size_t hit = body.find(delim, pos);
      if (hit == std::string_view::npos) {
        break;
      }
      bool line_start = hit == 0 || body[hit - 1] == '\n';
      size_t after = hit + delim.size();
      if (!line_start) {
        pos = after;
        continue;
      }
      if (start != std::string_view::npos) {
        size_t end = hit;
        if (end > start && body[end - 1] == '\n') --end;
        if (end > start && body[end - 1] == '\r') --end;
        parts.push_back(body.substr(start, end - start));
      }
      if (body.compare(after, 2, "--") == 0) {
        break;
      }
      size_t eol = body.find('\n', after);
      start = eol == std::string_view::npos ? body.size() : eol + 1;
      pos = start;
    }
    for (auto part : parts) {
      content::HeaderSection hs(64 * 1024);
      size_t used = hs.feed(part);
      hs.end();
      walk(hs.fields(), part.substr(used), types, depth + 1, out);
    }
    return;
  }
  if (ct.type == "multipart") {
    return;
  }
  if (typeWanted(ct, types)) {
    out.push_back(decodeBody(fields, body));
  }
}

}  // namespace

std::vector<std::string> bodyTexts(std::span<const content::HeaderField> fields,
                                   std::string_view body, BodyTransform transform,
                                   const std::vector<std::string>& types) {
  if (transform == BodyTransform::Raw) {
    return {std::string(body)};
  }
  std::vector<std::string> out;
  walk(fields, body, transform == BodyTransform::Text ? std::vector<std::string>{"text"} : types,
       0, out);
  return out;
}

}  // namespace petrel::sieve
