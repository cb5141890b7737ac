// spf::checkHost over a FakeResolver: the async contract, the limits of RFC 7208 4.6.4,
// include/redirect/exp semantics and the report. The OpenSPF suite
// (openspf_suite_test.cc) covers the rest of the RFC.
#include "petrel/spf/check_host.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <optional>

#include "fakes/fake_resolver.h"

namespace petrel::spf {
namespace {

struct Evaluated {
  std::optional<Report> report;
  bool early = false;  // done ran inside checkHost()
};

Evaluated run(dns::FakeResolver& dns, const Request& request, Limits limits = {}) {
  Evaluated r;
  auto evaluation = checkHost(
      dns, request, [&r](Report rep) { r.report = std::move(rep); }, limits);
  r.early = r.report.has_value();
  dns.runPending();
  return r;
}

Outcome outcomeOf(const char* zone, const char* ip, const char* sender,
                  std::string* explanation = nullptr, std::string* problem = nullptr) {
  dns::FakeResolver dns(zone);
  Evaluated r = run(dns, mailFromRequest(ip, sender, "helo.example.net"));
  EXPECT_FALSE(r.early);
  if (!r.report) return Outcome::None;
  if (explanation) *explanation = r.report->explanation;
  if (problem) *problem = r.report->problem;
  return r.report->result;
}

TEST(SpfCheckHost, NeverAnswersInsideTheCall) {
  for (const char* ip : {"192.0.2.1", "not-an-ip"}) {
    for (const char* sender : {"a@example.org", "a@nodot", "a@x..example"}) {
      dns::FakeResolver dns("example.org TXT \"v=spf1 -all\"");
      Evaluated r = run(dns, mailFromRequest(ip, sender, "h.example"));
      EXPECT_FALSE(r.early) << ip << " " << sender;
      ASSERT_TRUE(r.report);
    }
  }
  EXPECT_EQ(outcomeOf("", "not-an-ip", "a@example.org"), Outcome::PermError);
  EXPECT_EQ(outcomeOf("", "192.0.2.1", "a@nodot"), Outcome::None);
}

TEST(SpfCheckHost, DestroyingTheHandleCancels) {
  dns::FakeResolver dns("example.org TXT \"v=spf1 -all\"");
  bool called = false;
  auto evaluation = checkHost(dns, mailFromRequest("192.0.2.1", "a@example.org", "h"),
                              [&called](Report) { called = true; });
  evaluation.reset();
  dns.runPending();
  EXPECT_FALSE(called);
}

TEST(SpfCheckHost, TheHandleMayDieInsideDone) {
  dns::FakeResolver dns("example.org TXT \"v=spf1 -all\"");
  EvaluationPtr evaluation;
  std::optional<Outcome> got;
  evaluation = checkHost(dns, mailFromRequest("192.0.2.1", "a@example.org", "h"), [&](Report r) {
    got = r.result;
    evaluation.reset();
  });
  dns.runPending();
  EXPECT_EQ(got, Outcome::Fail);
}

TEST(SpfCheckHost, ResultsOfTheQualifiers) {
  const char* zone =
      "example.org TXT \"v=spf1 ip4:192.0.2.1 -ip4:192.0.2.2 ~ip4:192.0.2.3 ?ip4:192.0.2.4 "
      "ip6:2001:db8::/32\"\n"
      "none.example.org A 192.0.2.9\n";
  EXPECT_EQ(outcomeOf(zone, "192.0.2.1", "a@example.org"), Outcome::Pass);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.2", "a@example.org"), Outcome::Fail);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.3", "a@example.org"), Outcome::SoftFail);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.4", "a@example.org"), Outcome::Neutral);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.5", "a@example.org"), Outcome::Neutral);
  EXPECT_EQ(outcomeOf(zone, "2001:db8::7", "a@example.org"), Outcome::Pass);
  EXPECT_EQ(outcomeOf(zone, "::ffff:192.0.2.2", "a@example.org"), Outcome::Fail);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.1", "a@none.example.org"), Outcome::None);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.1", "a@nxdomain.example.org"), Outcome::None);
}

TEST(SpfCheckHost, RecordSelection) {
  // Two records: permerror (RFC 7208 4.5); strings of one TXT record are joined (3.3).
  EXPECT_EQ(outcomeOf("example.org TXT \"v=spf1 -all\"\nexample.org TXT \"v=spf1 +all\"",
                      "192.0.2.1", "a@example.org"),
            Outcome::PermError);
  EXPECT_EQ(outcomeOf("example.org TXT \"v=spf1 ip4:192.0.2.1\" \" -all\"\n"
                      "example.org TXT \"google-site-verification=x\"",
                      "192.0.2.1", "a@example.org"),
            Outcome::Pass);
  EXPECT_EQ(outcomeOf("example.org TXT \"v=spf10 -all\"", "192.0.2.1", "a@example.org"),
            Outcome::None);
  EXPECT_EQ(outcomeOf("example.org SERVFAIL", "192.0.2.1", "a@example.org"), Outcome::TempError);
  EXPECT_EQ(
      outcomeOf("example.org TXT \"v=spf1 ip4:192.0.2.1 moo -all\"", "192.0.2.1", "a@example.org"),
      Outcome::PermError);
}

