// Tests for server/recipient_quota.cc: delivery.quota at RCPT with and without MAIL FROM
// SIZE= (a full mailbox, a message that would not fit, 452 4.2.2 or 552 5.2.2), and what it
// leaves alone (an alias with several members, a refused or relayed recipient, quota off).
#include "petrel/server/recipient_quota.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../inline_table.h"
#include "petrel/server/stage_check.h"

namespace petrel::server {
namespace {

namespace fs = std::filesystem;
using petrel::test_support::inlineTable;

class RecipientQuotaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/petrel-rcpt-quota-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    // alice holds 900 of her 1000 bytes; carol has no limit.
    fs::create_directories(root_ + "/example.test/alice/new");
    std::ofstream(root_ + "/example.test/alice/new/1.M1P1.h,S=900") << "x";
  }
  void TearDown() override { fs::remove_all(root_); }

  Snapshot snapshot(bool quota_on, bool bounce) {
    config::Config cfg;
    cfg.hostname = "mx.example.test";
    cfg.mail_root = root_;
    cfg.local_domains = {"example.test"};
    cfg.mailboxes = inlineTable("boxes", {{"alice@example.test", "example.test/alice/"},
                                          {"carol@example.test", "example.test/carol/"}});
    cfg.aliases = {inlineTable(
        "aliases", {{"team@example.test", "alice@example.test, carol@example.test"}})};
    cfg.delivery.quota.enabled = quota_on;
    cfg.delivery.quota.bounce = bounce;
    cfg.delivery.quota.table = inlineTable("quota", {{"alice@example.test", "1000"}});
    auto snap = routingSnapshot(cfg, [](const std::string&) {});
    EXPECT_TRUE(snap) << snap.error().message();
    return std::move(snap.value());
  }

  smtp::Verdict check(const Snapshot& snap, const std::string& address, uint64_t size,
                      std::vector<std::string>* trace = nullptr) {
    return checkRecipientQuota(snap, address, size, smtp::Verdict::accept({address}), trace);
  }

  std::string root_;
};

TEST_F(RecipientQuotaTest, DeclaredSizeOverTheRemainingQuotaIsRefused) {
  Snapshot snap = snapshot(true, false);
  // No SIZE=: 900 of 1000 is not full.
  EXPECT_TRUE(check(snap, "alice@example.test", 0).accepted());
  // 100 more fit exactly; 101 do not.
  EXPECT_TRUE(check(snap, "alice@example.test", 100).accepted());
  std::vector<std::string> trace;
  smtp::Verdict v = check(snap, "alice@example.test", 101, &trace);
  ASSERT_FALSE(v.accepted());
  EXPECT_EQ(v.reply.code, 452);
  EXPECT_EQ(v.reply.enhanced, "4.2.2");
  EXPECT_EQ(v.reply.oneLine(), "452 4.2.2 <alice@example.test>: Mailbox full");
  ASSERT_EQ(trace.size(), 1u);
  EXPECT_NE(trace[0].find("has no room for SIZE=101"), std::string::npos) << trace[0];
  // Unlimited mailboxes take anything.
  EXPECT_TRUE(check(snap, "carol@example.test", uint64_t(1) << 40).accepted());
}

TEST_F(RecipientQuotaTest, OverQuotaBounceRefusesWith552) {
  Snapshot snap = snapshot(true, true);
  smtp::Verdict v = check(snap, "alice@example.test", 5000);
  ASSERT_FALSE(v.accepted());
  EXPECT_EQ(v.reply.code, 552);
  EXPECT_EQ(v.reply.enhanced, "5.2.2");
}

TEST_F(RecipientQuotaTest, FullMailboxIsRefusedWithoutSize) {
  std::ofstream(root_ + "/example.test/alice/new/2.M1P1.h,S=100") << "x";
  Snapshot snap = snapshot(true, false);
  smtp::Verdict v = check(snap, "alice@example.test", 0);
  ASSERT_FALSE(v.accepted());
  EXPECT_EQ(v.reply.code, 452);
}

TEST_F(RecipientQuotaTest, LeavesAliasesRefusalsAndQuotaOffAlone) {
  Snapshot snap = snapshot(true, false);
  // An alias with several members: the full one defers at delivery, the others get theirs.
  smtp::Verdict alias = checkRecipientQuota(
      snap, "team@example.test", 5000,
      smtp::Verdict::accept({"alice@example.test", "carol@example.test"}), nullptr);
  EXPECT_TRUE(alias.accepted());
  // A recipient the router refused keeps its refusal.
  smtp::Verdict refused = checkRecipientQuota(
      snap, "x@example.test", 5000,
      smtp::Verdict::refuse(smtp::Reply(550, "5.1.1", "unknown")), nullptr);
  EXPECT_EQ(refused.reply.code, 550);
  // A relayed (not local) recipient is not ours to count.
  EXPECT_TRUE(check(snap, "bob@example.net", 5000).accepted());
  // delivery.quota off: no check at all.
  EXPECT_TRUE(check(snapshot(false, false), "alice@example.test", 5000).accepted());
}

TEST_F(RecipientQuotaTest, BrokenQuotaEntryIsATemporaryFailure) {
  Snapshot snap = snapshot(true, false);
  config::Config cfg = *snap.config;
  cfg.delivery.quota.table = inlineTable("quota", {{"alice@example.test", "lots"}});
  snap.quota = delivery::makeMailboxQuota(cfg, [](const std::string&) {});
  smtp::Verdict v = check(snap, "alice@example.test", 10);
  ASSERT_FALSE(v.accepted());
  EXPECT_EQ(v.reply.code, 451);
  EXPECT_EQ(v.reply.enhanced, "4.3.0");
}

}  // namespace
}  // namespace petrel::server
