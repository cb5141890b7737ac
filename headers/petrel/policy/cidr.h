// CIDR blocks (IPv4 and IPv6) and ordered lists of them, for mynetworks and cidr tables.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::policy {

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

}  // namespace petrel::policy
