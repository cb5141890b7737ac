// The decisions of petrel doctor (doctor/checks.h), from given answers.
#include "petrel/doctor/checks.h"

#include <gtest/gtest.h>

#include "petrel/core/base64.h"
#include "petrel/dkim/signer.h"
#include "petrel/tls/crypto.h"

namespace petrel::doctor {
namespace {

using S = dns::Answer::Status;

dns::Answer status(S s) {
  dns::Answer a;
  a.status = s;
  if (s == S::TempFail) a.error = "timeout";
  return a;
}
dns::Answer addresses(std::vector<std::string> v) {
  dns::Answer a = status(S::Found);
  a.addresses = std::move(v);
  return a;
}
dns::Answer txt(std::vector<std::string> v) {
  dns::Answer a = status(S::Found);
  a.txt = std::move(v);
  return a;
}
dns::Answer mx(std::vector<dns::MxRecord> v) {
  dns::Answer a = status(S::Found);
  a.mx = std::move(v);
  return a;
}
dns::Answer ptr(std::vector<std::string> v) {
  dns::Answer a = status(S::Found);
  a.ptr = std::move(v);
  return a;
}

const std::vector<std::string> Ours = {"192.0.2.25"};

TEST(DoctorExitTest, WorstVerdictDecides) {
  std::vector<Finding> f = {{"mx", "a", Verdict::Pass, "ok", ""}};
  EXPECT_EQ(exitStatus(f), 0);
  f.push_back({"spf", "a", Verdict::Warn, "w", "x"});
  EXPECT_EQ(exitStatus(f), 1);
  f.push_back({"dmarc", "a", Verdict::Fail, "f", "y"});
  EXPECT_EQ(exitStatus(f), 2);
  EXPECT_EQ(exitStatus({}), 0);
}

TEST(DoctorReportTest, TextAndJson) {
  std::vector<Finding> f = {{"mx", "example.org", Verdict::Pass, "MX 10 mail is this host", ""},
                            {"dmarc", "_dmarc.example.org", Verdict::Fail, "no\x01 record",
                             "publish \"x\""}};
  EXPECT_EQ(reportText(f),
            "pass mx example.org: MX 10 mail is this host\n"
            "fail dmarc _dmarc.example.org: no\\x01 record -- fix: publish \"x\"\n"
            "doctor: 1 pass, 0 warn, 1 fail\n");
  EXPECT_EQ(reportJson(f),
            "{\"status\":\"fail\",\"exit\":2,\"findings\":[{\"check\":\"mx\",\"subject\":"
            "\"example.org\",\"verdict\":\"pass\",\"what\":\"MX 10 mail is this host\",\"fix\":"
            "\"\"},{\"check\":\"dmarc\",\"subject\":\"_dmarc.example.org\",\"verdict\":\"fail\","
            "\"what\":\"no\\u0001 record\",\"fix\":\"publish \\\"x\\\"\"}]}\n");
}

TEST(DoctorMxTest, ExchangeIsTheHostName) {
  auto f = checkMx("example.org", "mail.example.org", Ours, mx({{10, "mail.example.org"}}), {});
  EXPECT_EQ(f.verdict, Verdict::Pass) << f.what;
}

TEST(DoctorMxTest, ExchangeWithOurAddressCounts) {
  auto f = checkMx("example.org", "mail.example.org", Ours,
                   mx({{10, "mx.example.org"}, {20, "backup.example.net"}}),
                   {{"mx.example.org", {"192.0.2.25"}}, {"backup.example.net", {"198.51.100.1"}}});
  EXPECT_EQ(f.verdict, Verdict::Pass);
  EXPECT_EQ(f.what, "MX 10 mx.example.org is this host; also 20 backup.example.net");
}

TEST(DoctorMxTest, WrongMxFailsWithTheRecordToPublish) {
  auto f = checkMx("example.org", "mail.example.org", Ours, mx({{10, "mx.other.example"}}),
                   {{"mx.other.example", {"198.51.100.7"}}});
  EXPECT_EQ(f.verdict, Verdict::Fail);
  EXPECT_EQ(f.fix, "publish \"example.org. IN MX 10 mail.example.org.\"");
}

TEST(DoctorMxTest, MissingNullAndTempfail) {
  EXPECT_EQ(checkMx("d.example", "h.example", Ours, status(S::NoData), {}).verdict, Verdict::Fail);
  EXPECT_EQ(checkMx("d.example", "h.example", Ours, status(S::NxDomain), {}).verdict,
            Verdict::Fail);
  auto null = checkMx("d.example", "h.example", Ours, mx({{0, "."}}), {});
  EXPECT_EQ(null.verdict, Verdict::Fail);
  EXPECT_NE(null.what.find("null MX"), std::string::npos);
  EXPECT_EQ(checkMx("d.example", "h.example", Ours, status(S::TempFail), {}).verdict,
            Verdict::Warn);
}

TEST(DoctorHostTest, AddressesAndConfiguredOnes) {
  EXPECT_EQ(checkHostAddresses("h.example", addresses({"192.0.2.25"}), status(S::NoData), {})
                .verdict,
            Verdict::Pass);
  EXPECT_EQ(checkHostAddresses("h.example", status(S::NxDomain), status(S::NxDomain), {}).verdict,
            Verdict::Fail);
  auto f = checkHostAddresses("h.example", addresses({"192.0.2.26"}), status(S::NoData), Ours);
  EXPECT_EQ(f.verdict, Verdict::Fail);
  EXPECT_EQ(f.fix, "publish \"h.example. IN A 192.0.2.25\" (or correct doctor.addresses)");
  EXPECT_EQ(checkHostAddresses("h.example", status(S::TempFail), status(S::TempFail), {}).verdict,
            Verdict::Warn);
}

TEST(DoctorPtrTest, ForwardConfirmed) {
  auto f = checkPtr("192.0.2.25", "mail.example.org", ptr({"mail.example.org"}),
                    {{"mail.example.org", {"192.0.2.25"}}});
  EXPECT_EQ(f.verdict, Verdict::Pass) << f.what;
}

TEST(DoctorPtrTest, NotConfirmedFailsOtherNameWarnsMissingFails) {
  EXPECT_EQ(checkPtr("192.0.2.25", "mail.example.org", ptr({"x.isp.example"}),
                     {{"x.isp.example", {"192.0.2.99"}}})
                .verdict,
            Verdict::Fail);
  EXPECT_EQ(checkPtr("192.0.2.25", "mail.example.org", ptr({"x.isp.example"}),
                     {{"x.isp.example", {"192.0.2.25"}}})
                .verdict,
            Verdict::Warn);
  EXPECT_EQ(checkPtr("192.0.2.25", "mail.example.org", status(S::NxDomain), {}).verdict,
            Verdict::Fail);
  EXPECT_EQ(checkPtr("192.0.2.25", "mail.example.org", status(S::TempFail), {}).verdict,
            Verdict::Warn);
}

spf::Report spfReport(spf::Outcome o, std::string record = "v=spf1 -all") {
  spf::Report r;
  r.result = o;
  r.mechanism = o == spf::Outcome::Pass ? "ip4:192.0.2.25" : "-all";
  r.records.push_back({"check_host", "example.org", std::move(record)});
  return r;
}

TEST(DoctorSpfTest, Outcomes) {
  EXPECT_EQ(checkSpf("example.org", "192.0.2.25", spfReport(spf::Outcome::Pass)).verdict,
            Verdict::Pass);
  auto fail = checkSpf("example.org", "192.0.2.25", spfReport(spf::Outcome::Fail));
  EXPECT_EQ(fail.verdict, Verdict::Fail);
  EXPECT_EQ(fail.fix, "add \"ip4:192.0.2.25\" (or mx) before the all term of the TXT record of "
                      "example.org");
  EXPECT_EQ(checkSpf("example.org", "2001:db8::25", spfReport(spf::Outcome::SoftFail)).fix,
            "add \"ip6:2001:db8::25\" (or mx) before the all term of the TXT record of "
            "example.org");
  EXPECT_EQ(checkSpf("example.org", "192.0.2.25", spfReport(spf::Outcome::None)).verdict,
            Verdict::Fail);
  EXPECT_EQ(checkSpf("example.org", "192.0.2.25", spfReport(spf::Outcome::PermError)).verdict,
            Verdict::Fail);
  EXPECT_EQ(checkSpf("example.org", "192.0.2.25", spfReport(spf::Outcome::TempError)).verdict,
            Verdict::Warn);
}

class DoctorDkimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = tls::PrivateKey::generateEd25519();
    ASSERT_TRUE(key);
    data_ = key->publicKey().dkimKeyData();
    record_ = dkim::keyRecordText(key->publicKey());
    auto other = tls::PrivateKey::generateEd25519();
    ASSERT_TRUE(other);
    other_record_ = dkim::keyRecordText(other->publicKey());
  }
  Finding check(const dns::Answer& a, std::string key_error = "") {
    return checkDkim("example.org", "s1", data_, record_, key_error, a);
  }
  std::string data_, record_, other_record_;
};