TEST(SpfCheckHost, IncludeAndRedirect) {
  const char* zone =
      "example.org TXT \"v=spf1 include:a.example.org -include:b.example.org ~all\"\n"
      "a.example.org TXT \"v=spf1 ip4:192.0.2.1 -all\"\n"
      "b.example.org TXT \"v=spf1 redirect=c.example.org\"\n"
      "c.example.org TXT \"v=spf1 ip4:192.0.2.2 exp=nowhere.example.org\"\n"
      "inc-none.example.org TXT \"v=spf1 include:none.example.org -all\"\n"
      "inc-temp.example.org TXT \"v=spf1 include:temp.example.org -all\"\n"
      "inc-perm.example.org TXT \"v=spf1 include:bad.example.org -all\"\n"
      "red-none.example.org TXT \"v=spf1 redirect=none.example.org\"\n"
      "bad.example.org TXT \"v=spf1 bogus\"\n"
      "temp.example.org SERVFAIL\n";
  EXPECT_EQ(outcomeOf(zone, "192.0.2.1", "a@example.org"), Outcome::Pass);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.2", "a@example.org"), Outcome::Fail);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.3", "a@example.org"), Outcome::SoftFail);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.3", "a@inc-none.example.org"), Outcome::PermError);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.3", "a@inc-temp.example.org"), Outcome::TempError);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.3", "a@inc-perm.example.org"), Outcome::PermError);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.3", "a@red-none.example.org"), Outcome::PermError);
}

TEST(SpfCheckHost, Explanations) {
  const char* zone =
      "example.org TXT \"v=spf1 -include:inc.example.org -all exp=why.%{d}\"\n"
      "why.example.org TXT \"%{i} may not send for %{d} (%{l}, %{c}, %{r})\"\n"
      "inc.example.org TXT \"v=spf1 -ip4:192.0.2.7 -all exp=inc-why.example.org\"\n"
      "inc-why.example.org TXT \"never used\"\n"
      "red.example.org TXT \"v=spf1 redirect=target.example.org exp=why.example.org\"\n"
      "target.example.org TXT \"v=spf1 -all exp=twhy.example.org\"\n"
      "twhy.example.org TXT \"from the target %{d}\"\n"
      "tmp.example.org TXT \"v=spf1 -all exp=down.example.org\"\n"
      "down.example.org SERVFAIL\n"
      "two.example.org TXT \"v=spf1 -all exp=twice.example.org\"\n"
      "twice.example.org TXT \"one\"\ntwice.example.org TXT \"two\"\n";
  std::string why;
  // The included record fails, so include does not match; -all decides, with the top exp.
  EXPECT_EQ(outcomeOf(zone, "192.0.2.7", "joe@example.org", &why), Outcome::Fail);
  EXPECT_EQ(why, "192.0.2.7 may not send for example.org (joe, 192.0.2.7, unknown)");
  EXPECT_EQ(outcomeOf(zone, "192.0.2.7", "joe@red.example.org", &why), Outcome::Fail);
  EXPECT_EQ(why, "from the target target.example.org");
  EXPECT_EQ(outcomeOf(zone, "192.0.2.7", "joe@tmp.example.org", &why), Outcome::Fail);
  EXPECT_EQ(why, "");
  EXPECT_EQ(outcomeOf(zone, "192.0.2.7", "joe@two.example.org", &why), Outcome::Fail);
  EXPECT_EQ(why, "");
}

TEST(SpfCheckHost, TenDnsTermsAtMost) {
  std::string zone = "host.example.org A 192.0.2.200\n";
  for (int n : {10, 11}) {
    std::string record = "v=spf1";
    for (int i = 0; i < n; ++i) record += " a:host.example.org";
    zone += fmt::format("t{}.example.org TXT \"{} -all\"\n", n, record);
  }
  dns::FakeResolver dns(zone);
  Evaluated ten = run(dns, mailFromRequest("192.0.2.1", "a@t10.example.org", "h"));
  EXPECT_EQ(ten.report->result, Outcome::Fail);
  EXPECT_EQ(ten.report->dns_terms, 10);
  Evaluated eleven = run(dns, mailFromRequest("192.0.2.1", "a@t11.example.org", "h"));
  EXPECT_EQ(eleven.report->result, Outcome::PermError);
  EXPECT_NE(eleven.report->problem.find("more than 10"), std::string::npos);
  // An include loop ends at the limit too.
  EXPECT_EQ(outcomeOf("loop.example.org TXT \"v=spf1 include:loop.example.org -all\"", "192.0.2.1",
                      "a@loop.example.org"),
            Outcome::PermError);
}

