// See query_template.h.
#include "query_template.h"

#include <fmt/format.h>

#include "petrel/core/mail_address.h"

namespace petrel::lookup {

QueryTemplate::QueryTemplate(std::string_view text) {
  std::string literal;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 1 < text.size()) {
      char e = text[++i];
      if (e == '%') {
        literal += '%';
        continue;
      }
      if (!literal.empty()) parts_.push_back({0, std::move(literal)});
      literal.clear();
      parts_.push_back({e, {}});
      continue;
    }
    literal += c;
  }
  if (!literal.empty()) parts_.push_back({0, std::move(literal)});
}

std::string QueryTemplate::sql(Placeholders style) const {
  std::string out;
  int n = 0;
  for (const Part& p : parts_) {
    if (p.expansion == 0) {
      out += p.text;
    } else {
      out += style == Placeholders::Question ? std::string("?") : fmt::format("${}", ++n);
    }
  }
  return out;
}

std::optional<std::vector<std::string>> QueryTemplate::values(std::string_view key) const {
  MailAddress address(key);
  std::vector<std::string> out;
  for (const Part& p : parts_) {
    switch (p.expansion) {
      case 0: break;
      case 's': out.emplace_back(key); break;
      case 'u': {
        std::string_view local = address.local();  // the whole key without an '@'
        if (local.empty()) return std::nullopt;
        out.emplace_back(local);
        break;
      }
      case 'd': {
        if (address.domain().empty()) return std::nullopt;
        out.emplace_back(address.domain());
        break;
      }
      default: return std::nullopt;  // the loader lets no other expansion through
    }
  }
  return out;
}

std::optional<std::string> QueryTemplate::ldapFilter(std::string_view key) const {
  auto vals = values(key);
  if (!vals) return std::nullopt;
  std::string out;
  size_t v = 0;
  for (const Part& p : parts_) {
    if (p.expansion == 0) {
      out += p.text;
      continue;
    }
    for (char c : (*vals)[v++]) {
      switch (c) {
        case '*': out += "\\2a"; break;
        case '(': out += "\\28"; break;
        case ')': out += "\\29"; break;
        case '\\': out += "\\5c"; break;
        case '\0': out += "\\00"; break;
        default: out += c;
      }
    }
  }
  return out;
}

}  // namespace petrel::lookup
