// Tests for server/local_submission.cc: a sendmail record made into a queued message: from
// "local", the pickup Received: field, canonical.recipient, aliases, duplicates removed, DSN
// fields, DKIM-signed as our own mail, the size limit.
#include <gtest/gtest.h>

#include <string>

#include "../inline_table.h"
#include "petrel/server/pickup.h"
#include "petrel/server/stage_check.h"
#include "petrel/tls/crypto.h"

namespace petrel::server {
namespace {

using petrel::test_support::inlineTable;

Snapshot snapshot(bool sign) {
  config::Config cfg;
  cfg.hostname = "mx.example.test";
  cfg.mail_root = "/var/lib/petrel/mail";
  cfg.local_domains = {"example.test"};
  cfg.limits.message_size = 1000;
  cfg.mailboxes = inlineTable("boxes", {{"alice@example.test", "example.test/alice/"},
                                        {"carol@example.test", "example.test/carol/"}});
  cfg.aliases = {
      inlineTable("aliases", {{"team@example.test", "alice@example.test, carol@example.test"}})};
  cfg.canonical_recipient = inlineTable("canonical", {{"old@example.test", "carol@example.test"}});
  auto snap = routingSnapshot(cfg, [](const std::string&) {});
  EXPECT_TRUE(snap) << snap.error().message();
  if (sign) {
    dkim::SignSpec s;
    s.domain = "example.test";
    s.selector = "v1";
    s.key = *tls::PrivateKey::generateEd25519();
    s.algorithm = dkim::Algorithm::Ed25519Sha256;
    snap->dkim_signing = std::make_shared<const std::vector<dkim::SignSpec>>(1, s);
  }
  return *snap;
}

constexpr const char* Content =
    "From: alice@example.test\r\nTo: team@example.test\r\nSubject: s\r\n"
    "Date: Mon, 7 Dec 2026 16:00:00 +0000\r\nMessage-ID: <m@mx.example.test>\r\n\r\nHi.\r\n";

queue::MaildropRecord record() {
  queue::MaildropRecord r;
  r.sender = "alice@example.test";
  r.recipients = {"team@example.test", "old@example.test", "far@remote.test"};
  r.notify = "success,failure";
  r.ret = "hdrs";
  r.envid = "E1";
  r.content = Content;
  return r;
}

TEST(LocalSubmissionTest, QueuedFromLocalWithPickupReceived) {
  Snapshot snap = snapshot(false);
  auto m = composeLocalSubmission(record(), 1000, snap);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->id.size(), 12u);
  EXPECT_EQ(m->client, "local");
  EXPECT_EQ(m->protocol, "LOCAL");
  EXPECT_EQ(m->helo, "mx.example.test");
  EXPECT_EQ(m->sender, "alice@example.test");
  EXPECT_EQ(m->dsn_ret, "HDRS");
  EXPECT_EQ(m->dsn_envid, "E1");
  std::string received = "Received: by mx.example.test (Petrel, from userid 1000)\r\n\tid " +
                         m->id + "; ";
  EXPECT_TRUE(m->body.starts_with(received)) << m->body;
  EXPECT_TRUE(m->body.ends_with(Content));
  EXPECT_EQ(m->size, m->body.size());
  // The alias expanded; carol twice (the alias and old@ by canonical.recipient) is one.
  ASSERT_EQ(m->recipients.size(), 3u);
  EXPECT_EQ(m->recipients[0].address, "alice@example.test");
  EXPECT_EQ(m->recipients[0].orig_address, "team@example.test");
  EXPECT_EQ(m->recipients[1].address, "carol@example.test");
  EXPECT_EQ(m->recipients[2].address, "far@remote.test");
  EXPECT_EQ(m->recipients[2].idx, 2);
  EXPECT_EQ(m->recipients[2].dsn_notify, "SUCCESS,FAILURE");
}

TEST(LocalSubmissionTest, SignedAsOurOwnMail) {
  Snapshot snap = snapshot(true);
  auto m = composeLocalSubmission(record(), 0, snap);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->body.starts_with("DKIM-Signature: v=1; a=ed25519-sha256;")) << m->body;
  EXPECT_NE(m->body.find("Received: by mx.example.test (Petrel, from userid 0)"),
            std::string::npos);
}

TEST(LocalSubmissionTest, TooBigIsPermanent) {
  Snapshot snap = snapshot(false);
  queue::MaildropRecord r = record();
  r.content = std::string(1001, 'x');
  auto m = composeLocalSubmission(std::move(r), 0, snap);
  ASSERT_FALSE(m);
  EXPECT_FALSE(m.error().temporary());
  EXPECT_NE(m.error().message().find("limits.message_size"), std::string::npos);
}

TEST(LocalSubmissionTest, ReceivedField) {
  EXPECT_EQ(pickupReceived("h.example", 33, "ABC", 0).substr(0, 55),
            "Received: by h.example (Petrel, from userid 33)\r\n\tid AB");
}

}  // namespace
}  // namespace petrel::server
