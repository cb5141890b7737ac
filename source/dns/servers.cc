// Server lists; see servers.h.
#include "servers.h"

#include <fmt/format.h>
#include <uv.h>

#include <charconv>
#include <fstream>
#include <sstream>

namespace petrel::dns {
namespace {

Result<uint16_t> parsePort(std::string_view entry, std::string_view digits) {
  unsigned port = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || port == 0 ||
      port > 65535) {
    return Error::config(fmt::format("bad DNS server '{}': port must be 1-65535", entry));
  }
  return uint16_t(port);
}

}  // namespace

Result<ServerAddress> parseServer(std::string_view text) {
  std::string_view host = text;
  std::string_view port_text;
  bool v6 = false;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return Error::config(fmt::format("bad DNS server '{}': missing ']'", text));
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return Error::config(fmt::format("bad DNS server '{}': expected ':port' after ']'", text));
      }
      port_text = rest.substr(1);
      if (port_text.empty()) {
        return Error::config(fmt::format("bad DNS server '{}': port must be 1-65535", text));
      }
    }
    v6 = true;
  } else if (auto colon = text.find(':'); colon != std::string_view::npos) {
    if (text.find(':', colon + 1) != std::string_view::npos) {
      v6 = true;  // several colons: an IPv6 address without a port (write [addr]:port for one)
    } else {
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
      if (port_text.empty()) {
        return Error::config(fmt::format("bad DNS server '{}': port must be 1-65535", text));
      }
    }
  }
  uint16_t port = DefaultDnsPort;
  if (!port_text.empty()) {
    auto p = parsePort(text, port_text);
    if (!p) return p.error();
    port = *p;
  }
  ServerAddress out;
  std::string h(host);
  if (v6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
    if (h.empty() || uv_ip6_addr(h.c_str(), port, sin6) != 0) {
      return Error::config(fmt::format("bad DNS server '{}': not an IPv6 address", text));
    }
    out.text = fmt::format("[{}]:{}", h, port);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out.addr);
    // uv_ip4_addr (inet_pton) accepts only dotted quads, no host names.
    if (h.empty() || uv_ip4_addr(h.c_str(), port, sin) != 0) {
      return Error::config(fmt::format("bad DNS server '{}': not an IP address", text));
    }
    out.text = fmt::format("{}:{}", h, port);
  }
  return out;
}

std::vector<std::string> parseResolvConf(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (auto c = line.find_first_of("#;"); c != std::string::npos) line.erase(c);
    std::istringstream words(line);
    std::string keyword, address;
    if (words >> keyword >> address && keyword == "nameserver") out.push_back(address);
  }
  return out;
}

Result<std::vector<ServerAddress>> loadServers(const std::vector<std::string>& servers,
                                               const std::string& resolv_conf) {
  std::vector<ServerAddress> out;
  if (!servers.empty()) {
    for (const std::string& s : servers) {
      auto a = parseServer(s);
      if (!a) return a.error();
      out.push_back(std::move(*a));
    }
    return out;
  }
  std::ifstream f(resolv_conf);
  if (f) {
    std::stringstream text;
    text << f.rdbuf();
    for (const std::string& s : parseResolvConf(text.str())) {
      if (out.size() == MaxResolvConfServers) break;
      // Only plain addresses belong in resolv.conf; "1.2.3.4:53" is not glibc syntax.
      if (s.find(':') != std::string::npos && s.find(':') == s.rfind(':')) continue;
      if (auto a = parseServer(s)) out.push_back(std::move(*a));
    }
  }
  if (out.empty()) out.push_back(*parseServer("127.0.0.1"));  // glibc's default too
  return out;
}

}  // namespace petrel::dns
