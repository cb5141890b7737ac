// Tests for server/canonical_headers.cc: which messages canonical.headers covers, and the
// header of a queued message (inline or in a spool file) with the canonical maps applied.
#include "petrel/server/canonical_headers.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "petrel/server/stage_check.h"

#include "../inline_table.h"

namespace petrel::server {
namespace {

using Clients = config::Config::HeaderRewriteClients;

using petrel::test_support::inlineTable;

config::Config baseConfig() {
  config::Config cfg;
  cfg.hostname = "mail.example.test";
  cfg.mail_root = "/var/lib/petrel/mail";
  cfg.local_domains = {"example.test"};
  cfg.canonical_sender = inlineTable("scanon", {{"alice@example.test", "alice.smith@example.test"}});
  cfg.canonical_recipient = inlineTable("rcanon", {{"@old.test", "@example.test"}});
  cfg.relay.mynetworks = {"127.0.0.0/8", "10.0.4.0/24"};
  return cfg;
}

Snapshot snapshotOf(const config::Config& cfg) {
  auto snap = routingSnapshot(cfg, [](const std::string&) {});
  EXPECT_TRUE(snap) << snap.error().message();
  return *snap;
}

queue::StoredMessage message(std::string client, std::string protocol) {
  queue::StoredMessage m;
  m.client = std::move(client);
  m.protocol = std::move(protocol);
  m.body = "From: Alice <alice@example.test>\r\nTo: bob@old.test\r\n\r\nFrom: alice@example.test\r\n";
  return m;
}

// canonicalHeaders() of `m` moved into a spool file, as large messages are queued; the file
// is removed afterwards (m.spool_path still names it).
Result<delivery::RewrittenHeader> fromSpoolFile(const Snapshot& snap, queue::StoredMessage& m) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("petrel-canonical-" + std::to_string(::getpid())))
                         .string();
  std::ofstream(path, std::ios::binary) << m.body;
  m.spool_path = path;
  m.body.clear();
  auto answer = canonicalHeaders(snap, m);
  std::remove(path.c_str());
  return answer;
}

TEST(CanonicalHeaders, LocalMeansMynetworksOrAuthenticated) {
  Snapshot snap = snapshotOf(baseConfig());
  EXPECT_TRUE(*rewritesHeadersOf(snap, message("unknown[127.0.0.1]", "ESMTP")));
  EXPECT_TRUE(*rewritesHeadersOf(snap, message("unknown[10.0.4.7]", "SMTP")));
  EXPECT_TRUE(*rewritesHeadersOf(snap, message("unknown[::ffff:10.0.4.7]", "ESMTP")));
  EXPECT_TRUE(*rewritesHeadersOf(snap, message("unknown[192.0.2.1]", "ESMTPSA")));
  EXPECT_TRUE(*rewritesHeadersOf(snap, message("unknown[192.0.2.1]", "UTF8SMTPA")));
  EXPECT_FALSE(*rewritesHeadersOf(snap, message("unknown[192.0.2.1]", "ESMTPS")));
  EXPECT_FALSE(*rewritesHeadersOf(snap, message("garbage", "ESMTP")));
  // sendmail's local submissions (server/pickup.h) and our own mail.
  EXPECT_TRUE(*rewritesHeadersOf(snap, message("local", "LOCAL")));
}

TEST(CanonicalHeaders, AllAndNone) {
  config::Config cfg = baseConfig();
  cfg.canonical_headers = Clients::All;
  EXPECT_TRUE(*rewritesHeadersOf(snapshotOf(cfg), message("unknown[192.0.2.1]", "ESMTP")));
  cfg.canonical_headers = Clients::None;
  Snapshot none = snapshotOf(cfg);
  EXPECT_FALSE(*rewritesHeadersOf(none, message("unknown[127.0.0.1]", "ESMTPA")));
  auto r = canonicalHeaders(none, message("unknown[127.0.0.1]", "ESMTPA"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->changed, 0u);
}

TEST(CanonicalHeaders, MynetworksTableFailureIsTemporary) {
  config::Config cfg = baseConfig();
  cfg.relay.mynetworks.clear();
  config::TableSpec missing;
  missing.name = "file:/nonexistent/petrel-mynetworks";
  missing.type = "file";
  missing.path = "/nonexistent/petrel-mynetworks";
  cfg.relay.mynetworks_table = missing;
  Snapshot snap = snapshotOf(cfg);
  auto r = rewritesHeadersOf(snap, message("unknown[127.0.0.1]", "ESMTP"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().temporary());
  // Authenticated mail does not need the table.
  EXPECT_TRUE(*rewritesHeadersOf(snap, message("unknown[127.0.0.1]", "ESMTPA")));
  auto h = canonicalHeaders(snap, message("unknown[127.0.0.1]", "ESMTP"));
  ASSERT_FALSE(h);
  EXPECT_TRUE(h.error().temporary());
}

TEST(CanonicalHeaders, RewritesInlineAndSpooledMessagesByClass) {
  Snapshot snap = snapshotOf(baseConfig());
  queue::StoredMessage m = message("unknown[127.0.0.1]", "ESMTP");
  auto r = canonicalHeaders(snap, m);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->header, "From: Alice <alice.smith@example.test>\r\nTo: bob@example.test\r\n");
  EXPECT_EQ(r->original_size, m.body.find("\r\n\r\n") + 2);

  auto spooled = fromSpoolFile(snap, m);
  ASSERT_TRUE(spooled) << spooled.error().message();
  EXPECT_EQ(spooled->header, r->header);

  // m.spool_path names the file, which is gone now.
  auto gone = canonicalHeaders(snap, m);
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().temporary());
}

TEST(CanonicalHeaders, SpooledHeaderLongerThanOneReadIsReadWhole) {
  Snapshot snap = snapshotOf(baseConfig());
  queue::StoredMessage m = message("unknown[127.0.0.1]", "ESMTP");
  std::string filler;
  while (filler.size() < 150 * 1024) filler += "X-Filler: " + std::string(70, 'f') + "\r\n";
  m.body = filler + m.body + std::string(200 * 1024, 'b') + "\r\n";
  auto inline_answer = canonicalHeaders(snap, m);
  ASSERT_TRUE(inline_answer) << inline_answer.error().message();
  EXPECT_EQ(inline_answer->changed, 2u);

  auto spooled = fromSpoolFile(snap, m);
  ASSERT_TRUE(spooled) << spooled.error().message();
  EXPECT_EQ(spooled->changed, 2u);
  EXPECT_EQ(spooled->original_size, inline_answer->original_size);
  EXPECT_TRUE(spooled->header == inline_answer->header);
}

TEST(CanonicalHeaders, NoMapsNoWork) {
  config::Config cfg = baseConfig();
  cfg.canonical_sender.reset();
  cfg.canonical_recipient.reset();
  auto r = canonicalHeaders(snapshotOf(cfg), message("unknown[127.0.0.1]", "ESMTP"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->changed, 0u);
  EXPECT_TRUE(r->header.empty());
}

}  // namespace
}  // namespace petrel::server
