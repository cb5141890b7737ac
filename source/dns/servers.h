// Name server addresses: "ip[:port]" entries and /etc/resolv.conf (pure parsing, plus one
// blocking file read in loadServers, meant for startup and reload).
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::dns {

struct ServerAddress {
  sockaddr_storage addr{};  // AF_INET or AF_INET6, port set
  std::string text;         // "192.0.2.53:53", "[2001:db8::53]:53"

  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&addr); }
};

inline constexpr uint16_t DefaultDnsPort = 53;
// glibc's MAXNS: resolv.conf lines after the third nameserver are ignored, as the system does.
inline constexpr size_t MaxResolvConfServers = 3;

// "192.0.2.53", "192.0.2.53:5353", "2001:db8::53", "fe80::1%eth0", "[2001:db8::53]:5353".
// A Config error names the entry.
Result<ServerAddress> parseServer(std::string_view text);

// The addresses of the "nameserver" lines of a resolv.conf text, in order (all of them, not
// checked; comments start with '#' or ';').
std::vector<std::string> parseResolvConf(std::string_view text);

// `servers` if not empty (every entry must parse: Config error otherwise); else the first
// MaxResolvConfServers valid nameserver lines of the file at `resolv_conf` (unparsable lines
// are skipped, as glibc does); else 127.0.0.1:53, also when the file cannot be read.
Result<std::vector<ServerAddress>> loadServers(const std::vector<std::string>& servers,
                                               const std::string& resolv_conf);

}  // namespace petrel::dns
