// SPF records (RFC 7208 4.5, 4.6, 12): text -> terms, and the macro-string syntax (7.1).
//
// Pure: no DNS, no allocation beyond the parsed record. parseRecord() checks the whole record
// before anything is evaluated, as RFC 7208 4.6 asks ("if there are any syntax errors anywhere
// in the record, check_host() returns immediately with the result permerror"); its error text
// is the permerror reason, naming the offending term. Macro strings are kept unexpanded here
// (macro.h expands them); they are only checked.
//
// What it does not do: DNS lookups, deciding which of a domain's TXT records is the SPF one
// beyond isSpfRecord(), and the SPF RR type (RFC 7208 removed it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/cidr.h"
#include "petrel/core/result.h"

namespace petrel::spf {

// The results of check_host() (RFC 7208 2.6).
enum class Outcome { None, Neutral, Pass, Fail, SoftFail, TempError, PermError };
std::string_view outcomeName(Outcome outcome);  // "pass", "softfail", "temperror", ...

enum class MechanismKind { All, Include, A, Mx, Ptr, Ip4, Ip6, Exists };
std::string_view mechanismName(MechanismKind kind);  // "all", "include", ...

struct Mechanism {
  Outcome qualifier = Outcome::Pass;  // Pass, Fail, SoftFail or Neutral ("+" when absent)
  MechanismKind kind = MechanismKind::All;
  // include, a, mx, ptr, exists: the domain-spec as written (a macro-string, unexpanded);
  // empty for a, mx and ptr without one (the current domain).
  std::string domain_spec;
  IpAddress network;  // ip4, ip6: the address as given (host bits may be set)
  int cidr4 = 32;     // a, mx, ip4: the IPv4 prefix length
  int cidr6 = 128;    // a, mx, ip6: the IPv6 prefix length
  std::string text;   // the term as it was written, for reports
};

struct Modifier {
  std::string name;   // lower case
  std::string value;  // macro-string, unexpanded
};

struct Record {
  std::vector<Mechanism> mechanisms;    // in record order
  std::optional<std::string> redirect;  // domain-spec
  std::optional<std::string> exp;       // domain-spec
  std::vector<Modifier> unknown;        // ignored modifiers, kept for reports (RFC 7208 6)

  // Does any term's macro-string use this macro letter (lower case)?
  bool usesMacro(char letter) const;
};

// Does the macro-string use this macro letter (lower case), as %{x} or %{X}?
bool usesMacro(std::string_view macro_string, char letter);

// Is `txt` an SPF version 1 record: "v=spf1" (any case) followed by a space or the end
// (RFC 7208 4.5)? "v=spf10" and "v=spf1-all" are not.
bool isSpfRecord(std::string_view txt);

// Parses a record for which isSpfRecord() holds. A permanent error says what is wrong, for
// instance "unknown mechanism 'moo'" or "ip4: bad address '1.2.3.444'".
Result<Record> parseRecord(std::string_view txt);

// Checks a macro-string (RFC 7208 7.1). `explanation`: explain-string rules (spaces allowed,
// the c, r and t macros allowed); otherwise a macro-string of a term (no spaces; c, r, t are
// errors, as they are only meaningful in explanations).
Status checkMacroString(std::string_view text, bool explanation);
// Checks a domain-spec: a valid macro-string whose end is a macro or "." toplabel ["."].
Status checkDomainSpec(std::string_view text);

}  // namespace petrel::spf
