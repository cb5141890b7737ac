// RFC 5321 paths and the parameters of MAIL FROM / RCPT TO (SIZE, BODY, SMTPUTF8, DSN).
// Parsing only: no lookups, no policy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "petrel/smtp/reply.h"

namespace petrel::smtp {

// A mailbox as it appeared in the path, without angle brackets; empty for the null sender <>.
struct Address {
  std::string text;
  std::string_view localPart() const;
  std::string_view domain() const;  // empty when there is no '@'
  bool isNull() const { return text.empty(); }
  bool isAscii() const;
};

struct MailParams {
  Address sender;
  std::optional<uint64_t> size;  // SIZE=
  std::string body;              // "7BIT" | "8BITMIME" | "" (not given)
  bool smtputf8 = false;
  std::string dsn_ret;    // "FULL" | "HDRS" | ""
  std::string dsn_envid;  // xtext-decoded ENVID
};

struct RcptParams {
  Address recipient;
  std::string dsn_notify;  // "NEVER" or a comma list of SUCCESS,FAILURE,DELAY; "" = not given
  std::string dsn_orcpt;   // "rfc822;addr" as given (xtext-decoded)
};

// Failed parses carry the reply to send (501 5.5.4, 553 5.1.3, 555 5.5.4 ...).
struct ParseFailure {
  Reply reply;
};

// `arg` is everything after "MAIL FROM:" / "RCPT TO:". `utf8_allowed`: SMTPUTF8 was given
// on MAIL (RCPT inherits it), so non-ASCII addresses are accepted (RFC 6531 3.3).
std::optional<ParseFailure> parseMailFrom(std::string_view arg, MailParams& out);
std::optional<ParseFailure> parseRcptTo(std::string_view arg, bool utf8_allowed,
                                        RcptParams& out);

// RFC 3461 4: xtext "+HH" decoding; nullopt when malformed.
std::optional<std::string> decodeXtext(std::string_view s);

}  // namespace petrel::smtp