TEST_F(DoctorDkimTest, MatchingKeyPasses) {
  EXPECT_EQ(check(txt({"v=spf1 -all", record_})).verdict, Verdict::Pass);
}

TEST_F(DoctorDkimTest, MismatchMissingRevokedAndBrokenFail) {
  auto mismatch = check(txt({other_record_}));
  EXPECT_EQ(mismatch.verdict, Verdict::Fail);
  EXPECT_EQ(mismatch.what, "the published key is not the public key of the key file");
  EXPECT_NE(mismatch.fix.find(record_), std::string::npos);
  EXPECT_EQ(check(status(S::NxDomain)).verdict, Verdict::Fail);
  EXPECT_EQ(check(txt({"v=DKIM1; k=ed25519; p="})).what, "the record revokes the key (empty p=)");
  EXPECT_EQ(check(txt({"v=DKIM1; k=rsa; p=!!"})).verdict, Verdict::Fail);
  EXPECT_EQ(check(txt({record_}), "s1.key: cannot read").verdict, Verdict::Fail);
  EXPECT_EQ(check(status(S::TempFail)).verdict, Verdict::Warn);
}

TEST_F(DoctorDkimTest, TestingFlagWarns) {
  EXPECT_EQ(check(txt({record_ + "; t=y"})).verdict, Verdict::Warn);
}

