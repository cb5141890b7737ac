// The DKIM part of an Authentication-Results field (RFC 8601 2.7.1, header.b from RFC 6008):
//   dkim=pass header.d=example.com header.s=sel header.a=rsa-sha256 header.b=abcdefgh
// Values that are not a plain token are written as quoted strings with '\' and '"' escaped;
// control characters and non-ASCII are dropped, so a signature's text can never break the
// field or start a new one (no header injection). The caller composes the whole field (the
// authserv-id, other methods) and folds it.
#pragma once

#include <string>
#include <vector>

#include "petrel/dkim/verifier.h"

namespace petrel::dkim {

// One resinfo for `r`: "dkim=fail reason=\"body hash mismatch\" header.d=... header.s=...".
std::string authResultsEntry(const SignatureResult& r);

// All of them, separated by ";\r\n\t" (RFC 8601 2.2 resinfo list); "dkim=none" when `results`
// is empty (the message had no signature).
std::string authResultsDkim(const std::vector<SignatureResult>& results);

// A value as RFC 8601 2.2 wants it: the token as it is, or a quoted-string.
std::string authResultsValue(std::string_view value);

}  // namespace petrel::dkim
