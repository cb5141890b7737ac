// dmarc::evaluateDomain (pure), dmarc::evaluate (over a FakeResolver), alignment, pct with a
// fake random source, actions and the Authentication-Results part.
#include "petrel/dmarc/evaluate.h"

#include <gtest/gtest.h>

#include "fakes/fake_resolver.h"

namespace petrel::dmarc {
namespace {

PublicSuffixListPtr testList() {
  static auto psl = std::make_shared<const PublicSuffixList>(
      PublicSuffixList::parse("com\norg\nnet\nuk\nco.uk\n", "test").value());
  return psl;
}

TxtAnswer found(std::vector<std::string> txt) {
  return {TxtAnswer::Status::Found, std::move(txt), ""};
}
TxtAnswer nothing() { return {}; }
TxtAnswer tempfail() { return {TxtAnswer::Status::TempFail, {}, "timeout"}; }

Percent fixed(int n) {
  return [n] { return n; };
}
Percent never() {
  return [] {
    ADD_FAILURE() << "pct sampled without need";
    return 0;
  };
}

AuthInputs spf(std::string result, std::string domain) {
  AuthInputs a;
  a.spf = SpfInput{std::move(result), std::move(domain)};
  return a;
}
AuthInputs dkim(std::string result, std::string d) {
  AuthInputs a;
  a.dkim.push_back({std::move(d), std::move(result)});
  return a;
}

Evaluation eval(std::string_view from, const AuthInputs& auth, const TxtAnswer& at_from,
                std::optional<TxtAnswer> at_org = std::nullopt, Percent p = never()) {
  return evaluateDomain(from, auth, at_from, at_org, *testList(), p);
}

const auto Reject = found({"v=DMARC1; p=reject"});

TEST(DmarcAlignment, StrictAndRelaxedBothWays) {
  const auto& psl = *testList();
  EXPECT_TRUE(aligned("example.com", "EXAMPLE.com.", Alignment::Strict, psl));
  EXPECT_FALSE(aligned("example.com", "mail.example.com", Alignment::Strict, psl));
  EXPECT_FALSE(aligned("mail.example.com", "example.com", Alignment::Strict, psl));
  EXPECT_TRUE(aligned("example.com", "mail.example.com", Alignment::Relaxed, psl));
  EXPECT_TRUE(aligned("news.example.com", "example.com", Alignment::Relaxed, psl));
  EXPECT_TRUE(aligned("a.example.com", "b.example.com", Alignment::Relaxed, psl));
  EXPECT_FALSE(aligned("example.com", "example.org", Alignment::Relaxed, psl));
  EXPECT_FALSE(aligned("example.co.uk", "other.co.uk", Alignment::Relaxed, psl));
  EXPECT_FALSE(aligned("example.com", "com", Alignment::Relaxed, psl));
  EXPECT_FALSE(aligned("example.com", "", Alignment::Relaxed, psl));
}

TEST(DmarcEvaluate, SpfAlignment) {
  auto e = eval("example.com", spf("pass", "bounce.example.com"), Reject);
  EXPECT_EQ(e.result, Outcome::Pass);
  EXPECT_TRUE(e.spf_aligned);
  e = eval("example.com", spf("pass", "bounce.example.com"), found({"v=DMARC1; p=reject; aspf=s"}));
  EXPECT_EQ(e.result, Outcome::Fail);
  EXPECT_EQ(e.requested, Disposition::Reject);
  e = eval("example.com", spf("pass", "example.com"), found({"v=DMARC1; p=reject; aspf=s"}));
  EXPECT_EQ(e.result, Outcome::Pass);
  e = eval("example.com", spf("fail", "example.com"), Reject);
  EXPECT_EQ(e.result, Outcome::Fail);
  EXPECT_EQ(e.problem, "no aligned pass: spf=fail example.com");
  e = eval("example.com", spf("pass", "example.org"), Reject);
  EXPECT_EQ(e.result, Outcome::Fail);
  EXPECT_EQ(e.problem, "no aligned pass: spf=pass example.org (not aligned)");
}

TEST(DmarcEvaluate, DkimAlignment) {
  auto e = eval("news.example.com", dkim("pass", "example.com"), nothing(), Reject);
  EXPECT_EQ(e.result, Outcome::Pass);
  EXPECT_TRUE(e.dkim_aligned);
  EXPECT_EQ(e.aligned_dkim_domain, "example.com");
  e = eval("news.example.com", dkim("pass", "example.com"), nothing(),
           found({"v=DMARC1; p=reject; adkim=s"}));
  EXPECT_EQ(e.result, Outcome::Fail);
  e = eval("example.com", dkim("pass", "Example.COM"), found({"v=DMARC1; p=reject; adkim=s"}));
  EXPECT_EQ(e.result, Outcome::Pass);
  // Several signatures: one aligned pass is enough; failing ones do not spoil it.
  AuthInputs several;
  several.dkim = {{"example.org", "pass"}, {"example.com", "fail"}, {"mail.example.com", "pass"}};
  e = eval("example.com", several, Reject);
  EXPECT_EQ(e.result, Outcome::Pass);
  EXPECT_EQ(e.aligned_dkim_domain, "mail.example.com");
  several.dkim.pop_back();
  e = eval("example.com", several, Reject);
  EXPECT_EQ(e.result, Outcome::Fail);
  EXPECT_EQ(e.problem,
            "no aligned pass: dkim=pass d=example.org (not aligned), dkim=fail d=example.com");
  e = eval("example.com", AuthInputs{}, Reject);
  EXPECT_EQ(e.result, Outcome::Fail);
  EXPECT_EQ(e.problem, "no SPF or DKIM result");
}

TEST(DmarcEvaluate, RecordAtOrgDomainAndSubdomainPolicy) {
  auto rec = found({"v=DMARC1; p=reject; sp=quarantine"});
  auto e = eval("mail.example.com", spf("fail", "mail.example.com"), nothing(), rec);
  EXPECT_EQ(e.result, Outcome::Fail);
  EXPECT_EQ(e.org_domain, "example.com");
  EXPECT_EQ(e.policy_domain, "example.com");
  EXPECT_TRUE(e.subdomain_policy);
  EXPECT_EQ(e.policy, Policy::Quarantine);
  EXPECT_EQ(e.requested, Disposition::Quarantine);
  ASSERT_EQ(e.lookups.size(), 2u);
  EXPECT_EQ(e.lookups[0], "_dmarc.mail.example.com TXT -> no record");
  EXPECT_EQ(e.lookups[1], "_dmarc.example.com TXT -> \"v=DMARC1; p=reject; sp=quarantine\"");
  // At the From domain itself, sp= does not apply.
  e = eval("example.com", spf("fail", "example.com"), rec);
  EXPECT_EQ(e.policy, Policy::Reject);
  EXPECT_FALSE(e.subdomain_policy);
  // A record at the subdomain wins over the org domain's.
  e = eval("mail.example.com", spf("fail", "x.example.com"), found({"v=DMARC1; p=none"}), rec);
  EXPECT_EQ(e.policy_domain, "mail.example.com");
  EXPECT_EQ(e.policy, Policy::None);
  EXPECT_EQ(e.requested, Disposition::None);
  // No sp=: p= for subdomains.
  e = eval("mail.example.com", spf("fail", "x.example.com"), nothing(), Reject);
  EXPECT_EQ(e.requested, Disposition::Reject);
}

TEST(DmarcEvaluate, DiscoveryEdges) {
  // Other TXT records at the name are not DMARC records: discovery goes on to the org domain.
  auto e = eval("mail.example.com", spf("fail", "x.example.com"), found({"v=spf1 -all"}), Reject);
  EXPECT_EQ(e.policy_domain, "example.com");
  // Several records: no policy (RFC 7489 6.6.3 step 5), not even the org domain's.
  e = eval("mail.example.com", spf("fail", "x.example.com"),
           found({"v=DMARC1; p=reject", "v=DMARC1; p=none"}), Reject);
  EXPECT_EQ(e.result, Outcome::None);
  EXPECT_EQ(e.problem, "2 DMARC records at _dmarc.mail.example.com");
  e = eval("mail.example.com", spf("fail", "x.example.com"), nothing(),
           found({"v=DMARC1; p=reject", "v=DMARC1; p=reject"}));
  EXPECT_EQ(e.result, Outcome::None);
  // Nothing anywhere.
  e = eval("mail.example.com", spf("fail", "x.example.com"), nothing(), nothing());
  EXPECT_EQ(e.result, Outcome::None);
  EXPECT_EQ(e.problem, "no DMARC record at _dmarc.mail.example.com or _dmarc.example.com");
  // The org domain itself: one lookup only.
  EXPECT_FALSE(needsOrgLookup("example.com", nothing(), *testList()));
  EXPECT_TRUE(needsOrgLookup("a.example.com", nothing(), *testList()));
  EXPECT_FALSE(needsOrgLookup("a.example.com", Reject, *testList()));
  EXPECT_FALSE(needsOrgLookup("a.example.com", tempfail(), *testList()));
  // A syntax error: permerror, no policy.
  e = eval("example.com", spf("fail", "example.com"), found({"v=DMARC1; p=reject; pct=200"}));
  EXPECT_EQ(e.result, Outcome::PermError);
  EXPECT_EQ(e.problem, "_dmarc.example.com: pct=200 is not 0 to 100");
  EXPECT_EQ(e.requested, Disposition::None);
}

TEST(DmarcEvaluate, DnsTemporaryFailureIsTemperror) {
  auto e = eval("example.com", spf("fail", "example.com"), tempfail());
  EXPECT_EQ(e.result, Outcome::TempError);
  EXPECT_EQ(e.problem, "_dmarc.example.com: timeout");
  EXPECT_EQ(action(e, {}).action, Action::Accept);
  e = eval("mail.example.com", spf("fail", "example.com"), nothing(), tempfail());
  EXPECT_EQ(e.result, Outcome::TempError);
  EXPECT_EQ(e.requested, Disposition::None);
  // No aligned pass while an aligned DKIM signature could not be checked: temperror too.
  AuthInputs a = spf("fail", "example.com");
  a.dkim.push_back({"example.com", "temperror"});
  e = eval("example.com", a, Reject);
  EXPECT_EQ(e.result, Outcome::TempError);
  EXPECT_EQ(action(e, {}).action, Action::Accept);
}

TEST(DmarcEvaluate, PctWithFakeRandom) {
  auto half = found({"v=DMARC1; p=reject; pct=50"});
  auto e = eval("example.com", spf("fail", "example.com"), half, std::nullopt, fixed(49));
  EXPECT_EQ(e.requested, Disposition::Reject);
  EXPECT_FALSE(e.sampled_out);
  e = eval("example.com", spf("fail", "example.com"), half, std::nullopt, fixed(50));
  EXPECT_EQ(e.requested, Disposition::Quarantine);  // the next lower policy
  EXPECT_TRUE(e.sampled_out);
  e = eval("example.com", spf("fail", "example.com"), found({"v=DMARC1; p=quarantine; pct=0"}),
           std::nullopt, fixed(0));
  EXPECT_EQ(e.requested, Disposition::None);
  // pct=100, p=none and a pass never ask the random source.
  eval("example.com", spf("fail", "example.com"), Reject);
  eval("example.com", spf("fail", "example.com"), found({"v=DMARC1; p=none; pct=10"}));
  eval("example.com", spf("pass", "example.com"), half);
}

TEST(DmarcEvaluate, StrictestOfSeveralFromDomains) {
  auto pass = eval("a.example", spf("pass", "a.example"), Reject);
  auto none = eval("b.example", spf("pass", "a.example"), nothing());
  auto quarantine = eval("c.example", spf("pass", "a.example"), found({"v=DMARC1; p=quarantine"}));
  auto reject = eval("d.example", spf("pass", "a.example"), Reject);
  EXPECT_EQ(strictest({pass, none, quarantine}).from_domain, "c.example");
  EXPECT_EQ(strictest({pass, reject, quarantine}).from_domain, "d.example");
  EXPECT_EQ(strictest({pass, none}).from_domain, "b.example");
  EXPECT_EQ(strictest({pass}).result, Outcome::Pass);
}

TEST(DmarcEvaluate, Actions) {
  auto reject = eval("example.com", spf("fail", "example.com"), Reject);
  auto quarantine =
      eval("example.com", spf("fail", "example.com"), found({"v=DMARC1; p=quarantine"}));
  auto none = eval("example.com", spf("fail", "example.com"), found({"v=DMARC1; p=none"}));
  Actions defaults;
  EXPECT_EQ(action(reject, defaults).action, Action::Reject);
  EXPECT_EQ(action(reject, defaults).applied, Disposition::Reject);
  EXPECT_EQ(action(quarantine, defaults).action, Action::Header);
  EXPECT_EQ(action(quarantine, defaults).applied, Disposition::Quarantine);
  EXPECT_EQ(action(none, defaults).action, Action::Accept);
  EXPECT_EQ(action(reject, {OnReject::Quarantine, OnQuarantine::Hold}).action, Action::Hold);
  EXPECT_EQ(action(reject, {OnReject::None, OnQuarantine::Hold}).applied, Disposition::None);
  EXPECT_EQ(action(quarantine, {OnReject::Reject, OnQuarantine::None}).action, Action::Accept);
  EXPECT_EQ(rejectText(reject), "rejected by DMARC policy for example.com");
}

TEST(DmarcEvaluate, AuthenticationResults) {
  auto reject = eval("example.com", spf("fail", "example.com"), Reject);
  EXPECT_EQ(authResultsPart(reject, Disposition::Reject),
            "dmarc=fail (p=reject dis=reject) header.from=example.com");
  auto sub = eval("mail.example.com", spf("pass", "example.com"), nothing(),
                  found({"v=DMARC1; p=reject; sp=none"}));
  EXPECT_EQ(authResultsPart(sub, Disposition::None),
            "dmarc=pass (p=reject sp=none dis=none) header.from=mail.example.com");
  auto none = eval("example.com", spf("fail", "example.com"), nothing());
  EXPECT_EQ(authResultsPart(none, Disposition::None), "dmarc=none header.from=example.com");
  FromDomains broken;
  broken.problem = "From: holds no address";
  EXPECT_EQ(authResultsPart(noFromDomain(broken), Disposition::None), "dmarc=permerror");
  // Nothing a sender wrote ends the field.
  Evaluation evil = reject;
  evil.from_domain = "example.com\r\nX-Injected: yes";
  EXPECT_EQ(authResultsPart(evil, Disposition::Reject), "dmarc=fail (p=reject dis=reject)");
  evil.from_domain = "exa mple.com;dkim=pass";
  EXPECT_EQ(authResultsPart(evil, Disposition::Reject), "dmarc=fail (p=reject dis=reject)");
}

// ---- the asynchronous lookup ---------------------------------------------------------------

struct Pending {
  std::optional<Evaluation> result;
  LookupPtr lookup;
};

TEST(DmarcLookup, FromDomainThenOrgDomain) {
  dns::FakeResolver dns(
      "_dmarc.example.com TXT \"v=DMARC1; \" \"p=reject; sp=quarantine\"\n"
      "mail.example.com A 192.0.2.1\n");
  FromDomains from = fromDomainsOfValues({" <a@mail.example.com>"});
  Pending run;
  run.lookup = evaluate(
      dns, testList(), from, spf("fail", "mail.example.com"),
      [&run](Evaluation e) { run.result = std::move(e); }, never());
  EXPECT_FALSE(run.result) << "done ran inside evaluate()";
  dns.runPending();
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->result, Outcome::Fail);
  EXPECT_EQ(run.result->requested, Disposition::Quarantine);
  EXPECT_EQ(dns.queries(),
            (std::vector<std::string>{"_dmarc.mail.example.com TXT", "_dmarc.example.com TXT"}));
}

TEST(DmarcLookup, TemporaryFailure) {
  dns::FakeResolver dns("_dmarc.example.com SERVFAIL\n");
  Pending run;
  run.lookup = evaluate(
      dns, testList(), fromDomainsOfValues({" a@example.com"}), spf("fail", "example.com"),
      [&run](Evaluation e) { run.result = std::move(e); }, never());
  dns.runPending();
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->result, Outcome::TempError);
  EXPECT_EQ(dns.queries(), std::vector<std::string>{"_dmarc.example.com TXT"});
}

