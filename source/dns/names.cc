// Domain-name helpers; see names.h.
#include "petrel/dns/names.h"

#include <arpa/inet.h>
#include <fmt/format.h>

namespace petrel::dns {

std::string normalizeName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return ".";
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return out;
}

Status checkQueryName(std::string_view name) {
  std::string_view n = name;
  if (!n.empty() && n.back() == '.') n.remove_suffix(1);
  if (n.empty()) return Error::permanent("empty domain name");
  // RFC 1035 2.3.4: 255 octets on the wire, which is 253 characters without the final dot.
  if (n.size() > 253) {
    return Error::permanent(fmt::format("domain name longer than 253 characters: {:.60}...", n));
  }
  size_t label = 0;
  for (char c : n) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '*' || c == '/' || c == '.';
    if (!ok) {
      return Error::permanent(
          fmt::format("invalid character 0x{:02x} in domain name", static_cast<unsigned char>(c)));
    }
    if (c == '.') {
      if (label == 0) return Error::permanent(fmt::format("empty label in domain name {}", name));
      label = 0;
    } else if (++label > 63) {
      return Error::permanent(fmt::format("label longer than 63 octets in domain name {}", name));
    }
  }
  return okStatus();
}

Result<std::string> reverseName(std::string_view ip, std::string_view zone) {
  std::string text(ip);
  unsigned char b[16];
  std::string out;
  if (inet_pton(AF_INET, text.c_str(), b) == 1) {
    out = fmt::format("{}.{}.{}.{}", b[3], b[2], b[1], b[0]);
    out += zone.empty() ? ".in-addr.arpa" : fmt::format(".{}", normalizeName(zone));
    return out;
  }
  if (inet_pton(AF_INET6, text.c_str(), b) == 1) {
    static constexpr char Hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i) {
      out += Hex[b[i] & 0xf];
      out += '.';
      out += Hex[b[i] >> 4];
      out += '.';
    }
    out += zone.empty() ? "ip6.arpa" : normalizeName(zone);
    return out;
  }
  return Error::permanent(fmt::format("not an IP address: {}", ip));
}

}  // namespace petrel::dns
