// How an SPF result is written into header fields: the spf part of Authentication-Results
// (RFC 8601 2.7.2) and the values of Received-SPF (RFC 7208 9.1). Used by the restriction
// check check_spf and by the Authentication-Results stage when it evaluates SPF for DMARC
// itself. Pure; everything from the client is bounded and quoted, so nothing it sent can end
// the field or add to it.
#pragma once

#include <string>
#include <string_view>

#include "petrel/spf/record.h"

namespace petrel::spf {

// A header value: a dot-atom as is, anything else a quoted string (RFC 5322 3.2.4) with
// control characters replaced by spaces, at most 255 characters of `s`.
std::string headerValue(std::string_view s);

// "spf=pass smtp.mailfrom=example.org" ("smtp.helo=NAME" for the HELO identity, which is
// what the null sender is checked with): the part DMARC reads.
std::string authResultsPart(Outcome result, bool helo_identity, std::string_view domain);

}  // namespace petrel::spf
