// Domain-name helpers shared by the resolver and its callers (pure, no I/O).
//
// Names handed to Resolver::query are absolute presentation-form names. normalizeName gives
// the form every answer and cache key uses; reverseName makes the PTR name of an address
// (and, with a zone suffix, the name a DNSBL is queried with).
#pragma once

#include <string>
#include <string_view>

#include "petrel/core/result.h"

namespace petrel::dns {

// Lower case (ASCII only), trailing dot removed; the root stays ".". "" is the root too.
std::string normalizeName(std::string_view name);

// Checks a caller's name before it becomes a query: letters, digits, '-', '_', '*', '/' and
// dots; no empty label; labels of at most 63 octets; at most 253 characters (255 octets on
// the wire). A permanent error says what is wrong.
Status checkQueryName(std::string_view name);

// "192.0.2.1" -> "1.2.0.192.in-addr.arpa"; "2001:db8::1" -> "1.0.0.0...8.b.d.0.1.0.0.2.ip6.arpa"
// (RFC 1035 3.5, RFC 3596 2.5). With `zone`, that zone replaces in-addr.arpa / ip6.arpa
// ("1.2.0.192.zen.example"), which is how DNSBLs are asked. A permanent error for text that
// is not an IP address.
Result<std::string> reverseName(std::string_view ip, std::string_view zone = {});

}  // namespace petrel::dns
