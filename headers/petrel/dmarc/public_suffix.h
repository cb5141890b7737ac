// The Public Suffix List (https://publicsuffix.org/list/, the file of Debian's `publicsuffix`
// package) and the organizational domain of RFC 7489 3.2 that DMARC's relaxed alignment and
// policy discovery use.
//
// The list's rules as the project's format page defines them: one rule per line, "//"
// comments, "*" labels (wildcards) and "!" exceptions, the ICANN and the PRIVATE section
// (both are used, as opendmarc and authheaders do; a line "// ===BEGIN PRIVATE DOMAINS==="
// starts the second), the implicit "*" rule for unlisted TLDs. Rules and names with
// non-ASCII labels are compared in their A-label (punycode, RFC 3492) form, so "食狮.公司.cn"
// and "xn--85x722f.xn--55qx5d.cn" find the same rule; the answer keeps the labels as given.
// No IDNA mapping beyond ASCII lower case.
//
// An object the caller owns: read once at start (load(), a blocking file read) and made
// again on reload; share it as std::shared_ptr<const PublicSuffixList> and swap the pointer.
// Lookups are const and thread-safe. Bounded: at most MaxFileBytes and MaxRules; a longer
// file is an error naming it.
//
// What it does not do: download or update the list, DMARCbis's DNS tree walk.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "petrel/core/result.h"

namespace petrel::dmarc {

inline constexpr std::string_view DefaultPublicSuffixList =
    "/usr/share/publicsuffix/public_suffix_list.dat";

class PublicSuffixList {
 public:
  static constexpr size_t MaxFileBytes = 8u << 20;
  static constexpr size_t MaxRules = 100000;
  static constexpr size_t MaxRuleLength = 253;

  // Reads the file; a missing, unreadable or oversized file, or one without any rule, is a
  // Config error "public suffix list FILE: why". Lines that are not rules are skipped (their
  // count is in skippedLines()).
  static Result<PublicSuffixList> load(const std::string& path);
  // The same from text already read; `name` is what errors call it.
  static Result<PublicSuffixList> parse(std::string_view text, std::string_view name = "(text)");

  // The rule a line holds, in the form lookups compare: lower case, A-labels, without the
  // "!"; nullopt for a comment, a blank line or a line that is not a rule. `exception` and
  // `wildcard` say which kind ("*.ck": wildcard, rule "ck"; "!www.ck": exception).
  struct Rule {
    std::string name;
    bool exception = false;
    bool wildcard = false;
  };
  static std::optional<Rule> parseRule(std::string_view line);

  // The public suffix of `domain` (lower case, labels as given); nullopt when the domain is
  // malformed (empty label, leading dot, over 253 octets).
  std::optional<std::string> publicSuffix(std::string_view domain) const;
  // The registrable domain: the public suffix plus one label; nullopt when the domain is
  // itself a public suffix or malformed (the checkPublicSuffix() tests' semantics).
  std::optional<std::string> registrableDomain(std::string_view domain) const;
  // RFC 7489 3.2: the registrable domain; a domain that is a public suffix is its own
  // organizational domain (so "com" aligns only with "com"). Lower case, no trailing dot;
  // malformed input comes back lower-cased as it is.
  std::string organizationalDomain(std::string_view domain) const;

  size_t ruleCount() const { return rules_.size() + wildcards_.size() + exceptions_.size(); }
  size_t skippedLines() const { return skipped_; }
  const std::string& source() const { return source_; }

 private:
  // Number of trailing labels of the public suffix, 0 for a malformed name.
  size_t suffixLabels(const std::string& ascii, size_t labels) const;

  std::unordered_set<std::string> rules_;
  std::unordered_set<std::string> wildcards_;   // "ck" for "*.ck"
  std::unordered_set<std::string> exceptions_;  // "www.ck" for "!www.ck"
  size_t skipped_ = 0;
  std::string source_;
};

using PublicSuffixListPtr = std::shared_ptr<const PublicSuffixList>;

// RFC 3492 punycode of one label with non-ASCII characters ("食狮" -> "xn--85x722f"); ASCII
// labels come back lower-cased. nullopt for invalid UTF-8 or a result over 63 octets.
std::optional<std::string> toALabel(std::string_view label);

}  // namespace petrel::dmarc