TEST(DoctorDmarcTest, Records) {
  EXPECT_EQ(checkDmarc("example.org", txt({"v=DMARC1; p=reject"})).verdict, Verdict::Pass);
  auto none = checkDmarc("example.org", status(S::NxDomain));
  EXPECT_EQ(none.verdict, Verdict::Fail);
  EXPECT_EQ(none.what, "no DMARC record");
  EXPECT_EQ(checkDmarc("example.org", txt({"hello"})).verdict, Verdict::Fail);
  EXPECT_EQ(checkDmarc("example.org", txt({"v=DMARC1; p=none", "v=DMARC1; p=reject"})).verdict,
            Verdict::Fail);
  EXPECT_EQ(checkDmarc("example.org", txt({"v=DMARC1; p=bogus"})).verdict, Verdict::Fail);
  EXPECT_EQ(checkDmarc("example.org", status(S::TempFail)).verdict, Verdict::Warn);
}

TEST(DoctorDnsListTest, ListedNotListedRefused) {
  EXPECT_EQ(checkDnsList("192.0.2.25", "bl.example", status(S::NxDomain), {}).verdict,
            Verdict::Pass);
  auto listed = checkDnsList("192.0.2.25", "bl.example", addresses({"127.0.0.2"}),
                             txt({"spam source"}));
  EXPECT_EQ(listed.verdict, Verdict::Fail);
  EXPECT_EQ(listed.what, "listed (127.0.0.2): spam source");
  EXPECT_EQ(checkDnsList("192.0.2.25", "bl.example", addresses({"127.255.255.254"}), {}).verdict,
            Verdict::Warn);
  EXPECT_EQ(checkDnsList("192.0.2.25", "bl.example", status(S::TempFail), {}).verdict,
            Verdict::Warn);
}

TEST(DoctorCertificateTest, NamesAndExpiry) {
  const int64_t now = 1'800'000'000;
  CertificateState c;
  c.path = "/etc/petrel/tls/mail.crt";
  c.names = {"mail.example.org"};
  c.not_after = now + 90 * 86400;
  EXPECT_EQ(checkCertificate("mail.example.org", c, now, 14, true).verdict, Verdict::Pass);
  c.not_after = now + 3 * 86400 + 10;
  auto soon = checkCertificate("mail.example.org", c, now, 14, true);
  EXPECT_EQ(soon.verdict, Verdict::Warn);
  EXPECT_EQ(soon.what, "expires in 3 days (fewer than 14)");
  c.not_after = now - 86400;
  EXPECT_EQ(checkCertificate("mail.example.org", c, now, 14, true).verdict, Verdict::Fail);
  c.not_after = now + 90 * 86400;
  EXPECT_EQ(checkCertificate("other.example.org", c, now, 14, true).verdict, Verdict::Fail);
  EXPECT_EQ(checkCertificate("other.example.org", c, now, 14, false).verdict, Verdict::Pass);
  c.error = "cannot read";
  EXPECT_EQ(checkCertificate("mail.example.org", c, now, 14, true).verdict, Verdict::Fail);
}

TEST(DoctorCertificateTest, WildcardsMatchOneLabel) {
  EXPECT_TRUE(certificateNameMatches("*.example.org", "mail.example.org"));
  EXPECT_FALSE(certificateNameMatches("*.example.org", "a.mail.example.org"));
  EXPECT_FALSE(certificateNameMatches("*.example.org", "example.org"));
  EXPECT_TRUE(certificateNameMatches("mail.example.org", "mail.example.org"));
}

