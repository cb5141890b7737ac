// dmarc::parseRecord and isDmarcRecord (RFC 7489 6.3, 6.4, 6.6.3 step 6).
#include "petrel/dmarc/record.h"

#include <gtest/gtest.h>

namespace petrel::dmarc {
namespace {

TEST(DmarcRecord, MinimalAndFull) {
  auto r = parseRecord("v=DMARC1; p=reject");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->policy, Policy::Reject);
  EXPECT_FALSE(r->subdomain_policy);
  EXPECT_EQ(r->percent, 100);
  EXPECT_EQ(r->dkim_alignment, Alignment::Relaxed);
  EXPECT_EQ(r->spf_alignment, Alignment::Relaxed);
  EXPECT_EQ(r->report_interval, 86400u);

  r = parseRecord(
      "v=DMARC1; p=quarantine; sp=none; pct=25; adkim=s; aspf=s; "
      "rua=mailto:agg@example.com!10m,mailto:b@example.net; ruf=mailto:f@example.com; "
      "fo=1:d; rf=afrf; ri=3600");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->policy, Policy::Quarantine);
  EXPECT_EQ(r->subdomain_policy, Policy::None);
  EXPECT_EQ(r->percent, 25);
  EXPECT_EQ(r->dkim_alignment, Alignment::Strict);
  EXPECT_EQ(r->spf_alignment, Alignment::Strict);
  ASSERT_EQ(r->aggregate.size(), 2u);
  EXPECT_EQ(r->aggregate[0].uri, "mailto:agg@example.com");
  EXPECT_EQ(r->aggregate[0].max_size, 10u << 20);
  EXPECT_EQ(r->aggregate[1].max_size, 0u);
  ASSERT_EQ(r->failure.size(), 1u);
  EXPECT_EQ(r->failure_options, "1:d");
  EXPECT_EQ(r->report_interval, 3600u);
  EXPECT_TRUE(r->warnings.empty());
  EXPECT_EQ(formatRecord(*r),
            "v=DMARC1; p=quarantine; sp=none; pct=25; adkim=s; aspf=s; "
            "rua=mailto:agg@example.com!10485760,mailto:b@example.net; "
            "ruf=mailto:f@example.com; fo=1:d; ri=3600");
}

TEST(DmarcRecord, SubdomainPolicy) {
  auto r = parseRecord("v=DMARC1; p=reject; sp=quarantine");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policyFor(false), Policy::Reject);
  EXPECT_EQ(r->policyFor(true), Policy::Quarantine);
  r = parseRecord("v=DMARC1; p=reject");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policyFor(true), Policy::Reject);  // no sp=: p= applies to subdomains
}

TEST(DmarcRecord, WhitespaceAndCase) {
  for (const char* text : {"v=DMARC1;p=reject", "  v = DMARC1 ;  p = Reject ;",
                           "V=DMARC1; P=REJECT", "v=DMARC1;\tp=reject;;", "v=DMARC1; p=reject; "}) {
    auto r = parseRecord(text);
    ASSERT_TRUE(r) << text << ": " << r.error().message();
    EXPECT_EQ(r->policy, Policy::Reject) << text;
  }
  auto r = parseRecord("v=DMARC1; p=none; ADKIM=S; aspf=R");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dkim_alignment, Alignment::Strict);
  EXPECT_EQ(r->spf_alignment, Alignment::Relaxed);
}

TEST(DmarcRecord, VersionMustComeFirst) {
  EXPECT_TRUE(isDmarcRecord("v=DMARC1; p=none"));
  EXPECT_TRUE(isDmarcRecord("v=DMARC1"));
  EXPECT_FALSE(isDmarcRecord("p=none; v=DMARC1"));
  EXPECT_FALSE(isDmarcRecord("v=dmarc1; p=none"));  // %x44.4d.41.52.43.31: case matters
  EXPECT_FALSE(isDmarcRecord("v=DMARC2; p=none"));
  EXPECT_FALSE(isDmarcRecord("v=spf1 -all"));
  EXPECT_FALSE(isDmarcRecord("v=DMARC1 p=none"));  // no separator: v's value is not DMARC1
  EXPECT_FALSE(isDmarcRecord(""));
  EXPECT_FALSE(parseRecord("p=none; v=DMARC1"));
  EXPECT_FALSE(parseRecord("v=DMARC10; p=none"));
}

