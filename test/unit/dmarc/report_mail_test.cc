// Tests for the aggregate report mail (dmarc/report_mail.h): which rua= URIs become
// destinations (mailto: only, plain addresses, no duplicates, external ones marked), the
// RFC 7489 7.1 authorisation name and answer, and the message: headers that values from a
// record cannot break, and the attachment that decodes to the report.
#include "petrel/dmarc/report_mail.h"

#include <gtest/gtest.h>

#include "petrel/core/base64.h"

namespace petrel::dmarc {
namespace {

PublicSuffixList psl() { return PublicSuffixList::parse("com\norg\nuk\nco.uk\n", "test").value(); }

TEST(ReportMailTest, DestinationsAreThePlainMailtoAddresses) {
  std::vector<ReportUri> rua{{"mailto:dmarc@example.com", 0},
                             {"MAILTO:Agg%2BReports@Mail.Example.com?subject=x", 10485760},
                             {"mailto:dmarc@example.com", 0},     // again
                             {"https://example.com/report", 0},  // not mail
                             {"mailto:bad address@example.com", 0},
                             {"mailto:x@vendor.co.uk", 0},
                             {"mailto:nodomain", 0},
                             {"mailto:at%40in@example.com", 0}};  // "@" in the local part
  auto d = reportDestinations(rua, "sub.example.com", psl());
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].address, "dmarc@example.com");
  EXPECT_FALSE(d[0].external);  // the same organizational domain as sub.example.com
  EXPECT_EQ(d[1].address, "Agg+Reports@mail.example.com");
  EXPECT_EQ(d[1].max_size, 10485760u);
  EXPECT_EQ(d[2].address, "x@vendor.co.uk");
  EXPECT_TRUE(d[2].external);
}

TEST(ReportMailTest, ExternalDestinationsNeedAVersionRecord) {
  EXPECT_EQ(externalAuthorizationName("Example.COM", "vendor.co.uk"),
            "example.com._report._dmarc.vendor.co.uk");
  TxtAnswer yes{TxtAnswer::Status::Found, {"other", "v=DMARC1; rua=mailto:x@vendor.co.uk"}, ""};
  TxtAnswer no{TxtAnswer::Status::Found, {"v=spf1 -all"}, ""};
  TxtAnswer none{TxtAnswer::Status::NoRecord, {}, ""};
  TxtAnswer fail{TxtAnswer::Status::TempFail, {}, "timeout"};
  EXPECT_TRUE(authorizesReports(yes));
  EXPECT_FALSE(authorizesReports(no));
  EXPECT_FALSE(authorizesReports(none));
  EXPECT_FALSE(authorizesReports(fail));
}

TEST(ReportMailTest, TheMessageCarriesTheReportAsAnAttachment) {
  ReportMailInput in;
  in.from = "postmaster@mx.example.org";
  in.org_name = "Example\r\nBcc: victim@example.net";  // a value must not add a field
  in.receiver = "mx.example.org";
  in.policy_domain = "example.com";
  in.report_id = "1796601600.example.com.mx.example.org";
  in.begin = 1796515200;
  in.end = 1796601600;
  in.date = "Mon, 07 Dec 2026 00:00:00 +0000";
  in.xml = std::string("<?xml version=\"1.0\"?>\n<feedback>") + std::string(200, 'x') +
           "</feedback>\n";
  std::string m = composeReportMail(in, "dmarc@example.com");
  size_t end_of_header = m.find("\r\n\r\n");
  ASSERT_NE(end_of_header, std::string::npos);
  std::string header = m.substr(0, end_of_header + 2);
  EXPECT_EQ(header.find("\r\nBcc:"), std::string::npos) << header;
  EXPECT_NE(header.find("Subject: Report Domain: example.com Submitter: Example  Bcc: "),
            std::string::npos)
      << header;
  EXPECT_NE(header.find("To: <dmarc@example.com>\r\n"), std::string::npos);
  EXPECT_NE(m.find("filename=\"mx.example.org!example.com!1796515200!1796601600.xml\""),
            std::string::npos);
  // The base64 lines between the attachment's header and the closing boundary decode to the XML.
  size_t start = m.find("Content-Transfer-Encoding: base64\r\n\r\n");
  ASSERT_NE(start, std::string::npos);
  start += std::string_view("Content-Transfer-Encoding: base64\r\n\r\n").size();
  size_t stop = m.find("\r\n\r\n--", start);
  ASSERT_NE(stop, std::string::npos);
  auto decoded = base64Decode(m.substr(start, stop - start), true);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, in.xml);
  EXPECT_TRUE(m.ends_with("--\r\n"));
}

}  // namespace
}  // namespace petrel::dmarc
