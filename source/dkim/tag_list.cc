// tag_list.h: the RFC 6376 3.2 grammar, checked octet by octet.
#include "petrel/dkim/tag_list.h"

#include <fmt/format.h>

namespace petrel::dkim {

namespace {

bool isWsp(char c) { return c == ' ' || c == '\t'; }
bool isFwsChar(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view trimFws(std::string_view s) {
  while (!s.empty() && isFwsChar(s.front())) s.remove_prefix(1);
  while (!s.empty() && isFwsChar(s.back())) s.remove_suffix(1);
  return s;
}


// FWS inside a value (RFC 5322 3.2.2 as RFC 6376 2.8 restricts it): CRLF only when followed
// by WSP, no bare CR or LF.
bool validFws(std::string_view v) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\r') {
      if (i + 2 >= v.size() || v[i + 1] != '\n' || !isWsp(v[i + 2])) return false;
      ++i;
    } else if (v[i] == '\n') {
      return false;
    }
  }
  return true;
}

}  // namespace

const Tag* TagList::find(std::string_view name) const {
  for (const auto& t : tags) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Result<TagList> parseTagList(std::string_view text) {
  if (text.size() > MaxTagListSize) return Error::permanent("tag list too long");
  TagList list;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(';', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view spec = text.substr(pos, end - pos);
    pos = end + 1;
    if (trimFws(spec).empty()) {
      // Only a trailing ";" (or an empty list) may leave an empty spec.
      if (end == text.size() || trimFws(text.substr(pos)).empty()) break;
      return Error::permanent("empty tag in tag list");
    }
    size_t eq = spec.find('=');
    if (eq == std::string_view::npos) {
      return Error::permanent(fmt::format("tag '{}' without '='", shown(trimFws(spec))));
    }
    std::string_view name = trimFws(spec.substr(0, eq));
    std::string_view value = trimFws(spec.substr(eq + 1));
    if (name.empty() || !isAlpha(name[0])) {
      return Error::permanent(fmt::format("bad tag name '{}'", shown(name)));
    }
    for (char c : name) {
      if (!isAlpha(c) && !isDigit(c) && c != '_') {
        return Error::permanent(fmt::format("bad tag name '{}'", shown(name)));
      }
    }
    if (!validFws(spec)) return Error::permanent(fmt::format("bad line break in tag '{}'", shown(name)));
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      // tval = 1*VALCHAR (%x21-3A / %x3C-7E); RFC 6376 allows no 8-bit here (RFC 6532 needs
      // no more for DKIM: d= and s= are A-labels in practice).
      if (!isFwsChar(c) && (u < 0x21 || u > 0x7e)) {
        return Error::permanent(fmt::format("bad character in the value of tag '{}'", shown(name)));
      }
    }
    if (list.find(name) != nullptr) {
      return Error::permanent(fmt::format("duplicate tag '{}'", shown(name)));
    }
    list.tags.push_back(Tag{std::string(name), std::string(value)});
    if (end == text.size()) break;
  }
  return list;
}

std::string withoutWhitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (!isFwsChar(c)) out += c;
  }
  return out;
}

std::vector<std::string> splitColonList(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t end = text.find(':', pos);
    std::string_view item = trimFws(text.substr(pos, end == std::string_view::npos ? end : end - pos));
    out.emplace_back(item);
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return out;
}

std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) {
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  return out;
}

}  // namespace petrel::dkim
