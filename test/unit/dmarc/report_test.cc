// dmarc::reportRecord, composeAggregateReport (RFC 7489 appendix C element names, grouping,
// escaping) and the SQLite ReportStore (in memory).
#include "petrel/dmarc/report.h"

#include <gtest/gtest.h>

#include "petrel/dmarc/report_store.h"

namespace petrel::dmarc {
namespace {

PublicSuffixListPtr testList() {
  static auto psl = std::make_shared<const PublicSuffixList>(
      PublicSuffixList::parse("com\norg\nnet\n", "test").value());
  return psl;
}

TxtAnswer found(std::string txt) { return {TxtAnswer::Status::Found, {std::move(txt)}, ""}; }

Evaluation failing(std::string record = "v=DMARC1; p=reject; rua=mailto:agg@example.com") {
  AuthInputs a;
  a.spf = SpfInput{"pass", "bounce.example.net"};
  a.dkim = {{"example.com", "fail"}};
  return evaluateDomain("example.com", a, found(std::move(record)), std::nullopt, *testList(),
                        [] { return 0; });
}

AuthInputs inputs() {
  AuthInputs a;
  a.spf = SpfInput{"pass", "bounce.example.net"};
  a.dkim = {{"example.com", "fail"}};
  return a;
}

TEST(DmarcReport, RecordOfAnEvaluation) {
  Evaluation e = failing();
  auto r = reportRecord(e, {Action::Reject, Disposition::Reject}, inputs(), false, "192.0.2.7",
                        "example.org", 1700000000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy_domain, "example.com");
  EXPECT_EQ(r->rua, "mailto:agg@example.com");
  EXPECT_EQ(r->published, "v=DMARC1; p=reject; rua=mailto:agg@example.com");
  EXPECT_EQ(r->disposition, Disposition::Reject);
  EXPECT_FALSE(r->dkim_aligned);
  EXPECT_FALSE(r->spf_aligned);
  EXPECT_TRUE(r->reasons.empty());
  // on_reject: none delivered it: the reason is local policy.
  r = reportRecord(e, {Action::Accept, Disposition::None}, inputs(), false, "192.0.2.7", "", 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reasons, std::vector<std::string>{"local_policy"});
  // No rua=: nothing to report.
  EXPECT_FALSE(reportRecord(failing("v=DMARC1; p=reject"), {}, inputs(), false, "", "", 1));
}

TEST(DmarcReport, ComposeWithTheSchemaElements) {
  Evaluation e = failing();
  std::vector<ReportRecord> rows;
  for (int i = 0; i < 3; ++i) {
    rows.push_back(*reportRecord(e, {Action::Reject, Disposition::Reject}, inputs(), false,
                                 "192.0.2.7", "example.org", 1700000000 + i));
  }
  rows.push_back(*reportRecord(e, {Action::Reject, Disposition::Reject}, inputs(), true,
                               "198.51.100.1", "", 1700000100));
  ReportMeta meta{
      "Example & Co", "postmaster@mx.example.org", "", "example.com.1700000000", 1700000000,
      1700086400};
  std::string xml = composeAggregateReport(meta, "example.com", *e.record, rows);
  EXPECT_EQ(xml,
            R"(<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <version>1.0</version>
  <report_metadata>
    <org_name>Example &amp; Co</org_name>
    <email>postmaster@mx.example.org</email>
    <report_id>example.com.1700000000</report_id>
    <date_range>
      <begin>1700000000</begin>
      <end>1700086400</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>example.com</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>reject</p>
    <sp>reject</sp>
    <pct>100</pct>
    <fo>0</fo>
  </policy_published>
  <record>
    <row>
      <source_ip>192.0.2.7</source_ip>
      <count>3</count>
      <policy_evaluated>
        <disposition>reject</disposition>
        <dkim>fail</dkim>
        <spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_to>example.org</envelope_to>
      <envelope_from>bounce.example.net</envelope_from>
      <header_from>example.com</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.com</domain>
        <result>fail</result>
      </dkim>
      <spf>
        <domain>bounce.example.net</domain>
        <scope>mfrom</scope>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>198.51.100.1</source_ip>
      <count>1</count>
      <policy_evaluated>
        <disposition>reject</disposition>
        <dkim>fail</dkim>
        <spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_from>bounce.example.net</envelope_from>
      <header_from>example.com</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.com</domain>
        <result>fail</result>
      </dkim>
      <spf>
        <domain>bounce.example.net</domain>
        <scope>helo</scope>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
</feedback>
)");
  EXPECT_EQ(reportFileName("mx.example.org", "example.com", 1700000000, 1700086400),
            "mx.example.org!example.com!1700000000!1700086400.xml");
}

TEST(DmarcReport, ReasonsAndEscaping) {
  Evaluation e = failing("v=DMARC1; p=reject; pct=50; sp=none; rua=mailto:a@example.com");
  e.sampled_out = true;  // as pct=50 with a sample of 50 or more gives
  e.requested = Disposition::Quarantine;
  auto r = reportRecord(e, {Action::Header, Disposition::Quarantine}, inputs(), false, "192.0.2.7",
                        "", 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reasons, std::vector<std::string>{"sampled_out"});
  r->dkim.push_back({"evil<x>\x01.example", "weird"});
  std::string xml = composeAggregateReport({}, "example.com", *e.record, {*r});
  EXPECT_NE(xml.find("<reason>\n          <type>sampled_out</type>\n        </reason>"),
            std::string::npos);
  EXPECT_NE(xml.find("<domain>evil&lt;x&gt;.example</domain>"), std::string::npos);
  EXPECT_NE(xml.find("<result>permerror</result>"), std::string::npos);  // not a schema word
  EXPECT_NE(xml.find("<sp>none</sp>"), std::string::npos);
  EXPECT_NE(xml.find("<pct>50</pct>"), std::string::npos);
}

TEST(DmarcReportStore, AddAndReadBack) {
  auto store = ReportStore::open(":memory:");
  ASSERT_TRUE(store) << store.error().message();
  Evaluation e = failing();
  auto a = *reportRecord(e, {Action::Reject, Disposition::Reject}, inputs(), true, "192.0.2.7",
                         "example.org", 1000);
  auto b = a;
  b.policy_domain = "example.org";
  b.time = 2000;
  b.spf.reset();
  b.reasons = {"sampled_out", "local_policy"};
  ASSERT_TRUE((*store)->add(a));
  ASSERT_TRUE((*store)->add(b));
  auto domains = (*store)->policyDomains(0, 3000);
  ASSERT_TRUE(domains);
  EXPECT_EQ(*domains, (std::vector<std::string>{"example.com", "example.org"}));
  auto rows = (*store)->records("example.com", 0, 1500);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  const ReportRecord& r = rows->front();
  EXPECT_EQ(r.time, 1000);
  EXPECT_EQ(r.source_ip, "192.0.2.7");
  EXPECT_EQ(r.header_from, "example.com");
  EXPECT_EQ(r.envelope_to, "example.org");
  EXPECT_EQ(r.disposition, Disposition::Reject);
  EXPECT_TRUE(r.spf_helo);
  ASSERT_TRUE(r.spf);
  EXPECT_EQ(r.spf->result, "pass");
  EXPECT_EQ(r.spf->domain, "bounce.example.net");
  ASSERT_EQ(r.dkim.size(), 1u);
  EXPECT_EQ(r.dkim[0].domain, "example.com");
  EXPECT_EQ(r.dkim[0].result, "fail");
  rows = (*store)->records("example.org", 0, 3000);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_FALSE(rows->front().spf);
  EXPECT_EQ(rows->front().reasons, (std::vector<std::string>{"sampled_out", "local_policy"}));
  EXPECT_TRUE((*store)->records("example.com", 1500, 3000)->empty());
  auto purged = (*store)->purge(1500);
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1u);
  EXPECT_EQ(*(*store)->policyDomains(0, 3000), std::vector<std::string>{"example.org"});
}

TEST(DmarcReportStore, OpenErrorNamesTheFile) {
  auto store = ReportStore::open("/nonexistent/dir/dmarc.db");
  ASSERT_FALSE(store);
  EXPECT_TRUE(store.error().temporary());
  EXPECT_NE(store.error().message().find("dmarc report database /nonexistent/dir/dmarc.db"),
            std::string::npos);
}

}  // namespace
}  // namespace petrel::dmarc
