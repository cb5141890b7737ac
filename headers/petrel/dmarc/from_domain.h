// The RFC5322.From domain(s) DMARC evaluates (RFC 7489 3.1, 6.6.1), from a message's header
// fields.
//
// The From: value is read as an RFC 5322 3.4 address-list (display names, quoted strings,
// nested comments, groups, angle addresses with an obsolete route, obs-addr-list's empty
// elements); each address's domain, lower case, in A-label form (RFC 6532 UTF-8 domains are
// punycoded for the DNS), duplicates once. What Petrel does with an odd From: (docs/dmarc.md):
//   - one From: field with one address: its domain;
//   - several addresses in one field, or several From: fields (RFC 5322 allows one): every
//     domain is evaluated and the strictest outcome counts (RFC 7489 6.6.1: each domain is
//     checked and the strictest policy among those that fail applies), as mox, rspamd and
//     authheaders do;
//   - no From: field, a From: without an address (empty, "undisclosed-recipients:;"), an
//     address without a domain, a domain literal, a syntax error, more than MaxFromDomains
//     domains: no From domain; the evaluation gives permerror and applies no policy (RFC 7489
//     5 puts such messages out of its scope; rejecting them is a header-syntax decision).
// Bounded: at most MaxFromValue octets of each field and MaxFromDomains domains are read.
//
// What it does not do: Sender:, Resent-From:, or decoding RFC 2047 words (display names are
// skipped, never read).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/content/header_section.h"

namespace petrel::dmarc {

inline constexpr size_t MaxFromDomains = 8;
inline constexpr size_t MaxFromValue = 16384;

struct FromDomains {
  std::vector<std::string> domains;  // distinct, in the order written; empty when `problem`
  size_t fields = 0;                 // From: fields seen
  size_t addresses = 0;              // addresses found in them
  std::string problem;  // set when there is no usable From domain: why (printable ASCII)

  bool ok() const { return problem.empty() && !domains.empty(); }
};

// From the header section's fields (only those named From, any case).
FromDomains fromDomains(const std::vector<content::HeaderField>& fields);
// From field bodies (what follows "From:"), one per field; for tests, the CLI and the fuzzer.
FromDomains fromDomainsOfValues(const std::vector<std::string_view>& values);

}  // namespace petrel::dmarc
