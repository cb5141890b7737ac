// Endpoint parsing and printing: "192.0.2.1:25" and "[2001:db8::1]:25".
//
// Listener and status addresses are bind addresses, so the host must be an IP literal; this
// file never resolves names. IPv6 hosts are stored without brackets in inet_ntop's canonical
// form, so that "[::0001]:25" and "[::1]:25" compare equal. See headers/petrel/config/config.h.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <array>
#include <string>

#include "petrel/config/config.h"
#include "petrel/core/strings.h"

namespace petrel::config {

namespace {

// Returns the canonical text of an IP literal of `family`, or nullopt if `host` is not one.
std::optional<std::string> canonicalIp(int family, const std::string& host) {
  std::array<unsigned char, sizeof(in6_addr)> binary{};
  if (inet_pton(family, host.c_str(), binary.data()) != 1) {
    return std::nullopt;
  }
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (inet_ntop(family, binary.data(), text.data(), text.size()) == nullptr) {
    return std::nullopt;
  }
  return std::string(text.data());
}

}  // namespace

std::string Endpoint::toString() const {
  if (host.find(':') != std::string::npos) {
    return fmt::format("[{}]:{}", host, port);
  }
  return fmt::format("{}:{}", host, port);
}

Result<Endpoint> parseEndpoint(std::string_view text) {
  std::string host;
  std::string_view port;
  std::optional<std::string> canonical;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Error::config("missing ']' after the IPv6 address");
    }
    host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.starts_with(':')) {
      return Error::config("expected ':port' after ']'");
    }
    port = rest.substr(1);
    canonical = canonicalIp(AF_INET6, host);
    if (!canonical) {
      return Error::config(fmt::format("'{}' is not an IPv6 address", host));
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Error::config("expected host:port, e.g. 127.0.0.1:25 or [::1]:25");
    }
    host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return Error::config("an IPv6 address needs brackets, e.g. [::1]:25");
    }
    canonical = canonicalIp(AF_INET, host);
    if (!canonical) {
      return Error::config(fmt::format(
          "'{}' is not an IP address (names are not resolved; IPv6 goes in brackets)", host));
    }
  }
  auto number = parseUnsigned(port);
  if (!number || *number < 1 || *number > 65535) {
    return Error::config(fmt::format("port must be a number from 1 to 65535, got '{}'", port));
  }
  return Endpoint{*canonical, static_cast<uint16_t>(*number)};
}

}  // namespace petrel::config
