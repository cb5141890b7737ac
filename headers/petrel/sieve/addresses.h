// The message pieces Sieve tests look at that delivery needs too (the vacation rules read
// To/Cc/Bcc and the Subject as the `address` and `header` tests do): header values unfolded
// and RFC 2047-decoded, addresses out of address-list field bodies. Pure; the parsers are in
// source/sieve/match.cc and fuzzed through the Sieve fuzz target.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace petrel::sieve {

// A field body unfolded, RFC 2047 encoded-words decoded (to UTF-8 for UTF-8, US-ASCII and
// ISO-8859-1; other charsets keep their octets), leading and trailing white space removed.
std::string headerValue(std::string_view raw_value, bool decode = true);

struct ParsedAddress {
  std::string all;  // local@domain (route removed), or the text when it is no address
  std::string localpart;
  std::string domain;
  bool valid = false;
};

// The addresses of an address-list field body (RFC 5322 3.4: groups, display names, comments).
std::vector<ParsedAddress> addressList(std::string_view value);
ParsedAddress splitAddress(std::string_view address);

}  // namespace petrel::sieve