TEST(DmarcRecord, MissingOrInvalidPolicy) {
  auto r = parseRecord("v=DMARC1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "no p= tag");
  r = parseRecord("v=DMARC1; p=bogus");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "p=bogus is not none, quarantine or reject");
  EXPECT_FALSE(parseRecord("v=DMARC1; p=reject; sp=maybe"));
  // RFC 7489 6.6.3 step 6: with a usable rua= it acts as p=none.
  r = parseRecord("v=DMARC1; p=bogus; rua=mailto:d@example.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy, Policy::None);
  EXPECT_TRUE(r->policy_defaulted);
  r = parseRecord("v=DMARC1; rua=mailto:d@example.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy, Policy::None);
  r = parseRecord("v=DMARC1; p=reject; sp=x; rua=mailto:d@example.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy, Policy::None);  // the whole record reads as p=none
  EXPECT_FALSE(r->subdomain_policy);
  // A rua= without a usable URI does not save it.
  EXPECT_FALSE(parseRecord("v=DMARC1; p=bogus; rua=not a uri"));
}

TEST(DmarcRecord, PctRange) {
  for (const char* ok : {"0", "1", "50", "100", "007"}) {
    auto r = parseRecord(std::string("v=DMARC1; p=reject; pct=") + ok);
    ASSERT_TRUE(r) << ok;
  }
  EXPECT_EQ(parseRecord("v=DMARC1; p=reject; pct=0")->percent, 0);
  for (const char* bad : {"101", "-1", "", "50%", "1000", "abc", "5 0"}) {
    auto r = parseRecord(std::string("v=DMARC1; p=reject; pct=") + bad);
    EXPECT_FALSE(r) << bad;
  }
}

TEST(DmarcRecord, OtherSyntaxErrors) {
  for (const char* text :
       {"v=DMARC1; p=reject; adkim=x", "v=DMARC1; p=reject; aspf=", "v=DMARC1; p=reject; fo=2",
        "v=DMARC1; p=reject; ri=abc", "v=DMARC1; p=reject; rf=a b", "v=DMARC1; p=reject; junk",
        "v=DMARC1; p=reject; 1x=y", "v=DMARC1; p=reject; =y"}) {
    EXPECT_FALSE(parseRecord(text)) << text;
  }
  EXPECT_FALSE(parseRecord(std::string("v=DMARC1; p=reject; x=") + std::string(5000, 'a')));
}

TEST(DmarcRecord, UnknownTagsAndRepeats) {
  auto r = parseRecord("v=DMARC1; p=reject; np=none; psd=n; t=y; future_tag=1");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->warnings.empty());
  r = parseRecord("v=DMARC1; p=none; p=reject");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy, Policy::None);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0], "p= repeated: the first one counts");
}

TEST(DmarcRecord, ReportUris) {
  auto r = parseRecord(
      "v=DMARC1; p=none; rua=mailto:a@example.com!5k, bad uri ,mailto:b@example.com!x, "
      "https://r.example/x");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->aggregate.size(), 2u);
  EXPECT_EQ(r->aggregate[0].max_size, 5u * 1024);
  EXPECT_EQ(r->aggregate[1].uri, "https://r.example/x");
  EXPECT_EQ(r->warnings.size(), 2u);
  std::string many = "v=DMARC1; p=none; rua=";
  for (int i = 0; i < 20; ++i) many += "mailto:r" + std::to_string(i) + "@example.com,";
  r = parseRecord(many);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->aggregate.size(), MaxReportUris);
}

TEST(DmarcRecord, ErrorsAreEscaped) {
  auto r = parseRecord("v=DMARC1; p=re\r\nject");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  EXPECT_NE(r.error().message().find("\\x0d\\x0a"), std::string::npos);
}

}  // namespace
}  // namespace petrel::dmarc
