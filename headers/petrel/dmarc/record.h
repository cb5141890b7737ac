// DMARC policy records (RFC 7489 6.3, 6.4): the text of a TXT record at _dmarc.<domain> ->
// the policy and its settings.
//
// Pure: no DNS. isDmarcRecord() is the filter of policy discovery (RFC 7489 6.6.3 step 3: a
// record that does not start with "v=DMARC1" is not a DMARC record and is dropped);
// parseRecord() reads a record that passed it. The rules:
//   - tags are "name=value" separated by ";", whitespace around both allowed, a trailing ";"
//     too; tag names and the keyword values (none, quarantine, reject, r, s) are case
//     insensitive (ABNF quoted strings), "DMARC1" is not (RFC 7489 6.4 spells it as %x);
//   - unknown tags are ignored (6.3), so are DMARCbis's np=, psd=, t=;
//   - p= missing or invalid, or sp= invalid: with at least one valid rua= URI the record acts
//     as "v=DMARC1; p=none" plus its rua= (6.6.3 step 6), otherwise it is an error;
//   - any other syntax error (bad tag name, pct outside 0-100, adkim=x, ...) is an error: the
//     record is unusable and the evaluation's result is permerror (RFC 7489 11.2: "a
//     syntactically incorrect DMARC record"), as opendmarc and mox do; an unusable rua=/ruf=
//     URI is only dropped (with a warning), since it says nothing about the policy;
//   - a repeated tag: the first one counts, a warning names the others.
// Bounded: records over MaxRecordLength octets are errors; at most MaxReportUris URIs per tag
// are kept.
//
// What it does not do: DNS, third-party report authorisation (RFC 7489 7.1), sending reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::dmarc {

enum class Policy { None, Quarantine, Reject };
std::string_view policyName(Policy p);  // "none", "quarantine", "reject"

enum class Alignment { Relaxed, Strict };

inline constexpr size_t MaxRecordLength = 4096;
inline constexpr size_t MaxReportUris = 8;

// One rua=/ruf= entry: "mailto:dmarc@example.com!10m" -> uri "mailto:dmarc@example.com",
// max_size 10485760 (RFC 7489 6.2: k/m/g/t are powers of two; 0 means no limit).
struct ReportUri {
  std::string uri;
  uint64_t max_size = 0;
};

struct Record {
  Policy policy = Policy::None;                   // p=
  std::optional<Policy> subdomain_policy;         // sp=; absent: p= applies to subdomains too
  int percent = 100;                              // pct= (0-100)
  Alignment dkim_alignment = Alignment::Relaxed;  // adkim=
  Alignment spf_alignment = Alignment::Relaxed;   // aspf=
  std::vector<ReportUri> aggregate;               // rua=
  std::vector<ReportUri> failure;                 // ruf=
  std::string failure_options = "0";              // fo=, as written (lower case), e.g. "1:d"
  std::string report_format = "afrf";             // rf=
  uint32_t report_interval = 86400;               // ri= seconds
  // p= was missing or invalid (or sp= invalid) and the record acts as p=none because it
  // names a report address (RFC 7489 6.6.3 step 6).
  bool policy_defaulted = false;
  std::vector<std::string> warnings;  // what was ignored, for reports and `petrel dmarc check`

  // The policy for the From domain: sp= when it is a subdomain of the domain whose record
  // this is (found at the organizational domain) and sp= is set, else p=.
  Policy policyFor(bool subdomain) const {
    return subdomain && subdomain_policy ? *subdomain_policy : policy;
  }
};

// True when `text` starts with the version tag: "v" *WSP "=" *WSP "DMARC1", then the end or
// *WSP ";".
bool isDmarcRecord(std::string_view text);

// Parses a record that isDmarcRecord() accepted (anything else is an error too). The error is
// permanent; its text names the offending tag, with control characters escaped.
Result<Record> parseRecord(std::string_view text);

// Back to text, canonical ("v=DMARC1; p=reject; sp=none; pct=50; ..."), for reports and tests.
std::string formatRecord(const Record& r);

}  // namespace petrel::dmarc
