// Base64 (RFC 4648 4) for every area: SASL (strict), DKIM's b=, bh= and p= tags (lenient),
// key records printed for DNS, report attachments.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace petrel {

std::string base64Encode(std::string_view bytes);
// Strict by default: length a multiple of 4 with padding. `lenient` also accepts missing padding and
// skips whitespace (SP, HTAB, CR, LF) anywhere, as DKIM's base64string with FWS allows
// (RFC 6376 2.4). nullopt on any other character, bad padding or non-zero trailing bits.
std::optional<std::string> base64Decode(std::string_view text, bool lenient = false);

}  // namespace petrel
