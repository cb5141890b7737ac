// Canonical rewriting of header addresses: a tokenizer for RFC 5322 structured field bodies,
// the address-list walk over its tokens, and the field-by-field rewrite of a header section.
#include "petrel/delivery/header_rewrite.h"

#include <array>

#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"

namespace petrel::delivery {

namespace {

constexpr size_t MaxLineOctets = 998;  // RFC 5322 2.1.1, without the CRLF

enum class Tok { Space, Comment, Word, Quoted, Literal, Special };

struct Token {
  Tok kind;
  size_t begin;
  size_t end;
};

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool isSpecial(char c) {
  return std::string_view("()<>[]:;@\\,.\"").find(c) != std::string_view::npos;
}

// Index just past the delimited run starting at s[i] (a '"' string, '[' literal or nested
// '(' comment), honouring backslash escapes; npos when it is not closed.
size_t skipDelimited(std::string_view s, size_t i) {
  const char open = s[i];
  const char close = open == '"' ? '"' : open == '[' ? ']' : ')';
  int depth = 1;
  for (size_t j = i + 1; j < s.size(); ++j) {
    char c = s[j];
    if (c == '\\') {
      ++j;  // quoted-pair
    } else if (open == '(' && c == '(') {
      ++depth;
    } else if (c == close && --depth == 0) {
      return j + 1;
    }
  }
  return std::string_view::npos;
}

std::optional<std::vector<Token>> tokenize(std::string_view s) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    size_t end = i + 1;
    Tok kind = Tok::Special;
    if (isSpace(c)) {
      kind = Tok::Space;
      while (end < s.size() && isSpace(s[end])) ++end;
    } else if (c == '"' || c == '(' || c == '[') {
      end = skipDelimited(s, i);
      if (end == std::string_view::npos) return std::nullopt;
      kind = c == '"' ? Tok::Quoted : c == '(' ? Tok::Comment : Tok::Literal;
    } else if (c == ')' || c == ']') {
      return std::nullopt;
    } else if (!isSpecial(c)) {
      kind = Tok::Word;
      while (end < s.size() && !isSpace(s[end]) && !isSpecial(s[end])) ++end;
    }
    tokens.push_back({kind, i, end});
    i = end;
  }
  return tokens;
}

// A domain literal as written, without folding line breaks.
std::string unfold(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    if (c != '\r' && c != '\n') out += c;
  }
  return out;
}

// The content of a quoted string without its quotes, escapes and folding line breaks.
std::string unquote(std::string_view quoted) {
  std::string out;
  for (size_t i = 1; i + 1 < quoted.size(); ++i) {
    char c = quoted[i];
    if (c == '\\' && i + 2 < quoted.size()) c = quoted[++i];
    if (c != '\r' && c != '\n') out += c;  // not even escaped (RFC 5322 3.2.1: VCHAR / WSP)
  }
  return out;
}

class AddressListWalk {
 public:
  AddressListWalk(std::string_view body, const std::vector<Token>& tokens)
      : body_(body), tokens_(tokens) {}

  // False when the structure is broken (a stray '>', a second '<', an unclosed '<').
  bool run() {
    size_t unit_start = 0;
    for (size_t k = 0; k < tokens_.size(); ++k) {
      if (tokens_[k].kind != Tok::Special) continue;
      char c = body_[tokens_[k].begin];
      bool in_angle = angle_open_ && !angle_close_;
      if (c == '<') {
        if (angle_open_) return false;
        angle_open_ = k;
      } else if (c == '>') {
        if (!in_angle) return false;
        angle_close_ = k;
      } else if ((c == ',' || c == ':') && in_angle) {
        continue;  // an obsolete route inside the brackets
      } else if (c == ':') {
        if (angle_open_) return false;
        unit_start = k + 1;  // a group: what came before is its display name
      } else if (c == ',' || c == ';') {
        if (in_angle) return false;
        finishUnit(unit_start, k);
        unit_start = k + 1;
      }
    }
    if (angle_open_ && !angle_close_) return false;
    finishUnit(unit_start, tokens_.size());
    return true;
  }

  std::vector<HeaderAddress> found;

 private:
  void finishUnit(size_t lo, size_t hi) {
    if (angle_open_) {
      lo = *angle_open_ + 1;
      hi = *angle_close_;
      for (size_t k = lo; k < hi; ++k) {
        if (tokens_[k].kind == Tok::Special && body_[tokens_[k].begin] == ':') lo = k + 1;
      }
    }
    angle_open_.reset();
    angle_close_.reset();
    extract(lo, hi);
  }

  // An addr-spec from tokens [lo, hi) with surrounding comments and spaces dropped; nothing
  // when they are not one (no '@', two words side by side as in a bare display name, a domain
  // literal that is not the whole domain, ...).
  void extract(size_t lo, size_t hi) {
    auto blank = [this](size_t k) {
      return tokens_[k].kind == Tok::Space || tokens_[k].kind == Tok::Comment;
    };
    while (lo < hi && blank(lo)) ++lo;
    while (hi > lo && blank(hi - 1)) --hi;
    if (lo == hi) return;
    std::string text;
    bool seen_at = false;
    bool after_literal = false;
    bool after_word = false;
    bool gap = false;
    size_t local_size = 0;
    for (size_t k = lo; k < hi; ++k) {
      const Token& t = tokens_[k];
      std::string_view raw = body_.substr(t.begin, t.end - t.begin);
      switch (t.kind) {
        case Tok::Space:
        case Tok::Comment:
          gap = after_word;
          break;
        case Tok::Word:
        case Tok::Quoted:
        case Tok::Literal:
          if (gap || after_literal) return;
          if (t.kind == Tok::Literal) {
            if (!seen_at || text.size() != local_size + 1) return;
            text += unfold(raw);
            after_literal = true;
          } else {
            text += t.kind == Tok::Quoted ? unquote(raw) : std::string(raw);
          }
          after_word = true;
          break;
        case Tok::Special:
          if (after_literal) return;
          if (raw == "@" && !seen_at) {
            seen_at = true;
            local_size = text.size();
          } else if (raw != ".") {
            return;
          }
          text += raw;
          after_word = gap = false;
          break;
      }
    }
    if (!seen_at || local_size == 0 || text.size() == local_size + 1) return;
    size_t begin = tokens_[lo].begin;
    found.push_back({begin, tokens_[hi - 1].end - begin, std::move(text)});
  }

