// Tests for server/generated_mail.cc: mail made at delivery as the queue holds it: stamped,
// from "local", its recipients expanded through the router's aliases, and DKIM-signed only
// when it is our own mail (dkim_sign) and dkim.sign has an entry for its From: domain.
#include "petrel/server/generated_mail.h"

#include <gtest/gtest.h>

#include <string>

#include "../inline_table.h"
#include "petrel/server/stage_check.h"
#include "petrel/tls/crypto.h"

namespace petrel::server {
namespace {

using petrel::test_support::inlineTable;

Snapshot snapshotWithSigning() {
  config::Config cfg;
  cfg.hostname = "mx.example.test";
  cfg.mail_root = "/var/lib/petrel/mail";
  cfg.local_domains = {"example.test"};
  cfg.mailboxes = inlineTable("boxes", {{"alice@example.test", "example.test/alice/"},
                                        {"carol@example.test", "example.test/carol/"}});
  cfg.aliases = {
      inlineTable("aliases", {{"team@example.test", "alice@example.test, carol@example.test"}})};
  auto snap = routingSnapshot(cfg, [](const std::string&) {});
  EXPECT_TRUE(snap) << snap.error().message();
  dkim::SignSpec s;
  s.domain = "example.test";
  s.selector = "v1";
  s.key = *tls::PrivateKey::generateEd25519();
  s.algorithm = dkim::Algorithm::Ed25519Sha256;
  snap->dkim_signing = std::make_shared<const std::vector<dkim::SignSpec>>(1, s);
  return *snap;
}

constexpr const char* Reply =
    "From: alice@example.test\r\nTo: <bob@example.net>\r\nSubject: Auto: x\r\n"
    "Date: Mon, 7 Dec 2026 16:00:00 +0000\r\nMessage-ID: <r@mx.example.test>\r\n\r\nAway.\r\n";

TEST(QueueGeneratedTest, StampedFromLocalAndExpanded) {
  Snapshot snap = snapshotWithSigning();
  delivery::GeneratedMessage g;
  g.kind = "sieve redirect";
  g.sender = "bob@example.net";
  g.recipients = {"team@example.test", "far@remote.test"};
  g.content = Reply;
  QueuedGenerated q = queueGenerated(std::move(g), snap);
  EXPECT_EQ(q.kind, "sieve redirect");
  const queue::StoredMessage& m = q.message;
  EXPECT_EQ(m.id.size(), 12u);
  EXPECT_GT(m.arrival_us, 0);
  EXPECT_EQ(m.client, "local");
  EXPECT_EQ(m.protocol, "LOCAL");
  EXPECT_EQ(m.sender, "bob@example.net");
  EXPECT_EQ(m.body, Reply);  // a forwarded copy is not signed again
  EXPECT_EQ(m.size, m.body.size());
  ASSERT_EQ(m.recipients.size(), 3u);
  EXPECT_EQ(m.recipients[0].address, "alice@example.test");
  EXPECT_EQ(m.recipients[0].orig_address, "team@example.test");
  EXPECT_EQ(m.recipients[1].address, "carol@example.test");
  EXPECT_EQ(m.recipients[2].address, "far@remote.test");
  EXPECT_EQ(m.recipients[2].idx, 2);
}

TEST(QueueGeneratedTest, OurOwnMailIsSignedWhenItsDomainSigns) {
  Snapshot snap = snapshotWithSigning();
  delivery::GeneratedMessage g;
  g.kind = "vacation reply";
  g.recipients = {"bob@example.net"};
  g.content = Reply;
  g.dkim_sign = true;
  QueuedGenerated q = queueGenerated(std::move(g), snap);
  EXPECT_TRUE(q.message.body.starts_with("DKIM-Signature: v=1; a=ed25519-sha256;"))
      << q.message.body;
  EXPECT_NE(q.message.body.find("d=example.test"), std::string::npos);
  EXPECT_TRUE(q.message.body.ends_with(Reply));
  EXPECT_EQ(q.message.sender, "");
  // Another From: domain: nothing signs it.
  delivery::GeneratedMessage other;
  other.kind = "vacation reply";
  other.recipients = {"bob@example.net"};
  other.content = "From: x@other.test\r\n\r\nAway.\r\n";
  other.dkim_sign = true;
  EXPECT_EQ(queueGenerated(std::move(other), snap).message.body,
            "From: x@other.test\r\n\r\nAway.\r\n");
}

TEST(QueueGeneratedTest, ARedirectToAForeignDomainGetsTheSrsSender) {
  config::Config cfg;
  cfg.hostname = "mx.example.test";
  cfg.mail_root = "/var/lib/petrel/mail";
  cfg.local_domains = {"example.test"};
  cfg.mailboxes = inlineTable("boxes", {{"alice@example.test", "example.test/alice/"}});
  cfg.srs.domain = "example.test";
  cfg.srs.secrets = {"s3cret"};
  auto snap = routingSnapshot(cfg, [](const std::string&) {});
  ASSERT_TRUE(snap) << snap.error().message();
  auto redirect = [&](std::string target) {
    delivery::GeneratedMessage g;
    g.kind = "sieve redirect";
    g.sender = "bob@example.net";
    g.recipients = {std::move(target)};
    g.content = Reply;
    return queueGenerated(std::move(g), *snap).message.sender;
  };
  std::string foreign = redirect("carol@example.org");
  EXPECT_EQ(foreign.rfind("SRS0=", 0), 0u) << foreign;
  EXPECT_TRUE(foreign.ends_with("=example.net=bob@example.test")) << foreign;
  EXPECT_EQ(redirect("alice@example.test"), "bob@example.net");  // local: not forwarding
}

}  // namespace
}  // namespace petrel::server
