// Tests for the transport of a final address (Router::resolve in source/delivery/relay_route.cc,
// docs/transports.md): relay.transport entries that name a transport ("lmtp:unix:/path",
// "amavis:[127.0.0.1]:10024", "dovecot:"), looked up by address before domain, and
// delivery.transport for local mailboxes.
#include <gtest/gtest.h>

#include "../inline_table.h"
#include "petrel/delivery/router.h"

namespace petrel::delivery {
namespace {

using petrel::test_support::inlineTable;

config::TransportConfig transport(std::string name, config::TransportType type) {
  config::TransportConfig t;
  t.name = std::move(name);
  t.type = type;
  return t;
}

config::Config baseConfig() {
  config::Config cfg;
  cfg.hostname = "mail.example.test";
  cfg.mail_root = "/var/lib/petrel/mail";
  cfg.local_domains = {"example.test"};
  cfg.recipient_delimiter = "+";
  cfg.mailboxes = inlineTable("mailboxes", {{"alice@example.test", "example.test/alice/"},
                                            {"bob@example.test", "example.test/bob/"}});
  cfg.transports = {transport("amavis", config::TransportType::Smtp),
                    transport("dovecot", config::TransportType::Pipe)};
  return cfg;
}

Router router(const config::Config& cfg) {
  return Router(cfg, [](const std::string&) {});
}

TEST(TransportRouteTest, EntriesNameTransportsWithTheirNexthops) {
  config::Config cfg = baseConfig();
  cfg.relay.transport = inlineTable(
      "transport", {{"lmtp.test", "lmtp:unix:/run/dovecot/lmtp"},
                    {"filtered.test", "amavis:[127.0.0.1]:10024"},
                    {"piped.test", "dovecot:"},
                    {"piped2.test", "dovecot:custom-hop"},
                    {"mx.test", "smtp:"},
                    {"nohop.test", "lmtp:"},
                    {"gone.test", "removed:[10.0.0.1]"}});
  cfg.relay.relayhost = config::parseNextHop("[smarthost.test]:587").value();
  Router r = router(cfg);

  auto lmtp = r.resolve("u@lmtp.test");
  ASSERT_TRUE(lmtp) << lmtp.error().message();
  EXPECT_EQ(lmtp->transport, Transport::Lmtp);
  EXPECT_EQ(lmtp->transport_name, "lmtp");
  EXPECT_EQ(lmtp->nexthop, "unix:/run/dovecot/lmtp");

  auto filtered = r.resolve("u@filtered.test");
  ASSERT_TRUE(filtered);
  EXPECT_EQ(filtered->transport, Transport::Smtp);
  EXPECT_EQ(filtered->transport_name, "amavis");
  EXPECT_EQ(filtered->next_hop.toString(), "[127.0.0.1]:10024");

  auto piped = r.resolve("u@Piped.test");
  ASSERT_TRUE(piped);
  EXPECT_EQ(piped->transport, Transport::Pipe);
  EXPECT_EQ(piped->nexthop, "piped.test");  // pipe(8): the recipient domain by default
  EXPECT_EQ(r.resolve("u@piped2.test")->nexthop, "custom-hop");

  auto by_mx = r.resolve("u@mx.test");  // "smtp:": the domain itself, not the relayhost
  ASSERT_TRUE(by_mx);
  EXPECT_EQ(by_mx->next_hop.toString(), "mx.test");
  EXPECT_EQ(r.resolve("u@elsewhere.test")->next_hop.toString(), "[smarthost.test]:587");

  Transport attempted = Transport::Virtual;
  auto nohop = r.resolve("u@nohop.test", &attempted);
  ASSERT_FALSE(nohop);
  EXPECT_TRUE(nohop.error().temporary());
  EXPECT_EQ(attempted, Transport::Lmtp);
  auto gone = r.resolve("u@gone.test");  // a transport that is not configured (any more)
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().temporary());  // mail waits for the admin
}

TEST(TransportRouteTest, AddressEntriesComeBeforeTheDomainAndCoverLocalMailboxes) {
  config::Config cfg = baseConfig();
  cfg.relay.transport = inlineTable("transport", {{"bob@example.test", "lmtp:inet:127.0.0.1:24"},
                                                  {"x@remote.test", "amavis:[10.0.0.9]"},
                                                  {"remote.test", "[10.0.0.1]"}});
  Router r = router(cfg);
  EXPECT_EQ(r.resolve("alice@example.test")->transport, Transport::Virtual);
  auto bob = r.resolve("bob+tag@example.test");  // the address without its extension
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->transport, Transport::Lmtp);
  EXPECT_EQ(bob->nexthop, "inet:127.0.0.1:24");
  EXPECT_EQ(r.resolve("x@remote.test")->transport_name, "amavis");
  EXPECT_EQ(r.resolve("y@remote.test")->transport_name, "smtp");
  EXPECT_EQ(r.resolve("y@remote.test")->next_hop.toString(), "[10.0.0.1]");
}