TEST(DmarcLookup, SeveralFromDomainsTheStrictestCounts) {
  dns::FakeResolver dns(
      "_dmarc.example.com TXT \"v=DMARC1; p=none\"\n"
      "_dmarc.example.org TXT \"v=DMARC1; p=reject\"\n");
  Pending run;
  run.lookup = evaluate(
      dns, testList(), fromDomainsOfValues({" a@example.com, b@example.org"}),
      dkim("pass", "example.com"), [&run](Evaluation e) { run.result = std::move(e); }, never());
  dns.runPending();
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->from_domain, "example.org");
  EXPECT_EQ(run.result->result, Outcome::Fail);
  EXPECT_EQ(run.result->requested, Disposition::Reject);
}

TEST(DmarcLookup, NoFromDomainAnswersLater) {
  dns::FakeResolver dns;
  Pending run;
  run.lookup = evaluate(dns, testList(), fromDomainsOfValues({}), spf("pass", "example.com"),
                        [&run](Evaluation e) { run.result = std::move(e); });
  EXPECT_FALSE(run.result);
  dns.runPending();
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->result, Outcome::PermError);
  EXPECT_EQ(run.result->problem, "no From: field");
}

TEST(DmarcLookup, DestroyingTheHandleCancels) {
  dns::FakeResolver dns("_dmarc.example.com TXT \"v=DMARC1; p=reject\"\n");
  bool ran = false;
  auto lookup = evaluate(dns, testList(), fromDomainsOfValues({" a@example.com"}), AuthInputs{},
                         [&ran](Evaluation) { ran = true; });
  lookup.reset();
  dns.runPending();
  EXPECT_FALSE(ran);
}

TEST(DmarcLookup, DoneMayDestroyTheHandle) {
  dns::FakeResolver dns("_dmarc.example.com TXT \"v=DMARC1; p=reject\"\n");
  Pending run;
  run.lookup = evaluate(dns, testList(), fromDomainsOfValues({" a@example.com"}), AuthInputs{},
                        [&run](Evaluation e) {
                          run.result = std::move(e);
                          run.lookup.reset();
                        });
  dns.runPending();
  ASSERT_TRUE(run.result);
  EXPECT_FALSE(run.lookup);
}

}  // namespace
}  // namespace petrel::dmarc
