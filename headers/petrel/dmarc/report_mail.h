// The mail that carries an aggregate report (RFC 7489 7.2.1.1) and where it may go (7.1).
//
// Pure: the server's report job (server/dmarc_report_job.h) reads the rows, composes the XML
// (report.h), asks these functions for the destinations and the message text, checks the
// external destinations in the DNS, and queues the mail.
//
// Destinations: the mailto: URIs of the published rua= (other schemes are not sent). One whose
// domain has another organizational domain than the policy domain is external and gets a report
// only when "<policy-domain>._report._dmarc.<its domain>" has a TXT record starting v=DMARC1
// (7.1). A report over the URI's size limit ("!10m") is not sent to it (7.2.1.1 lets the
// receiver skip it; opendmarc does the same).
//
// The message: multipart/mixed, a short text part and the XML report as an attachment
// (text/xml, base64, the 7.2.1.1 file name), uncompressed: 7.2.1.1 says SHOULD gzip; Petrel
// has no compression library, and every report reader takes plain XML. The Subject is 7.2.1.1's
// "Report Domain: <domain> Submitter: <org> Report-ID: <id>". Everything that goes into a
// header is checked or cleaned, so no value from a record can add a field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/dmarc/evaluate.h"
#include "petrel/dmarc/record.h"

namespace petrel::dmarc {

struct ReportDestination {
  std::string address;    // local@domain, from the mailto: URI
  uint64_t max_size = 0;  // octets; 0: no limit
  bool external = false;  // needs the 7.1 authorisation record
};

// The mailto: destinations of `rua`, at most MaxReportUris, without duplicates; URIs that are
// not mailto:, or whose address is not a plain local@domain, are left out.
std::vector<ReportDestination> reportDestinations(const std::vector<ReportUri>& rua,
                                                  std::string_view policy_domain,
                                                  const PublicSuffixList& psl);

// The TXT name that authorises reports about `policy_domain` to go to `destination_domain`.
std::string externalAuthorizationName(std::string_view policy_domain,
                                      std::string_view destination_domain);
// Whether that name's answer authorises it: some TXT record starts with v=DMARC1.
bool authorizesReports(const TxtAnswer& answer);

struct ReportMailInput {
  std::string from;           // dmarc.reports.email
  std::string org_name;       // dmarc.reports.org_name
  std::string receiver;       // our hostname: the file name's receiver, the Message-ID's host
  std::string policy_domain;  // the report's domain
  std::string report_id;
  int64_t begin = 0;
  int64_t end = 0;
  std::string date;  // RFC 5322 date of the message
  std::string xml;   // composeAggregateReport()
};

// The whole message to `to`, CRLF line ends; header lines stay short (a long domain name
// aside), the attachment in base64 lines of 76.
std::string composeReportMail(const ReportMailInput& in, std::string_view to);

}  // namespace petrel::dmarc
