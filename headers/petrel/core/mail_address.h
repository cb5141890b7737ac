// MailAddress: an address split into its local part and domain, with the keys that lookups
// derive from it (the address without its extension, the parent domains). Pure: no lookups,
// no syntax checks beyond finding the '@' (smtp::parseMailFrom/parseRcptTo validate paths).
//
// Edge cases, as every caller handled them by hand before:
// - The split is at the last '@': a quoted local part may hold one ("a@b"@example.org has the
//   local part "a@b" with its quotes and the domain example.org). Text without a domain whose
//   quoted local part holds an '@' is split there too; such text never passes the SMTP parser.
// - No '@' (RFC 5321 "postmaster", a bare local user): the whole text is the local part, the
//   domain is empty and hasDomain() is false. "user@" has a domain, an empty one.
// - Case: domains compare lower-case (lowerDomain(), key()); local parts keep their case
//   (RFC 5321 2.4), except in lookup keys, which are lower-case as Postfix's tables.
// - A trailing dot is kept as written: "example.org." is not "example.org".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace petrel {

class MailAddress {
 public:
  // Any text; see above for text without an '@'.
  explicit MailAddress(std::string_view text);
  // A full address: an '@' with something on both sides, nullopt otherwise.
  static std::optional<MailAddress> parse(std::string_view text);

  const std::string& text() const { return text_; }
  // Before the last '@', or the whole text without one.
  std::string_view local() const;
  // After the last '@', as written; empty without one.
  std::string_view domain() const;
  bool hasDomain() const { return at_ != std::string::npos; }
  std::string lowerDomain() const;
  // The lookup key: the whole address lower-cased ("Alice@Example.ORG" -> "alice@example.org").
  std::string key() const;

  // The local part before the first of `delimiters` (the recipient delimiter characters,
  // Postfix's recipient_delimiter): "alice+tag" -> "alice". Unchanged when there is no
  // delimiter, when `delimiters` is empty, or when the local part starts with one ("+tag" has
  // no base to fall back to).
  std::string_view localWithoutExtension(std::string_view delimiters) const;
  // After that delimiter ("tag"); empty when there is no extension.
  std::string_view extension(std::string_view delimiters) const;
  // The address with its local part cut so: "alice+tag@example.org" -> "alice@example.org".
  std::string withoutExtension(std::string_view delimiters) const;

  // The parent domains as access(5) keys with parent_domain_matches_subdomains off, nearest
  // first and lower-case: "mx.Example.ORG" -> ".example.org", ".org". Empty for a domain
  // without a dot and for an address without a domain.
  std::vector<std::string> parentDomains() const;

 private:
  size_t extensionStart(std::string_view delimiters) const;

  std::string text_;
  size_t at_;  // position of the last '@', npos without one
};

}  // namespace petrel
