// DMARC aggregate reports (RFC 7489 7.2, appendix C): what is kept of each evaluated message
// (ReportRecord), and the XML report for one policy domain and period.
//
// Pure: no I/O. reportRecord() takes an evaluation and what the server knows of the message;
// composeAggregateReport() groups identical rows (same source IP, disposition, alignment,
// identifiers and authentication results) into one <record> with a <count>, in the order first
// seen, and writes the elements of RFC 7489 appendix C: <feedback> with <version>,
// <report_metadata> (org_name, email, extra_contact_info, report_id, date_range),
// <policy_published> (domain, adkim, aspf, p, sp, pct, fo), then per <record> the <row>
// (source_ip, count, policy_evaluated: disposition, dkim, spf, reason), <identifiers>
// (envelope_to, envelope_from, header_from) and <auth_results> (dkim: domain, result; spf:
// domain, scope, result). Text is XML-escaped, control characters dropped (XML 1.0 cannot
// carry them), every value bounded.
//
// What it does not do: store the records (report_store.h), compress, or send the report
// (RFC 7489 7.2.1.1's mail is the server's; reportFileName() gives its attachment name).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/dmarc/evaluate.h"

namespace petrel::dmarc {

struct ReportRecord {
  int64_t time = 0;  // Unix seconds
  std::string source_ip;
  std::string header_from;
  std::string envelope_from;  // the domain SPF checked (MAIL FROM's, or the HELO name)
  std::string envelope_to;    // a recipient domain; optional
  std::string policy_domain;  // where the record was found: the report goes to its rua=
  std::string published;      // formatRecord() of that record
  std::string rua;            // its rua= URIs, comma-separated
  Disposition disposition = Disposition::None;  // applied (Verdict::applied)
  bool dkim_aligned = false;                    // policy_evaluated/dkim pass
  bool spf_aligned = false;                     // policy_evaluated/spf pass
  std::vector<std::string> reasons;  // PolicyOverrideType words: sampled_out, local_policy
  std::optional<SpfInput> spf;
  bool spf_helo = false;  // the SPF identity was the HELO name (scope helo, else mfrom)
  std::vector<DkimInput> dkim;
};

// What a report keeps of an evaluation; nullopt when there is nothing to report (no record,
// or a record without rua=, or a result other than pass and fail).
std::optional<ReportRecord> reportRecord(const Evaluation& e, const Verdict& verdict,
                                         const AuthInputs& auth, bool spf_helo,
                                         std::string source_ip, std::string envelope_to,
                                         int64_t time);

struct ReportMeta {
  std::string org_name;
  std::string email;
  std::string extra_contact_info;  // optional
  std::string report_id;
  int64_t begin = 0;
  int64_t end = 0;
};

// The XML report of `rows` (all for `policy_domain`), with `published` as policy_published.
std::string composeAggregateReport(const ReportMeta& meta, std::string_view policy_domain,
                                   const Record& published, const std::vector<ReportRecord>& rows);

// RFC 7489 7.2.1.1: receiver "!" policy-domain "!" begin "!" end ".xml" (".xml.gz" when the
// sender compresses it).
std::string reportFileName(std::string_view receiver, std::string_view policy_domain, int64_t begin,
                           int64_t end);

}  // namespace petrel::dmarc
