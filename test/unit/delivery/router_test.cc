// Tests for delivery::Router (source/delivery/router.cc): alias expansion, mailbox checks,
// Maildir paths and table failures, over inline and file tables.
#include "petrel/delivery/router.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "../inline_table.h"

namespace petrel::delivery {
namespace {

using Outcome = Expansion::Outcome;
using Recipients = std::vector<std::string>;

using petrel::test_support::inlineTable;

// The quick-start setup plus a second local domain.
config::Config baseConfig() {
  config::Config cfg;
  cfg.hostname = "mail.example.test";
  cfg.mail_root = "/var/lib/petrel/mail";
  cfg.local_domains = {"example.test", "other.test"};
  cfg.recipient_delimiter = "+";
  cfg.mailboxes = inlineTable("mailboxes", {
                                               {"alice@example.test", "example.test/alice/"},
                                               {"bob@example.test", "example.test/bob/"},
                                               {"carol@example.test", "yes"},
                                               {"dave@other.test", "/srv/mail/dave/"},
                                           });
  cfg.aliases = {inlineTable("aliases", {{"postmaster@example.test", "alice@example.test"}})};
  return cfg;
}

class RouterTest : public ::testing::Test {
 protected:
  Router router(const config::Config& cfg) {
    return Router(cfg, [this](const std::string& w) { warnings_.push_back(w); });
  }
  std::vector<std::string> warnings_;
};

void expectAccepted(const Expansion& e, const Recipients& recipients) {
  EXPECT_EQ(e.outcome, Outcome::Accepted) << e.status << " " << e.reason;
  EXPECT_EQ(e.recipients, recipients);
  EXPECT_EQ(e.status, "2.1.5");
}

TEST_F(RouterTest, AcceptsAMailboxAddress) {
  Router r = router(baseConfig());
  expectAccepted(r.expand("alice@example.test"), {"alice@example.test"});
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(RouterTest, DomainIsCaseInsensitiveAndLocalPartKeepsItsCase) {
  Router r = router(baseConfig());
  EXPECT_TRUE(r.isLocalDomain("Example.TEST"));
  EXPECT_FALSE(r.isLocalDomain("example.org"));
  expectAccepted(r.expand("Alice@EXAMPLE.test"), {"Alice@example.test"});
  EXPECT_EQ(r.maildirFor("Alice@EXAMPLE.test").value(), "/var/lib/petrel/mail/example.test/alice/");
}

TEST_F(RouterTest, RecipientDelimiterFallsBackToTheBaseAddress) {
  Router r = router(baseConfig());
  expectAccepted(r.expand("alice+lists@example.test"), {"alice+lists@example.test"});
  EXPECT_EQ(r.maildirFor("alice+lists@example.test").value(),
            "/var/lib/petrel/mail/example.test/alice/");
  // A local part starting with the delimiter has no base address.
  EXPECT_EQ(r.expand("+alice@example.test").outcome, Outcome::UnknownRecipient);
}

TEST_F(RouterTest, FullAddressWithExtensionIsLookedUpFirst) {
  config::Config cfg = baseConfig();
  cfg.aliases.push_back(inlineTable("tags", {{"alice+spam@example.test", "bob@example.test"}}));
  Router r = router(cfg);
  expectAccepted(r.expand("alice+spam@example.test"), {"bob@example.test"});
  expectAccepted(r.expand("alice+ham@example.test"), {"alice+ham@example.test"});
}

TEST_F(RouterTest, WithoutDelimiterTheExtensionIsPartOfTheName) {
  config::Config cfg = baseConfig();
  cfg.recipient_delimiter = "";
  Router r = router(cfg);
  EXPECT_EQ(r.expand("alice+tag@example.test").outcome, Outcome::UnknownRecipient);
}

TEST_F(RouterTest, UnknownUserIsRejected) {
  Router r = router(baseConfig());
  Expansion e = r.expand("nobody@example.test");
  EXPECT_EQ(e.outcome, Outcome::UnknownRecipient);
  EXPECT_EQ(e.status, "5.1.1");
  EXPECT_EQ(e.reason, "User unknown in virtual mailbox table");
  EXPECT_TRUE(e.recipients.empty());
}

TEST_F(RouterTest, NonLocalDomainAtTopLevelIsNotAccepted) {
  Router r = router(baseConfig());
  Expansion e = r.expand("someone@example.org");
  EXPECT_EQ(e.outcome, Outcome::NonLocalDomain);
  EXPECT_TRUE(e.recipients.empty());
}

TEST_F(RouterTest, BadSyntaxIsAPermanentFailure) {
  Router r = router(baseConfig());
  for (const char* bad : {"", "alice", "@example.test", "alice@"}) {
    Expansion e = r.expand(bad);
    EXPECT_EQ(e.outcome, Outcome::PermanentFailure) << bad;
    EXPECT_EQ(e.status, "5.1.3") << bad;
  }
}

TEST_F(RouterTest, AliasToManyKeepsOrderAndDropsDuplicates) {
  config::Config cfg = baseConfig();
  cfg.aliases[0].entries["team@example.test"] =
      "bob@example.test, alice@example.test  carol@example.test,BOB@example.test";
  Router r = router(cfg);
  expectAccepted(r.expand("team@example.test"),
                 {"bob@example.test", "alice@example.test", "carol@example.test"});
}

TEST_F(RouterTest, AliasesExpandRecursivelyAcrossTables) {
  config::Config cfg = baseConfig();
  cfg.aliases[0].entries["all@example.test"] = "staff@example.test, friends@example.org";
  cfg.aliases.push_back(inlineTable("more", {{"staff@example.test", "postmaster, bob@example.test"},
                                             {"shared@other.test", "all@example.test"}}));
  Router r = router(cfg);
  // "postmaster" in a value means postmaster@<the alias's domain>, itself an alias of alice.
  expectAccepted(r.expand("all@example.test"),
                 {"alice@example.test", "bob@example.test", "friends@example.org"});
  expectAccepted(r.expand("shared@other.test"),
                 {"alice@example.test", "bob@example.test", "friends@example.org"});
}

TEST_F(RouterTest, ExactKeyInALaterTableBeatsCatchAllInAnEarlierOne) {
  config::Config cfg = baseConfig();
  cfg.aliases[0].entries["@other.test"] = "alice@example.test";
  cfg.aliases.push_back(inlineTable("later", {{"sales@other.test", "bob@example.test"}}));
  Router r = router(cfg);
  expectAccepted(r.expand("sales@other.test"), {"bob@example.test"});
}

TEST_F(RouterTest, DiamondShapedAliasesAreNotALoop) {
  config::Config cfg = baseConfig();
  cfg.aliases[0].entries["top@example.test"] = "left@example.test right@example.test";
  cfg.aliases[0].entries["left@example.test"] = "bottom@example.test";
  cfg.aliases[0].entries["right@example.test"] = "bottom@example.test";
  cfg.aliases[0].entries["bottom@example.test"] = "bob@example.test";
  Router r = router(cfg);
  expectAccepted(r.expand("top@example.test"), {"bob@example.test"});
}

TEST_F(RouterTest, AliasLoopIsAPermanentFailure) {
  config::Config cfg = baseConfig();
  cfg.aliases[0].entries["a@example.test"] = "b@example.test";
  cfg.aliases[0].entries["b@example.test"] = "c@example.test";
  cfg.aliases[0].entries["c@example.test"] = "bob@example.test, A@Example.test";
  Router r = router(cfg);
  Expansion e = r.expand("a@example.test");
  EXPECT_EQ(e.outcome, Outcome::PermanentFailure);
  EXPECT_EQ(e.status, "5.4.6");
  EXPECT_EQ(e.reason, "alias loop");
  EXPECT_TRUE(e.recipients.empty());
}

TEST_F(RouterTest, OverlyDeepAliasChainIsTreatedAsALoop) {
  config::Config cfg = baseConfig();
  for (int i = 0; i < 30; ++i) {
    cfg.aliases[0].entries["hop" + std::to_string(i) + "@example.test"] =
        "hop" + std::to_string(i + 1) + "@example.test";
  }
  cfg.aliases[0].entries["hop30@example.test"] = "bob@example.test";
  Router r = router(cfg);
  // hop11 .. hop30 are 20 nested aliases: the limit. One more is too deep.
  expectAccepted(r.expand("hop11@example.test"), {"bob@example.test"});
  Expansion e = r.expand("hop10@example.test");
  EXPECT_EQ(e.outcome, Outcome::PermanentFailure);
  EXPECT_EQ(e.status, "5.4.6");
}

TEST_F(RouterTest, AnAddressMappedToItselfIsDelivered) {
  config::Config cfg = baseConfig();
  cfg.aliases[0].entries["alice@example.test"] = "alice@example.test, archive@example.org";
  Router r = router(cfg);
  expectAccepted(r.expand("alice@example.test"), {"alice@example.test", "archive@example.org"});
}

TEST_F(RouterTest, SelfMappingWithoutMailboxIsUnknown) {
  config::Config cfg = baseConfig();
  cfg.aliases[0].entries["ghost@example.test"] = "ghost@example.test";
  Router r = router(cfg);
  EXPECT_EQ(r.expand("ghost@example.test").outcome, Outcome::UnknownRecipient);
}

TEST_F(RouterTest, AliasTargetWithoutMailboxMakesTheRecipientUnknown) {
  config::Config cfg = baseConfig();
  cfg.aliases[0].entries["list@example.test"] = "bob@example.test, gone@example.test";
  Router r = router(cfg);
  Expansion e = r.expand("list@example.test");
  EXPECT_EQ(e.outcome, Outcome::UnknownRecipient);
  EXPECT_EQ(e.status, "5.1.1");
  EXPECT_EQ(e.reason, "<gone@example.test>: User unknown in virtual mailbox table");
}

TEST_F(RouterTest, CatchAllTakesAddressesWithoutAliasOrMailbox) {
  config::Config cfg = baseConfig();
  cfg.aliases[0].entries["@example.test"] = "bob@example.test";
  cfg.aliases[0].entries["sales@example.test"] = "carol@example.test";
  Router r = router(cfg);
  expectAccepted(r.expand("anything@example.test"), {"bob@example.test"});
  expectAccepted(r.expand("Whatever+tag@EXAMPLE.test"), {"bob@example.test"});
  expectAccepted(r.expand("sales@example.test"), {"carol@example.test"});
  expectAccepted(r.expand("alice@example.test"), {"alice@example.test"});  // has a mailbox
  EXPECT_EQ(r.expand("anything@other.test").outcome, Outcome::UnknownRecipient);
}

TEST_F(RouterTest, CatchAllToAnAddressWithoutMailboxIsUnknownNotAHang) {
  config::Config cfg = baseConfig();
  cfg.aliases[0].entries["@example.test"] = "typo@example.test";
  Router r = router(cfg);
  // typo@ falls into the catch-all again, which maps it to itself: final, but no mailbox.
  Expansion e = r.expand("someone@example.test");
  EXPECT_EQ(e.outcome, Outcome::UnknownRecipient);
  EXPECT_EQ(e.reason, "<typo@example.test>: User unknown in virtual mailbox table");
}

TEST_F(RouterTest, CatchAllCycleBetweenDomainsIsALoop) {
  config::Config cfg = baseConfig();
  cfg.aliases[0].entries["@example.test"] = "x@other.test";
  cfg.aliases[0].entries["@other.test"] = "y@example.test";
  Router r = router(cfg);
  Expansion e = r.expand("someone@example.test");
  EXPECT_EQ(e.outcome, Outcome::PermanentFailure);
  EXPECT_EQ(e.status, "5.4.6");
  EXPECT_EQ(e.reason, "alias loop");
}

TEST_F(RouterTest, PostmasterWithoutDomainMeansTheFirstLocalDomain) {
  Router r = router(baseConfig());
  expectAccepted(r.expand("postmaster"), {"alice@example.test"});
  expectAccepted(r.expand("PostMaster"), {"alice@example.test"});
  expectAccepted(r.expand("POSTMASTER@Example.Test"), {"alice@example.test"});
  EXPECT_EQ(r.expand("postmaster@other.test").outcome, Outcome::UnknownRecipient);
}

TEST_F(RouterTest, ExpansionToNonLocalAddressesIsKeptForRelaying) {
  config::Config cfg = baseConfig();
  cfg.aliases[0].entries["fwd@example.test"] = "Someone@Gmail.example";
  Router r = router(cfg);
  expectAccepted(r.expand("fwd@example.test"), {"Someone@gmail.example"});
}

TEST_F(RouterTest, ExpansionSizeIsLimited) {
  config::Config cfg = baseConfig();
  std::string many;
  for (size_t i = 0; i <= Router::MaxExpansionRecipients; ++i) {
    many += "user" + std::to_string(i) + "@example.org ";
  }
  cfg.aliases[0].entries["huge@example.test"] = many;
  Router r = router(cfg);
  Expansion e = r.expand("huge@example.test");
  EXPECT_EQ(e.outcome, Outcome::PermanentFailure);
  EXPECT_EQ(e.status, "5.4.6");
}

TEST_F(RouterTest, EmptyAliasValueDefers) {
  config::Config cfg = baseConfig();
  cfg.aliases[0].entries["empty@example.test"] = " , ,";
  Router r = router(cfg);
  Expansion e = r.expand("empty@example.test");
  EXPECT_EQ(e.outcome, Outcome::TemporaryFailure);
  EXPECT_EQ(e.status, "4.3.5");
}

TEST_F(RouterTest, MaildirPathRules) {
  config::Config cfg = baseConfig();
  cfg.mail_root = "/var/lib/petrel/mail/";  // a trailing '/' is tolerated
  cfg.mailboxes->entries["Eve@Example.Test"] = "anything-but-a-path";
  Router r = router(cfg);
  // Relative path below mail_root.
  EXPECT_EQ(r.maildirFor("bob@example.test").value(), "/var/lib/petrel/mail/example.test/bob/");
  // Any non-path value: <mail_root>/<domain>/<localpart>/, lower-cased.
  EXPECT_EQ(r.maildirFor("CAROL@example.test").value(), "/var/lib/petrel/mail/example.test/carol/");
  EXPECT_EQ(r.maildirFor("eve@example.test").value(), "/var/lib/petrel/mail/example.test/eve/");
  // Absolute path as given.
  EXPECT_EQ(r.maildirFor("dave@other.test").value(), "/srv/mail/dave/");
  // Bare postmaster works here too when it has a mailbox entry.
  EXPECT_FALSE(r.maildirFor("postmaster").ok());
}

TEST_F(RouterTest, MaildirForFailures) {
  Router r = router(baseConfig());
  Result<std::string> unknown = r.maildirFor("nobody@example.test");
  ASSERT_FALSE(unknown.ok());
  EXPECT_FALSE(unknown.error().temporary());
  Result<std::string> remote = r.maildirFor("someone@example.org");
  ASSERT_FALSE(remote.ok());
  EXPECT_FALSE(remote.error().temporary());
}

TEST_F(RouterTest, DotDotInAMailboxPathIsRefusedAndDefers) {
  config::Config cfg = baseConfig();
  cfg.mailboxes->entries["mallory@example.test"] = "example.test/../../../etc/";
  cfg.mailboxes->entries["trudy@example.test"] = "/srv/mail/../root/";
  cfg.mailboxes->entries["fine@example.test"] = "example.test/..hidden/";
  Router r = router(cfg);
  for (const char* address : {"mallory@example.test", "trudy@example.test"}) {
    Result<std::string> path = r.maildirFor(address);
    ASSERT_FALSE(path.ok()) << address;
    EXPECT_TRUE(path.error().temporary()) << address;
    EXPECT_NE(path.error().message().find(".."), std::string::npos);
    Expansion e = r.expand(address);
    EXPECT_EQ(e.outcome, Outcome::TemporaryFailure) << address;
    EXPECT_EQ(e.status, "4.3.5") << address;
  }
  EXPECT_EQ(r.maildirFor("fine@example.test").value(),
            "/var/lib/petrel/mail/example.test/..hidden/");
}

TEST_F(RouterTest, NoMailboxTableMeansEveryLocalUserIsUnknown) {
  config::Config cfg = baseConfig();
  cfg.mailboxes.reset();
  Router r = router(cfg);
  EXPECT_EQ(r.expand("alice@example.test").outcome, Outcome::UnknownRecipient);
  EXPECT_EQ(r.expand("postmaster").outcome, Outcome::UnknownRecipient);
}

TEST_F(RouterTest, UnknownTableTypeDefersWithConfigurationError) {
  config::Config cfg = baseConfig();
  cfg.aliases[0].type = "nis";
  Router r = router(cfg);
  EXPECT_EQ(warnings_.size(), 1u);
  Expansion e = r.expand("alice@example.test");
  EXPECT_EQ(e.outcome, Outcome::TemporaryFailure);
  EXPECT_EQ(e.status, "4.3.5");
}

class RouterFileTableTest : public RouterTest {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/petrel-router-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(RouterFileTableTest, MissingAliasFileTempFailsUntilItAppears) {
  config::Config cfg = baseConfig();
  config::TableSpec file;
  file.name = "virtual";
  file.type = "file";
  file.path = dir_ + "/virtual";
  cfg.aliases.push_back(file);
  Router r = router(cfg);
  ASSERT_EQ(warnings_.size(), 1u);

  // Every local address must consult every alias table, so all of them defer...
  for (const char* address : {"alice@example.test", "postmaster@example.test"}) {
    Expansion e = r.expand(address);
    EXPECT_EQ(e.outcome, Outcome::TemporaryFailure) << address;
    EXPECT_EQ(e.status, "4.3.0") << address;
    EXPECT_EQ(e.reason, "table file:" + file.path + ": cannot open: No such file or directory")
        << address;
  }
  // ...while relaying decisions do not depend on the tables.
  EXPECT_EQ(r.expand("someone@example.org").outcome, Outcome::NonLocalDomain);

  std::FILE* f = std::fopen(file.path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("sales@example.test bob@example.test\n", f);
  std::fclose(f);
  r.refreshTables();
  expectAccepted(r.expand("alice@example.test"), {"alice@example.test"});
  expectAccepted(r.expand("sales@example.test"), {"bob@example.test"});
}

TEST_F(RouterFileTableTest, MissingMailboxFileTempFails) {
  config::Config cfg = baseConfig();
  cfg.mailboxes->type = "file";
  cfg.mailboxes->path = dir_ + "/mailboxes";
  Router r = router(cfg);
  Expansion e = r.expand("bob@example.test");
  EXPECT_EQ(e.outcome, Outcome::TemporaryFailure);
  EXPECT_EQ(e.status, "4.3.0");
  Result<std::string> path = r.maildirFor("bob@example.test");
  ASSERT_FALSE(path.ok());
  EXPECT_TRUE(path.error().temporary());
}

}  // namespace
}  // namespace petrel::delivery

namespace petrel::delivery {
namespace {

TEST(PostmasterCheckTest, EveryLocalDomainNeedsAPostmaster) {
  config::Config cfg = baseConfig();
  cfg.local_domain_origins = {"petrel.yaml:9:12", "petrel.yaml:9:26"};
  Router r(cfg, [](const std::string&) {});
  auto errors = checkPostmaster(cfg, r);
  ASSERT_EQ(errors.size(), 1u);  // example.test has one, other.test does not
  EXPECT_EQ(errors[0].where, "petrel.yaml:9:26");
  EXPECT_NE(errors[0].message.find("postmaster@other.test"), std::string::npos);

  cfg.aliases[0].entries["@other.test"] = "dave@other.test";  // a catch-all covers it too
  Router fixed(cfg, [](const std::string&) {});
  EXPECT_TRUE(checkPostmaster(cfg, fixed).empty());
}

TEST_F(RouterTest, ResolveGivesMaildirOrNextHopWithTheirErrors) {
  config::Config cfg = baseConfig();
  cfg.relay.transport = inlineTable("transport", {{"example.org", "smtp:[10.0.0.5]:2525"},
                                                  {"broken.test", "[no-bracket"}});
  cfg.relay.tls_policy = inlineTable("tlspol", {{"elsewhere.test", "verify"}});
  Router r = router(cfg);
  Transport attempted = Transport::Smtp;
  auto local = r.resolve("bob@example.test", &attempted);
  ASSERT_TRUE(local);
  EXPECT_EQ(local->transport, Transport::Virtual);
  EXPECT_EQ(attempted, Transport::Virtual);
  EXPECT_EQ(local->maildir, "/var/lib/petrel/mail/example.test/bob/");
  EXPECT_EQ(agentName(local->transport), "maildir");

  auto relayed = r.resolve("x@example.org", &attempted);
  ASSERT_TRUE(relayed);
  EXPECT_EQ(relayed->transport, Transport::Smtp);
  EXPECT_EQ(agentName(relayed->transport), "smtp");
  EXPECT_EQ(relayed->next_hop.toString(), "[10.0.0.5]:2525");
  EXPECT_EQ(relayed->tls, config::TlsPolicy::May);  // the policy of the host, not the domain
  auto by_mx = r.resolve("y@elsewhere.test");
  ASSERT_TRUE(by_mx);
  EXPECT_EQ(by_mx->tls, config::TlsPolicy::Verify);  // MX lookup: the domain's policy

  auto unknown = r.resolve("nobody@example.test", &attempted);
  ASSERT_FALSE(unknown);
  EXPECT_FALSE(unknown.error().temporary());  // bounce
  EXPECT_EQ(attempted, Transport::Virtual);
  attempted = Transport::Virtual;
  auto broken = r.resolve("z@broken.test", &attempted);
  ASSERT_FALSE(broken);
  EXPECT_TRUE(broken.error().temporary());  // waits for the admin
  EXPECT_EQ(attempted, Transport::Smtp);
}

}  // namespace
TEST_F(RouterTest, NextHopTransportThenRelayhostThenMx) {
  config::Config cfg = baseConfig();
  cfg.relay_domains = {"partner.test"};
  cfg.relay.transport = inlineTable("transport", {{"example.org", "smtp:[10.0.0.5]:2525"},
                                                  {".sub.test", "gw.sub.test"},
                                                  {"broken.test", "[no-bracket"}});
  cfg.relay.relayhost = config::parseNextHop("[smarthost.test]:587").value();
  Router r = router(cfg);
  EXPECT_EQ(r.nextHop("Example.ORG")->toString(), "[10.0.0.5]:2525");
  EXPECT_EQ(r.nextHop("a.b.sub.test")->toString(), "gw.sub.test");   // parent entry
  EXPECT_EQ(r.nextHop("sub.test")->toString(), "[smarthost.test]:587");  // ".sub.test" is below
  EXPECT_EQ(r.nextHop("elsewhere.test")->toString(), "[smarthost.test]:587");
  EXPECT_EQ(r.nextHop("partner.test")->toString(), "partner.test");  // relay domain: its MX
  auto broken = r.nextHop("broken.test");
  ASSERT_FALSE(broken);
  EXPECT_TRUE(broken.error().temporary());
  EXPECT_NE(broken.error().message().find("missing ']'"), std::string::npos);

  cfg.relay.relayhost.reset();
  EXPECT_EQ(router(cfg).nextHop("elsewhere.test")->toString(), "elsewhere.test");
}

TEST_F(RouterTest, TlsPolicyPerDomainNeverWeakenedByABadEntry) {
  config::Config cfg = baseConfig();
  cfg.relay.tls = config::TlsPolicy::May;
  cfg.relay.tls_policy = inlineTable("tlspol", {{"bank.test", "verify"},
                                                {".legacy.test", "none"},
                                                {"typo.test", "verfy"}});
  Router r = router(cfg);
  EXPECT_EQ(r.tlsPolicy("bank.test"), config::TlsPolicy::Verify);
  EXPECT_EQ(r.tlsPolicy("old.legacy.test"), config::TlsPolicy::None);
  EXPECT_EQ(r.tlsPolicy("other.test"), config::TlsPolicy::May);
  EXPECT_EQ(r.tlsPolicy("typo.test"), config::TlsPolicy::Encrypt);
}

TEST_F(RouterTest, DomainsFromTablesAndTheirFailures) {
  config::Config cfg = baseConfig();
  cfg.local_domains = {};
  cfg.local_domains_table = inlineTable("domains", {{"example.test", "1"}});
  config::TableSpec backups;
  backups.name = "file:/nonexistent/backup-domains";
  backups.type = "file";
  backups.path = "/nonexistent/backup-domains";  // cannot load: every lookup is TempFail
  cfg.relay_domains_table = backups;
  Router r = router(cfg);
  using Kind = Router::DomainKind;
  EXPECT_EQ(r.classifyDomain("Example.TEST").kind, Kind::Local);
  expectAccepted(r.expand("alice@example.test"), {"alice@example.test"});
  // Not local, and the relay table cannot answer: temporary, never "Relay access denied".
  Router::DomainClass c = r.classifyDomain("elsewhere.test");
  EXPECT_EQ(c.kind, Kind::TempFail);
  EXPECT_NE(c.error.find("/nonexistent/backup-domains"), std::string::npos) << c.error;
  Expansion e = r.expand("someone@elsewhere.test");
  EXPECT_EQ(e.outcome, Outcome::TemporaryFailure);
  EXPECT_EQ(e.status, "4.3.0");
  // With a relayhost, whether the domain is a relay domain decides the next hop: no guess.
  cfg.relay.relayhost = config::parseNextHop("[smarthost.test]").value();
  EXPECT_FALSE(router(cfg).nextHop("elsewhere.test"));
  cfg.relay.relayhost.reset();

  cfg.relay_domains_table = inlineTable("backups", {{"partner.test", "1"}});
  Router r2 = router(cfg);
  EXPECT_EQ(r2.classifyDomain("partner.test").kind, Kind::Relay);
  EXPECT_EQ(r2.classifyDomain("elsewhere.test").kind, Kind::Other);
}

TEST_F(RouterTest, CanonicalMapsRewriteEnvelopeAddresses) {
  config::Config cfg = baseConfig();
  cfg.canonical_recipient = inlineTable("rcanon", {{"info@example.test", "bob@example.test"},
                                                   {"@old.test", "@example.test"},
                                                   {"broken@example.test", "not an address"}});
  cfg.canonical_sender = inlineTable("scanon", {{"alice@example.test", "Alice.Smith@example.test"}});
  Router r = router(cfg);
  EXPECT_EQ(r.canonicalRecipient("Info@Example.TEST").value(), "bob@example.test");
  EXPECT_EQ(r.canonicalRecipient("Carol@old.test").value(), "Carol@example.test");  // user kept
  EXPECT_EQ(r.canonicalRecipient("dave@other.test").value(), "dave@other.test");   // no entry
  EXPECT_EQ(r.canonicalRecipient("").value(), "");
  auto broken = r.canonicalRecipient("broken@example.test");
  ASSERT_FALSE(broken);
  EXPECT_TRUE(broken.error().temporary());
  EXPECT_EQ(r.canonicalSender("alice@example.test").value(), "Alice.Smith@example.test");
  EXPECT_EQ(r.canonicalSender("").value(), "");  // the null sender stays null
  cfg.canonical_sender.reset();
  EXPECT_EQ(router(cfg).canonicalSender("alice@example.test").value(), "alice@example.test");
}

// A table row (SQL, LDAP) with a line break must not reach an SMTP command or a header field.
TEST_F(RouterTest, TableValuesWithControlCharactersAreRefusedTemporarily) {
  config::Config cfg = baseConfig();
  cfg.canonical_sender = inlineTable("scanon", {{"alice@example.test", "a@example.test\r\nBcc: x@y"}});
  cfg.canonical_recipient = inlineTable("rcanon", {{"info@example.test", "bob@example.test\nX: y"}});
  cfg.aliases = {inlineTable("aliases", {{"postmaster@example.test", "alice@example.test"},
                                         {"team@example.test", "bob@example.test\r\nX: y"},
                                         {"ops@example.test", "bob\r\nX: y"},
                                         {"tab@example.test", "alice@example.test,\x7f"}})};
  Router r = router(cfg);
  for (auto rewritten : {r.canonicalSender("alice@example.test"),
                         r.canonicalRecipient("info@example.test")}) {
    ASSERT_FALSE(rewritten);
    EXPECT_TRUE(rewritten.error().temporary());
  }
  for (const char* alias : {"team@example.test", "ops@example.test", "tab@example.test"}) {
    Expansion e = r.expand(alias);
    EXPECT_EQ(e.outcome, Outcome::TemporaryFailure) << alias;
    EXPECT_EQ(e.status, "4.3.5") << alias;
  }
}

}  // namespace petrel::delivery