TEST(DoctorPortTest, States) {
  PortState s;
  s.error = "Connection refused";
  EXPECT_EQ(checkPort("mx", "0.0.0.0:25", s).verdict, Verdict::Fail);
  s = {};
  s.connected = true;
  s.greeting_code = 220;
  s.greeting = "mail.example.org ESMTP Petrel";
  EXPECT_EQ(checkPort("mx", "0.0.0.0:25", s).verdict, Verdict::Pass);
  s.greeting_code = 554;
  EXPECT_EQ(checkPort("mx", "0.0.0.0:25", s).verdict, Verdict::Warn);
  s.greeting_code.reset();
  EXPECT_EQ(checkPort("smtps", "0.0.0.0:465", s).verdict, Verdict::Pass);
}

RelayProbe probe(RelayProbe::Inside inside, int rcpt) {
  RelayProbe p;
  p.listener = "mx";
  p.address = "127.0.0.1:25";
  p.source = "127.0.0.2";
  p.inside_mynetworks = inside;
  p.connected = true;
  p.sender = "doctor-probe@example.net";
  p.recipient = "relay-test@example.com";
  p.ehlo_code = 250;
  p.mail_code = 250;
  p.rcpt_code = rcpt;
  p.rcpt_reply = rcpt == 250 ? "250 2.1.5 Ok" : "554 5.7.1 Relay access denied";
  return p;
}

TEST(DoctorOpenRelayTest, RefusedPassesAcceptedOutsideFails) {
  auto refused = checkOpenRelay(probe(RelayProbe::Inside::No, 554));
  EXPECT_EQ(refused.verdict, Verdict::Pass);
  EXPECT_EQ(refused.what, "RCPT TO:<relay-test@example.com> from 127.0.0.2 refused: 554 5.7.1 "
                          "Relay access denied");
  EXPECT_EQ(checkOpenRelay(probe(RelayProbe::Inside::No, 250)).verdict, Verdict::Fail);
}

TEST(DoctorOpenRelayTest, InsideMynetworksCannotTell) {
  auto inside = checkOpenRelay(probe(RelayProbe::Inside::Yes, 250));
  EXPECT_EQ(inside.verdict, Verdict::Warn);
  EXPECT_EQ(inside.what.rfind("cannot test from inside mynetworks", 0), 0u) << inside.what;
  EXPECT_EQ(checkOpenRelay(probe(RelayProbe::Inside::Unknown, 250)).verdict, Verdict::Warn);
  // Refused even from inside: nothing relays.
  EXPECT_EQ(checkOpenRelay(probe(RelayProbe::Inside::Yes, 554)).verdict, Verdict::Pass);
}

TEST(DoctorOpenRelayTest, UntestedWarns) {
  RelayProbe p = probe(RelayProbe::Inside::No, 250);
  p.mail_code = 550;
  p.rcpt_code.reset();
  EXPECT_EQ(checkOpenRelay(p).verdict, Verdict::Warn);
  p = probe(RelayProbe::Inside::No, 250);
  p.connected = false;
  p.error = "Connection refused";
  EXPECT_EQ(checkOpenRelay(p).verdict, Verdict::Warn);
}

TEST(DoctorDirectoryTest, SpaceAndWritability) {
  DirectoryState s;
  s.exists = s.writable = s.space_known = true;
  s.total_bytes = 100ull << 30;
  s.free_bytes = 50ull << 30;
  EXPECT_EQ(checkDirectory("state_dir", "/var/lib/petrel", s, 1ull << 30).verdict,
            Verdict::Pass);
  s.free_bytes = 500ull << 20;
  EXPECT_EQ(checkDirectory("state_dir", "/var/lib/petrel", s, 1ull << 30).verdict,
            Verdict::Warn);
  s.free_bytes = 50ull << 20;
  EXPECT_EQ(checkDirectory("state_dir", "/var/lib/petrel", s, 1ull << 30).verdict,
            Verdict::Fail);
  s.writable = false;
  s.error = "Permission denied";
  EXPECT_EQ(checkDirectory("state_dir", "/var/lib/petrel", s, 1ull << 30).verdict,
            Verdict::Fail);
}

TEST(DoctorServersTest, DnsAndTables) {
  EXPECT_EQ(checkDnsServer("127.0.0.1:53", status(S::NxDomain)).verdict, Verdict::Pass);
  EXPECT_EQ(checkDnsServer("127.0.0.1:53", status(S::TempFail)).verdict, Verdict::Fail);
  EXPECT_EQ(checkTableServer("mailboxes", "mysql", "127.0.0.1:3306", true, "").verdict,
            Verdict::Pass);
  EXPECT_EQ(checkTableServer("mailboxes", "mysql", "127.0.0.1:3306", false, "refused").verdict,
            Verdict::Fail);
}

}  // namespace
}  // namespace petrel::doctor
