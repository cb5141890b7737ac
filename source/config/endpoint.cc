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

std::string NextHop::toString() const {
  std::string h = mx_lookup ? host : "[" + host + "]";
  return port == 25 ? h : fmt::format("{}:{}", h, port);
}

Result<NextHop> parseNextHop(std::string_view text) {
  text = trim(text);
  if (text.starts_with("smtp:")) text.remove_prefix(5);
  NextHop hop;
  std::string_view host = text;
  std::optional<std::string_view> port;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return Error::config("missing ']' in the next hop");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) return Error::config("expected ':port' after ']'");
      port = rest.substr(1);
    }
    hop.mx_lookup = false;
  } else if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port) {
    auto number = parseUnsigned(*port);
    if (!number || *number < 1 || *number > 65535) {
      return Error::config(fmt::format("port must be a number from 1 to 65535, got '{}'", *port));
    }
    hop.port = static_cast<uint16_t>(*number);
  }
  std::string h(host);
  if (auto v6 = canonicalIp(AF_INET6, h)) {
    if (hop.mx_lookup) return Error::config("an IPv6 next hop needs brackets, e.g. [2001:db8::1]");
    hop.host = *v6;
  } else if (auto v4 = canonicalIp(AF_INET, h)) {
    if (hop.mx_lookup) {
      return Error::config(fmt::format("'{}' is an address, not a domain: write [{}] to use it "
                                       "without an MX lookup", h, h));
    }
    hop.host = *v4;
  } else {
    hop.host = toLower(h);
    if (hop.host.ends_with('.')) hop.host.pop_back();
    bool ok = !hop.host.empty() && hop.host.size() <= 253;
    for (char ch : hop.host) {
      ok = ok && (isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == '_');
    }
    if (!ok) return Error::config(fmt::format("'{}' is not a host name or [address]", h));
  }
  return hop;
}

std::optional<TlsPolicy> parseTlsPolicy(std::string_view word) {
  if (word == "none") return TlsPolicy::None;
  if (word == "may") return TlsPolicy::May;
  if (word == "encrypt") return TlsPolicy::Encrypt;
  if (word == "verify") return TlsPolicy::Verify;
  return std::nullopt;
}

std::string_view toString(TlsPolicy policy) {
  switch (policy) {
    case TlsPolicy::None: return "none";
    case TlsPolicy::May: return "may";
    case TlsPolicy::Encrypt: return "encrypt";
    case TlsPolicy::Verify: return "verify";
  }
  return "may";
}

}  // namespace petrel::config
