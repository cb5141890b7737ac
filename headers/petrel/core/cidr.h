// IP addresses, CIDR blocks (IPv4 and IPv6) and ordered lists of blocks: the value types
// behind mynetworks (policy/) and cidr lookup tables (lookup/). Parsing and matching only; no
// name resolution, no I/O. They live in core because both of those areas, and the config
// loader that validates mynetworks, use them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"

namespace petrel {

// An address literal in binary form.
struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4

  // The inet_pton spellings only: "192.0.2.7", "2001:db8::1"; no "127.1", no leading zeros
  // in IPv4 octets, no brackets, no zone ("%eth0"). nullopt otherwise.
  static std::optional<IpAddress> parse(std::string_view text);
  // ::ffff:a.b.c.d (RFC 4291 2.5.5.2) -> a.b.c.d; any other address unchanged.
  IpAddress unmapped() const;
};

struct Cidr {
  bool v6 = false;
  std::array<uint8_t, 16> addr{};  // network address (host bits zero)
  int prefix = 0;
  // "192.0.2.0/24", "2001:db8::/32", "127.0.0.1" (= /32). Host bits set is an error, as in
  // Postfix ("non-null host address bits").
  static Result<Cidr> parse(std::string_view text);
  // False for a malformed ip or another family; an IPv4-mapped IPv6 ip (::ffff:a.b.c.d)
  // counts as IPv4 against an IPv4 block.
  bool contains(std::string_view ip) const;
  bool contains(const IpAddress& ip) const;
  // Is `ip` of this block's family, with the same IPv4-mapped rule as contains()? A negated
  // cidr table rule ("!192.0.2.0/24") applies only to addresses of its own family.
  bool sameFamily(const IpAddress& ip) const;
  std::string toString() const;
};

class CidrList {
 public:
  CidrList() = default;
  explicit CidrList(std::vector<Cidr> blocks) : blocks_(std::move(blocks)) {}
  bool contains(std::string_view ip) const;  // IPv4-mapped IPv6 (::ffff:a.b.c.d) matches v4 blocks
  const std::vector<Cidr>& blocks() const { return blocks_; }

 private:
  std::vector<Cidr> blocks_;
};

}  // namespace petrel