TEST(TransportRouteTest, DeliveryTransportForLocalMailboxes) {
  config::Config cfg = baseConfig();
  cfg.delivery.transport = {"lmtp", "unix:/run/dovecot/lmtp"};
  Router r = router(cfg);
  auto alice = r.resolve("alice@example.test");
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->transport, Transport::Lmtp);
  EXPECT_EQ(alice->nexthop, "unix:/run/dovecot/lmtp");
  EXPECT_TRUE(alice->maildir.empty());
  EXPECT_EQ(r.resolve("u@remote.test")->transport, Transport::Smtp);  // not for other domains

  cfg.delivery.transport = {"dovecot", ""};
  EXPECT_EQ(router(cfg).resolve("alice@example.test")->nexthop, "example.test");
}

TEST(TransportRouteTest, TransportRefKnowsBuiltInAndConfiguredNames) {
  std::vector<config::TransportConfig> configured = {
      transport("amavis", config::TransportType::Smtp)};
  EXPECT_EQ(config::transportRef(configured, " amavis:[127.0.0.1]:10024 "),
            (config::TransportRef{"amavis", "[127.0.0.1]:10024"}));
  EXPECT_EQ(config::transportRef(configured, "lmtp"), (config::TransportRef{"lmtp", ""}));
  EXPECT_EQ(config::transportRef(configured, "relay:"), (config::TransportRef{"relay", ""}));
  EXPECT_FALSE(config::transportRef(configured, "[10.0.0.1]:25"));
  EXPECT_FALSE(config::transportRef(configured, "mail.example.org:587"));
  EXPECT_EQ(config::findTransport(configured, "virtual")->type, config::TransportType::Virtual);
  EXPECT_FALSE(config::findTransport(configured, "dovecot"));
}

// An after-queue content filter (docs/filters.md): the message's filter replaces every
// recipient's own target, local or remote, table entry or not; without one, resolve().
TEST(TransportRouteTest, ContentFilterTakesEveryRecipientOfTheMessage) {
  config::Config cfg = baseConfig();
  cfg.relay.transport = inlineTable("transport", {{"piped.test", "dovecot:"}});
  Router r = router(cfg);
  for (const char* address : {"alice@example.test", "someone@remote.test", "x@piped.test",
                              "nobody@example.test"}) {
    Transport attempted = Transport::Virtual;
    auto t = r.resolveMessage(address, "amavis:[127.0.0.1]:10024", &attempted);
    ASSERT_TRUE(t) << address << ": " << t.error().message();
    EXPECT_EQ(attempted, Transport::Smtp);
    EXPECT_EQ(t->transport, Transport::Smtp);
    EXPECT_EQ(t->transport_name, "amavis");
    EXPECT_EQ(t->next_hop, config::parseNextHop("[127.0.0.1]:10024").value()) << address;
  }
  // The recipients of one message share the target: one delivery, one filter transaction.
  EXPECT_EQ(r.resolveMessage("alice@example.test", "amavis:[127.0.0.1]:10024").value(),
            r.resolveMessage("someone@remote.test", "amavis:[127.0.0.1]:10024").value());
  // No filter: the usual route.
  auto plain = r.resolveMessage("alice@example.test", "");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->transport, Transport::Virtual);
  EXPECT_EQ(r.resolveMessage("x@piped.test", "")->transport_name, "dovecot");
  // A pipe filter without nexthop gets the recipient domain, as pipe(8).
  auto piped = r.resolveMessage("alice@example.test", "dovecot:");
  ASSERT_TRUE(piped);
  EXPECT_EQ(piped->nexthop, "example.test");
  // A transport that a reload removed: the message waits.
  auto gone = r.resolveMessage("alice@example.test", "scanner:[127.0.0.1]:10024");
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().temporary());
  EXPECT_NE(gone.error().message().find("content filter scanner:[127.0.0.1]:10024"),
            std::string::npos);
  auto bad_hop = r.resolveMessage("alice@example.test", "amavis:[127.0.0.1]:99999");
  ASSERT_FALSE(bad_hop);
  EXPECT_TRUE(bad_hop.error().temporary());
}

}  // namespace
}  // namespace petrel::delivery