  std::string_view body_;
  const std::vector<Token>& tokens_;
  std::optional<size_t> angle_open_;
  std::optional<size_t> angle_close_;
};

bool isAtext(unsigned char c) {
  if (c >= 0x80) return true;  // RFC 6532 UTF-8
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(char(c)) != std::string_view::npos;
}

bool isDotAtom(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.' ? s[i + 1] == '.' : !isAtext(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

bool linesFit(std::string_view field) {
  size_t start = 0;
  while (start < field.size()) {
    size_t end = field.find("\r\n", start);
    if (end == std::string_view::npos) end = field.size();
    if (end - start > MaxLineOctets) return false;
    start = end + 2;
  }
  return true;
}

}  // namespace

std::optional<HeaderAddressClass> headerAddressClass(std::string_view name) {
  using C = HeaderAddressClass;
  static constexpr std::array<std::pair<std::string_view, C>, 17> Fields{{
      {"From", C::Sender},
      {"Sender", C::Sender},
      {"Reply-To", C::Sender},
      {"Errors-To", C::Sender},
      {"Return-Receipt-To", C::Sender},
      {"Mail-Followup-To", C::Sender},
      {"Disposition-Notification-To", C::Sender},
      {"Resent-From", C::Sender},
      {"Resent-Sender", C::Sender},
      {"To", C::Recipient},
      {"Cc", C::Recipient},
      {"Bcc", C::Recipient},
      {"Apparently-To", C::Recipient},
      {"Resent-To", C::Recipient},
      {"Resent-Cc", C::Recipient},
      {"Resent-Bcc", C::Recipient},
      {"Resent-Reply-To", C::Recipient},
  }};
  for (const auto& [field, cls] : Fields) {
    if (iequals(field, name)) return cls;
  }
  return std::nullopt;
}

std::optional<std::vector<HeaderAddress>> findHeaderAddresses(std::string_view field_body) {
  auto tokens = tokenize(field_body);
  if (!tokens) return std::nullopt;
  AddressListWalk walk(field_body, *tokens);
  if (!walk.run()) return std::nullopt;
  return std::move(walk.found);
}

std::string headerAddressText(std::string_view address) {
  MailAddress parts(address);
  if (!parts.hasDomain() || isDotAtom(parts.local())) return std::string(address);
  std::string out = "\"";
  for (char c : parts.local()) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += "\"@";
  out += parts.domain();
  return out;
}

Result<RewrittenHeader> rewriteHeaderAddresses(std::string_view message,
                                               const HeaderAddressRewriter& rewrite) {
  RewrittenHeader out;
  const size_t limit = std::min(message.size(), MaxRewrittenHeaderBytes);
  size_t pos = 0;
  while (pos < limit && !message.substr(pos).starts_with("\r\n")) {
    // One field: "Name:" then its lines, continuations starting with a space or tab.
    const size_t start = pos;
    size_t colon = pos;
    while (colon < limit && message[colon] > ' ' && message[colon] < 127 && message[colon] != ':')
      ++colon;
    size_t name_end = colon;
    while (colon < limit && (message[colon] == ' ' || message[colon] == '\t')) ++colon;
    if (name_end == start || colon >= limit || message[colon] != ':') break;
    size_t end = message.find("\r\n", colon);
    while (end != std::string_view::npos && end + 2 < limit &&
           (message[end + 2] == ' ' || message[end + 2] == '\t')) {
      end = message.find("\r\n", end + 2);
    }
    if (end == std::string_view::npos || end + 2 > limit) break;
    std::string_view field = message.substr(start, end + 2 - start);
    pos = out.original_size = end + 2;

    auto cls = headerAddressClass(message.substr(start, name_end - start));
    std::optional<std::vector<HeaderAddress>> addresses;
    size_t body_at = colon + 1 - start;
    std::string_view body = field.substr(body_at, field.size() - 2 - body_at);
    if (cls) addresses = findHeaderAddresses(body);
    if (!addresses || addresses->empty()) {
      out.header += field;
      continue;
    }
    std::string rewritten(field.substr(0, body_at));
    size_t copied = 0;
    size_t changed = 0;
    for (const HeaderAddress& a : *addresses) {
      Result<std::string> mapped = rewrite(*cls, a.address);
      if (!mapped) return mapped.error();
      if (*mapped == a.address) continue;
      rewritten += body.substr(copied, a.offset - copied);
      rewritten += headerAddressText(*mapped);
      copied = a.offset + a.length;
      ++changed;
    }
    rewritten += body.substr(copied);
    rewritten += "\r\n";
    if (changed == 0 || !linesFit(rewritten)) {
      out.header += field;
      continue;
    }
    out.header += rewritten;
    out.changed += changed;
  }
  return out;
}

}  // namespace petrel::delivery
