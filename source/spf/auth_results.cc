// SPF results in header fields; see headers/petrel/spf/auth_results.h.
#include "petrel/spf/auth_results.h"

#include <fmt/format.h>

#include <cctype>

namespace petrel::spf {

std::string headerValue(std::string_view s) {
  bool atom =
      !s.empty() && s.front() != '.' && s.back() != '.' && s.find("..") == std::string_view::npos;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) ||
          std::string_view("!#$%&'*+-/=?^_`{|}~.").find(c) != std::string_view::npos)) {
      atom = false;
    }
  }
  if (atom) return std::string(s);
  std::string out = "\"";
  for (char c : s.substr(0, 255)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string authResultsPart(Outcome result, bool helo_identity, std::string_view domain) {
  return fmt::format("spf={} smtp.{}={}", outcomeName(result), helo_identity ? "helo" : "mailfrom",
                     headerValue(domain));
}

}  // namespace petrel::spf