TEST(SpfCheckHost, TwoVoidLookupsAtMost) {
  const char* zone =
      "two.example.org TXT \"v=spf1 a:n1.example.org a:n2.example.org -all\"\n"
      "three.example.org TXT \"v=spf1 a:n1.example.org mx:n2.example.org "
      "exists:n3.example.org -all\"\n";
  std::string problem;
  EXPECT_EQ(outcomeOf(zone, "192.0.2.1", "a@two.example.org"), Outcome::Fail);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.1", "a@three.example.org", nullptr, &problem),
            Outcome::PermError);
  EXPECT_NE(problem.find("void"), std::string::npos) << problem;
}

TEST(SpfCheckHost, MxAndPtrNameLimits) {
  std::string zone =
      "mx11.example.org TXT \"v=spf1 mx -all\"\n"
      "mx10.example.org TXT \"v=spf1 mx -all\"\n"
      "ptr.example.org TXT \"v=spf1 ptr:good.example.org -all\"\n";
  for (int i = 1; i <= 11; ++i) {
    zone += fmt::format("mx11.example.org MX {} m{}.example.org\n", i, i);
    if (i <= 10) zone += fmt::format("mx10.example.org MX {} m{}.example.org\n", i, i);
    zone += fmt::format("m{}.example.org A 192.0.2.{}\n", i, i);
    // Eleven PTR names; only the eleventh would validate (RFC 7208 4.6.4: ignored).
    zone += fmt::format("1.2.0.192.in-addr.arpa PTR {}.good.example.org\n", i);
    if (i == 11) zone += fmt::format("{}.good.example.org A 192.0.2.1\n", i);
  }
  EXPECT_EQ(outcomeOf(zone.c_str(), "192.0.2.10", "a@mx11.example.org"), Outcome::PermError);
  EXPECT_EQ(outcomeOf(zone.c_str(), "192.0.2.10", "a@mx10.example.org"), Outcome::Pass);
  EXPECT_EQ(outcomeOf(zone.c_str(), "192.0.2.1", "a@ptr.example.org"), Outcome::Fail);
}

TEST(SpfCheckHost, TempErrorVersusSkip) {
  const char* zone =
      "a.example.org TXT \"v=spf1 a:down.example.org -all\"\n"
      "mx.example.org TXT \"v=spf1 mx -all\"\nmx.example.org MX 10 down.example.org\n"
      "ex.example.org TXT \"v=spf1 exists:down.example.org -all\"\n"
      "ptr.example.org TXT \"v=spf1 ptr -all\"\n"
      "1.2.0.192.in-addr.arpa PTR down.example.org\n"
      "1.2.0.192.in-addr.arpa PTR www.ptr.example.org\n"
      "www.ptr.example.org A 192.0.2.1\n"
      "down.example.org TIMEOUT\n";
  EXPECT_EQ(outcomeOf(zone, "192.0.2.1", "a@a.example.org"), Outcome::TempError);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.1", "a@mx.example.org"), Outcome::TempError);
  EXPECT_EQ(outcomeOf(zone, "192.0.2.1", "a@ex.example.org"), Outcome::TempError);
  // RFC 7208 5.5: a failing address lookup only drops that PTR name.
  EXPECT_EQ(outcomeOf(zone, "192.0.2.1", "a@ptr.example.org"), Outcome::Pass);
}

TEST(SpfCheckHost, IdentitiesAndReport) {
  dns::FakeResolver dns(
      "helo.example.net TXT \"v=spf1 exists:%{l}.%{o}.%{h}.x.example.net -all\"\n"
      "postmaster.helo.example.net.helo.example.net.x.example.net A 127.0.0.2\n");
  for (const char* sender : {"", "<>"}) {
    Evaluated r = run(dns, mailFromRequest("192.0.2.1", sender, "helo.example.net"));
    ASSERT_TRUE(r.report);
    EXPECT_EQ(r.report->result, Outcome::Pass) << r.report->problem;
    EXPECT_EQ(r.report->mechanism, "exists:%{l}.%{o}.%{h}.x.example.net");
    ASSERT_EQ(r.report->records.size(), 1u);
    EXPECT_EQ(r.report->records[0].domain, "helo.example.net");
    ASSERT_EQ(r.report->lookups.size(), 2u);
    EXPECT_EQ(r.report->lookups[1].name,
              "postmaster.helo.example.net.helo.example.net.x.example.net");
    EXPECT_EQ(r.report->lookups[1].answer, "127.0.0.2");
  }
  Request helo = heloRequest("192.0.2.1", "helo.example.net");
  EXPECT_EQ(helo.sender, "postmaster@helo.example.net");
  EXPECT_EQ(helo.domain, "helo.example.net");
}

}  // namespace
}  // namespace petrel::spf
