// Tests for SRS in the router (source/delivery/forwarding.cc, router.cc's expandSrs): which
// recipients are forwarded, the sender they get (SRS0, SRS1, unchanged for ours, <>, excluded
// domains), RCPT-time reversal of our SRS addresses (valid, tampered, expired on a fake
// clock, case-smashed, SRS1), and forwarded recipients forming their own delivery.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../inline_table.h"
#include "petrel/delivery/agent.h"
#include "petrel/delivery/router.h"

namespace petrel::delivery {
namespace {

using Outcome = Expansion::Outcome;
using petrel::test_support::inlineTable;

constexpr int64_t Vector = 1765000000;  // srs_test.cc: day stamp "6M"
constexpr int64_t Day = 86400;

config::Config srsConfig() {
  config::Config cfg;
  cfg.hostname = "mail.example.test";
  cfg.mail_root = "/var/lib/petrel/mail";
  cfg.local_domains = {"example.test"};
  cfg.mailboxes = inlineTable("mailboxes", {{"alice@example.test", "yes"}});
  cfg.aliases = {inlineTable("aliases", {{"fwd@example.test", "someone@outside.example"},
                                         {"postmaster@example.test", "alice@example.test"}})};
  cfg.srs.domain = "forward.example";
  cfg.srs.secrets = {"petrel-test-secret"};
  cfg.srs.exclude_domains = {"partner.example", ".corp.example"};
  return cfg;
}

Router router(const config::Config& cfg, int64_t now = Vector) {
  Router r(cfg, [](const std::string&) {});
  r.setClockForTest([now] { return now; });
  return r;
}

DeliveryTarget smtpTarget() {
  DeliveryTarget t;
  t.transport = Transport::Smtp;
  t.next_hop.host = "outside.example";
  return t;
}

TEST(ForwardingTest, SenderGetsTheSameSrs0AsPython3Srs) {
  Router r = router(srsConfig());
  EXPECT_EQ(r.forwardingSender("alice@orig.example"),
            "SRS0=XOrm=6M=orig.example=alice@forward.example");
  EXPECT_EQ(forwardingSender(r, "SRS0=XOrm=6M=orig.example=alice@first.example"),
            "SRS1=zAnq=first.example==XOrm=6M=orig.example=alice@forward.example");
}

TEST(ForwardingTest, SenderUnchangedWhenOursExcludedOrEmpty) {
  Router r = router(srsConfig());
  EXPECT_EQ(r.forwardingSender(""), "");
  EXPECT_EQ(r.forwardingSender("bob@example.test"), "bob@example.test");
  EXPECT_EQ(r.forwardingSender("bob@Forward.Example"), "bob@Forward.Example");
  EXPECT_EQ(r.forwardingSender("bob@partner.example"), "bob@partner.example");
  EXPECT_EQ(r.forwardingSender("bob@x.corp.example"), "bob@x.corp.example");
  EXPECT_NE(r.forwardingSender("bob@corp.example"), "bob@corp.example");  // ".x" is below x
  EXPECT_EQ(r.forwardingSender("nodomain"), "nodomain");
  config::Config off = srsConfig();
  off.srs = {};
  EXPECT_EQ(router(off).forwardingSender("alice@orig.example"), "alice@orig.example");
}

TEST(ForwardingTest, ForwardedMeansGivenAtOurDomainAndRelayed) {
  Router r = router(srsConfig());
  EXPECT_TRUE(r.forwarded("fwd@example.test", smtpTarget()));
  EXPECT_TRUE(r.forwarded("SRS0=x=y=z=w@forward.example", smtpTarget()));
  EXPECT_TRUE(r.forwarded("postmaster", smtpTarget()));
  EXPECT_FALSE(r.forwarded("someone@outside.example", smtpTarget()));  // relayed for a client
  DeliveryTarget maildir;
  EXPECT_FALSE(r.forwarded("alice@example.test", maildir));
}

TEST(ForwardingTest, ReversesOurSrs0ToTheOriginalSender) {
  Router r = router(srsConfig());
  Expansion e = r.expand("SRS0=XOrm=6M=orig.example=alice@forward.example");
  EXPECT_EQ(e.outcome, Outcome::Accepted) << e.reason;
  EXPECT_EQ(e.recipients, (std::vector<std::string>{"alice@orig.example"}));
  // A relay smashed the case.
  e = r.expand("srs0=xorm=6m=orig.example=alice@FORWARD.example");
  EXPECT_EQ(e.recipients, (std::vector<std::string>{"alice@orig.example"}));
  // Reversed to one of our users: the usual expansion follows.
  std::string ours = r.forwardingSender("alice@example.test");
  EXPECT_EQ(ours, "alice@example.test");  // ours is never rewritten, but python3-srs may:
  srs::Rewriter py({"forward.example", {"petrel-test-secret"}});
  e = r.expand(py.forward("fwd@example.test", Vector).value());
  EXPECT_EQ(e.recipients, (std::vector<std::string>{"someone@outside.example"}));
}

TEST(ForwardingTest, ReversesSrs1ToTheFirstForwarder) {
  Router r = router(srsConfig());
  std::string srs1 = r.forwardingSender("SRS0=XOrm=6M=orig.example=alice@first.example");
  Expansion e = r.expand(srs1);
  EXPECT_EQ(e.recipients,
            (std::vector<std::string>{"SRS0=XOrm=6M=orig.example=alice@first.example"}));
}

TEST(ForwardingTest, RefusesTamperedAndExpiredWithTheCauseForTheLogOnly) {
  std::vector<std::string> trace;
  Expansion e =
      router(srsConfig()).expand("SRS0=XOrn=6M=orig.example=alice@forward.example", &trace);
  EXPECT_EQ(e.outcome, Outcome::UnknownRecipient);
  EXPECT_EQ(e.status, "5.1.1");
  EXPECT_EQ(e.reason, "User unknown in virtual mailbox table");
  EXPECT_EQ(e.log_detail, "invalid hash");
  ASSERT_FALSE(trace.empty());
  EXPECT_NE(trace.back().find("invalid hash"), std::string::npos);

  Router later = router(srsConfig(), Vector + 22 * Day);
  e = later.expand("SRS0=XOrm=6M=orig.example=alice@forward.example");
  EXPECT_EQ(e.outcome, Outcome::UnknownRecipient);
  EXPECT_EQ(e.log_detail, "expired timestamp");
  EXPECT_EQ(router(srsConfig(), Vector + 21 * Day)
                .expand("SRS0=XOrm=6M=orig.example=alice@forward.example")
                .outcome,
            Outcome::Accepted);

  e = router(srsConfig()).expand("SRS0=XOrm=6M@forward.example");
  EXPECT_EQ(e.log_detail, "bad syntax");
  // Not an SRS address at the forwarding domain: an unknown user, nothing for the log.
  e = router(srsConfig()).expand("nobody@forward.example");
  EXPECT_EQ(e.outcome, Outcome::UnknownRecipient);
  EXPECT_EQ(e.log_detail, "");
}

TEST(ForwardingTest, RotationVerifiesWithTheOldSecret) {
  config::Config cfg = srsConfig();
  cfg.srs.secrets = {"brand-new", "petrel-test-secret"};
  Router r = router(cfg);
  EXPECT_EQ(r.expand("SRS0=XOrm=6M=orig.example=alice@forward.example").recipients,
            (std::vector<std::string>{"alice@orig.example"}));
  EXPECT_NE(r.forwardingSender("alice@orig.example"),
            "SRS0=XOrm=6M=orig.example=alice@forward.example");
}

TEST(ForwardingTest, SrsDomainIsOurs) {
  Router r = router(srsConfig());
  EXPECT_EQ(r.classifyDomain("Forward.Example").kind, Router::DomainKind::Local);
}

TEST(ForwardingTest, ASenderOfItsOwnMakesADeliveryOfItsOwn) {
  MessageDeliveries md;
  DeliveryTarget plain = smtpTarget();
  DeliveryTarget forwarded = smtpTarget();
  forwarded.sender = "SRS0=XOrm=6M=orig.example=alice@forward.example";
  md.add(plain, 0);
  md.add(forwarded, 1);
  md.add(plain, 2);
  ASSERT_EQ(md.deliveries.size(), 2u);
  EXPECT_EQ(md.deliveries[0].recipients, (std::vector<size_t>{0, 2}));
  EXPECT_EQ(md.deliveries[1].recipients, (std::vector<size_t>{1}));
  EXPECT_EQ(md.deliveries[1].target.sender, forwarded.sender);
}

}  // namespace
}  // namespace petrel::delivery
