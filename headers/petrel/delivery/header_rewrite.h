// Canonical rewriting of the addresses in a message's header fields, as Postfix's cleanup does
// for canonical_classes header_sender and header_recipient. Pure: bytes and a rewrite function
// in, a new header section out; the caller decides which table answers and where the bytes go.
//
// Only the addr-spec of each mailbox changes; display names, comments, groups and folding stay
// as they were. A field whose address list does not parse (an unbalanced quote, comment or
// bracket) is left alone rather than guessed at.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::delivery {

enum class HeaderAddressClass { Sender, Recipient };

// The class of a field's addresses by field name (case-insensitive), as Postfix's header_opts:
// sender: From, Sender, Reply-To, Errors-To, Return-Receipt-To, Mail-Followup-To,
// Disposition-Notification-To, Resent-From, Resent-Sender; recipient: To, Cc, Bcc,
// Apparently-To, Resent-To, Resent-Cc, Resent-Bcc, Resent-Reply-To. nullopt for other fields.
std::optional<HeaderAddressClass> headerAddressClass(std::string_view field_name);

// One addr-spec found in the body of an address field.
struct HeaderAddress {
  size_t offset = 0;    // where its text starts in the field body
  size_t length = 0;    // length of that text (comments or folding inside it included)
  std::string address;  // "local@domain" without comments or folding, local part unquoted
};

// RFC 5322 3.4 address-list: mailboxes with or without display names, groups, comments, quoted
// strings, domain literals, obsolete routes ("<@a,@b:x@y>"). Mailboxes without a domain and
// empty ones are skipped. nullopt when the body does not parse.
std::optional<std::vector<HeaderAddress>> findHeaderAddresses(std::string_view field_body);

// How `address` ("local@domain", local part unquoted) is written in a header: the local part
// becomes a quoted string when it is not a dot-atom.
std::string headerAddressText(std::string_view address);

// Maps an address of a class to its replacement (the same text when unchanged); an error
// (a table that failed) stops the rewrite.
using HeaderAddressRewriter =
    std::function<Result<std::string>(HeaderAddressClass, std::string_view address)>;

struct RewrittenHeader {
  std::string header;        // the new leading header fields (wire format, CRLF line ends)
  size_t original_size = 0;  // how many leading bytes of the message they replace
  size_t changed = 0;        // addresses rewritten; 0 means use the message as it is
};

// Header fields are read from the start of `message` (wire format) up to the empty line, the
// first line that is not a field, or MaxRewrittenHeaderBytes, whichever comes first; what
// follows is never touched. A field whose rewritten lines would exceed RFC 5322's 998 octets
// keeps its original text.
inline constexpr size_t MaxRewrittenHeaderBytes = 1 << 20;
Result<RewrittenHeader> rewriteHeaderAddresses(std::string_view message,
                                               const HeaderAddressRewriter& rewrite);

}  // namespace petrel::delivery
