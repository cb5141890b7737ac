// auth_results.h: RFC 8601 resinfo for DKIM with values made safe for a header field.
#include "petrel/dkim/auth_results.h"

#include <fmt/format.h>

namespace petrel::dkim {

namespace {

// RFC 2045 token characters (RFC 8601 2.2 "value" is token / quoted-string).
bool tokenChar(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  return std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
}

}  // namespace

std::string authResultsValue(std::string_view value) {
  std::string clean;
  for (char c : value.substr(0, 256)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) clean += c;  // controls and 8-bit go: no CR/LF ever survives
  }
  bool token = !clean.empty();
  for (char c : clean) token = token && tokenChar(c);
  // header.d / header.i values are domains and addresses: '@' and '.' are fine as they are in
  // a pvalue (RFC 8601 2.2 allows [local-part "@"] domain-name), so only quote when needed.
  bool pvalue = !clean.empty();
  for (char c : clean) pvalue = pvalue && (tokenChar(c) || c == '@');
  if (token || pvalue) return clean;
  std::string out = "\"";
  for (char c : clean) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string authResultsEntry(const SignatureResult& r) {
  std::string out = fmt::format("dkim={}", outcomeName(r.outcome));
  if (!r.reason.empty()) out += " reason=" + authResultsValue(r.reason);
  if (!r.domain.empty()) out += " header.d=" + authResultsValue(r.domain);
  if (!r.identity.empty()) out += " header.i=" + authResultsValue(r.identity);
  if (!r.selector.empty()) out += " header.s=" + authResultsValue(r.selector);
  if (!r.algorithm.empty()) out += " header.a=" + authResultsValue(r.algorithm);
  if (!r.b_prefix.empty()) out += " header.b=" + authResultsValue(r.b_prefix);
  return out;
}

std::string authResultsDkim(const std::vector<SignatureResult>& results) {
  if (results.empty()) return "dkim=none";
  std::string out;
  for (const auto& r : results) {
    if (!out.empty()) out += ";\r\n\t";
    out += authResultsEntry(r);
  }
  return out;
}

}  // namespace petrel::dkim
