// CIDR blocks and address literals for mynetworks and cidr tables: parsing with Postfix's
// strictness and matching of client addresses.
//
// Parsing uses inet_pton, so only the standard spellings are accepted: no "127.1", no leading
// zeros in IPv4 octets, no brackets around IPv6. A block whose host bits are not zero is an
// error with Postfix's hint ("perhaps you should use ... instead"), because "192.0.2.1/24"
// nearly always means the admin meant the network and matching it silently would hide the typo.
//
// Matching is by family, except that an IPv4-mapped IPv6 client (::ffff:192.0.2.7, what a
// dual-stack socket reports for an IPv4 peer) is matched as the IPv4 address it carries.
// Nothing here resolves names or does I/O.
#include "petrel/core/cidr.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string>

#include "petrel/core/strings.h"

namespace petrel {

namespace {

std::string format(bool v6, const std::array<uint8_t, 16>& bytes) {
  std::array<char, INET6_ADDRSTRLEN> buffer{};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buffer.data(), buffer.size());
  return std::string(buffer.data());
}

// Do the first `prefix` bits of a and b agree?
bool samePrefix(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int prefix) {
  int full = prefix / 8;
  if (!std::equal(a.begin(), a.begin() + full, b.begin())) {
    return false;
  }
  int rest = prefix % 8;
  if (rest == 0) {
    return true;
  }
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

// Clears every bit after the first `prefix`.
std::array<uint8_t, 16> networkOf(std::array<uint8_t, 16> bytes, int prefix) {
  for (int bit = prefix; bit < 128; ++bit) {
    bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
  return bytes;
}

Error badPattern(std::string_view text, std::string_view why) {
  return Error::config(fmt::format("bad net/mask pattern \"{}\": {}", text, why));
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) {
    return std::nullopt;  // inet_pton would stop at the NUL and accept the prefix
  }
  const std::string s(text);  // inet_pton needs a NUL
  IpAddress a;
  a.v6 = s.find(':') != std::string::npos;
  if (inet_pton(a.v6 ? AF_INET6 : AF_INET, s.c_str(), a.bytes.data()) != 1) {
    return std::nullopt;
  }
  return a;
}

IpAddress IpAddress::unmapped() const {
  constexpr std::array<uint8_t, 12> MappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!v6 || !std::equal(MappedPrefix.begin(), MappedPrefix.end(), bytes.begin())) {
    return *this;
  }
  IpAddress v4;
  std::copy(bytes.begin() + 12, bytes.end(), v4.bytes.begin());
  return v4;
}

Result<Cidr> Cidr::parse(std::string_view text) {
  if (text.empty()) {
    return Error::config(
        "bad net/mask pattern \"\": expected an address such as 192.0.2.0/24 "
        "or 2001:db8::/32");
  }
  size_t slash = text.find('/');
  std::string_view host = text.substr(0, slash);
  if (host.starts_with('[')) {
    // Postfix's main.cf writes [::1]/128 in mynetworks; this config does not. (Postfix cidr
    // tables accept brackets too: the cidr table backend strips them before calling parse().)
    return badPattern(text, "write IPv6 blocks without brackets, e.g. \"::1/128\"");
  }
  std::optional<IpAddress> address = IpAddress::parse(host);
  if (!address) {
    return badPattern(text, fmt::format("'{}' is not an IPv4 or IPv6 address", host));
  }
  Cidr cidr;
  cidr.v6 = address->v6;
  const int max_prefix = cidr.v6 ? 128 : 32;
  cidr.prefix = max_prefix;
  if (slash != std::string_view::npos) {
    std::string_view length = text.substr(slash + 1);
    // parseUnsigned takes digits only, so "+8", " 8" and "8/" are refused here too.
    std::optional<uint64_t> n = parseUnsigned(length);
    if (!n || *n > static_cast<uint64_t>(max_prefix)) {
      return badPattern(text,
                        fmt::format("the prefix length must be a number from 0 to {}", max_prefix));
    }
    cidr.prefix = static_cast<int>(*n);
  }
  std::array<uint8_t, 16> network = networkOf(address->bytes, cidr.prefix);
  if (network != address->bytes) {
    return Error::config(fmt::format(
        "non-null host address bits in \"{}\", perhaps you should use \"{}/{}\" instead", text,
        format(cidr.v6, network), cidr.prefix));
  }
  cidr.addr = network;
  return cidr;
}

bool Cidr::contains(std::string_view ip) const {
  std::optional<IpAddress> client = IpAddress::parse(ip);
  return client && contains(*client);
}

bool Cidr::contains(const IpAddress& ip) const {
  // A v4 block also covers the same client seen through a dual-stack socket. The reverse (a
  // v4 client against a ::ffff:0:0/96 block) is not matched: that block is written for IPv6.
  const IpAddress a = v6 ? ip : ip.unmapped();
  return a.v6 == v6 && samePrefix(a.bytes, addr, prefix);
}

bool Cidr::sameFamily(const IpAddress& ip) const { return (v6 ? ip : ip.unmapped()).v6 == v6; }

std::string Cidr::toString() const { return fmt::format("{}/{}", format(v6, addr), prefix); }

bool CidrList::contains(std::string_view ip) const {
  return std::any_of(blocks_.begin(), blocks_.end(),
                     [&](const Cidr& block) { return block.contains(ip); });
}

}  // namespace petrel
