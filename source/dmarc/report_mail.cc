// Aggregate report mail and destinations; see headers/petrel/dmarc/report_mail.h.
#include "petrel/dmarc/report_mail.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "petrel/core/base64.h"
#include "petrel/core/strings.h"
#include "petrel/dmarc/report.h"

namespace petrel::dmarc {

namespace {

// RFC 6068 percent-decoding; nullopt for a broken escape.
std::optional<std::string> percentDecoded(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      return std::nullopt;
    }
    out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return out;
}

bool plainDomain(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
  return std::all_of(d.begin(), d.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

bool plainLocalPart(std::string_view l) {
  if (l.empty() || l.size() > 64) return false;
  return std::all_of(l.begin(), l.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && std::string_view("<>\"(),;:@[]\\").find(c) == std::string_view::npos;
  });
}

// The address of "mailto:local@domain[?...]", lower-cased domain; nullopt otherwise.
std::optional<std::string> mailtoAddress(std::string_view uri) {
  if (uri.size() < 7 || !iequals(uri.substr(0, 7), "mailto:")) return std::nullopt;
  std::string_view rest = uri.substr(7);
  rest = rest.substr(0, rest.find('?'));
  auto decoded = percentDecoded(rest);
  if (!decoded) return std::nullopt;
  size_t at = decoded->rfind('@');
  if (at == std::string::npos) return std::nullopt;
  std::string local = decoded->substr(0, at);
  std::string domain = toLower(decoded->substr(at + 1));
  if (!plainLocalPart(local) || !plainDomain(domain)) return std::nullopt;
  return local + "@" + domain;
}

// Header text from a config value or a domain: control characters out, bounded.
std::string headerText(std::string_view s, size_t max = 200) {
  std::string out;
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? ' ' : c;
  }
  return out;
}

}  // namespace

std::vector<ReportDestination> reportDestinations(const std::vector<ReportUri>& rua,
                                                  std::string_view policy_domain,
                                                  const PublicSuffixList& psl) {
  std::vector<ReportDestination> out;
  std::string policy_org = psl.organizationalDomain(toLower(policy_domain));
  for (const ReportUri& u : rua) {
    if (out.size() == MaxReportUris) break;
    auto address = mailtoAddress(u.uri);
    if (!address) continue;
    if (std::any_of(out.begin(), out.end(),
                    [&](const ReportDestination& d) { return d.address == *address; })) {
      continue;
    }
    std::string domain = address->substr(address->rfind('@') + 1);
    out.push_back({*address, u.max_size, psl.organizationalDomain(domain) != policy_org});
  }
  return out;
}

std::string externalAuthorizationName(std::string_view policy_domain,
                                      std::string_view destination_domain) {
  return fmt::format("{}._report._dmarc.{}", toLower(policy_domain), toLower(destination_domain));
}

bool authorizesReports(const TxtAnswer& answer) {
  if (answer.status != TxtAnswer::Status::Found) return false;
  return std::any_of(answer.txt.begin(), answer.txt.end(),
                     [](const std::string& t) { return isDmarcRecord(t); });
}

std::string composeReportMail(const ReportMailInput& in, std::string_view to) {
  std::string file = reportFileName(in.receiver, in.policy_domain, in.begin, in.end);
  std::string boundary = fmt::format("=_petrel_dmarc_{}_{}", in.end, in.report_id.size());
  std::string m;
  m += fmt::format("From: {}\r\n", headerText(in.from));
  m += fmt::format("To: <{}>\r\n", headerText(to));
  m += fmt::format("Date: {}\r\n", headerText(in.date));
  m += fmt::format("Subject: Report Domain: {} Submitter: {}\r\n\tReport-ID: <{}>\r\n",
                   headerText(in.policy_domain), headerText(in.org_name),
                   headerText(in.report_id));
  m += fmt::format("Message-ID: <dmarc.{}@{}>\r\n", headerText(in.report_id),
                   headerText(in.receiver));
  m += "MIME-Version: 1.0\r\n";
  m += fmt::format("Content-Type: multipart/mixed; boundary=\"{}\"\r\n", boundary);
  m += "\r\n";
  m += "This is a DMARC aggregate report (RFC 7489) in MIME format.\r\n\r\n";
  m += fmt::format("--{}\r\n", boundary);
  m += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
  m += fmt::format("DMARC aggregate report for {} from {},\r\nattached as {}.\r\n\r\n",
                   headerText(in.policy_domain), headerText(in.org_name), headerText(file));
  m += fmt::format("--{}\r\n", boundary);
  m += fmt::format("Content-Type: text/xml;\r\n\tname=\"{}\"\r\n", headerText(file));
  m += fmt::format("Content-Disposition: attachment;\r\n\tfilename=\"{}\"\r\n",
                   headerText(file));
  m += "Content-Transfer-Encoding: base64\r\n\r\n";
  std::string b64 = base64Encode(in.xml);
  for (size_t i = 0; i < b64.size(); i += 76) m += b64.substr(i, 76) + "\r\n";
  m += fmt::format("\r\n--{}--\r\n", boundary);
  return m;
}

}  // namespace petrel::dmarc
