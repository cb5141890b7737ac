// Tests for delivery.quota: the maildirsize format and Dovecot's rebuild rules
// (source/delivery/maildirsize.cc), the table's limits (quota.cc) and the Maildir agent's
// decisions (a message that does not fit is deferred 4.2.2 or bounced 5.2.2; what is stored is
// appended to maildirsize; Maildir++ folders count).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <fmt/format.h>

#include "../inline_table.h"
#include "petrel/delivery/maildir_agent.h"
#include "petrel/delivery/maildirsize.h"
#include "petrel/delivery/quota.h"

namespace petrel::delivery {
namespace {

namespace fs = std::filesystem;
using petrel::test_support::inlineTable;

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeFile(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

void setMtime(const std::string& path, time_t when) {
  utimbuf times{when, when};
  ASSERT_EQ(::utime(path.c_str(), &times), 0);
}

TEST(MaildirsizeFormat, LimitLineAsDovecotWritesIt) {
  EXPECT_EQ(formatMaildirsizeLimit({}), "0S");
  EXPECT_EQ(formatMaildirsizeLimit({1000, 0}), "1000S");
  EXPECT_EQ(formatMaildirsizeLimit({1000, 10}), "1000S,10C");
  EXPECT_EQ(formatMaildirsizeLimit({0, 10}), "10C");
  EXPECT_EQ(parseMaildirsizeLimit("1000S,10C"), (QuotaLimit{1000, 10}));
  EXPECT_EQ(parseMaildirsizeLimit("10C,1000S"), (QuotaLimit{1000, 10}));
  EXPECT_EQ(parseMaildirsizeLimit("0S"), (QuotaLimit{}));
  EXPECT_FALSE(parseMaildirsizeLimit(""));
  EXPECT_FALSE(parseMaildirsizeLimit("1000"));
  EXPECT_FALSE(parseMaildirsizeLimit("1000X"));
  EXPECT_FALSE(parseMaildirsizeLimit("S"));
}

TEST(MaildirsizeFormat, SumsDeltaLinesAndRejectsBrokenFiles) {
  auto c = parseMaildirsize("1000S,10C\n300 3\n120 1\n-20 -1\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->limit, (QuotaLimit{1000, 10}));
  EXPECT_EQ(c->usage, (QuotaUsage{400, 3}));
  EXPECT_EQ(c->delta_lines, 3u);
  // A last line without LF is a write in progress: ignored.
  c = parseMaildirsize("1000S\n300 3\n99");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->usage, (QuotaUsage{300, 3}));
  EXPECT_FALSE(parseMaildirsize(""));
  EXPECT_FALSE(parseMaildirsize("1000S"));              // no LF at all
  EXPECT_FALSE(parseMaildirsize("junk\n1 1\n"));        // bad limit line
  EXPECT_FALSE(parseMaildirsize("1000S\n1 x\n"));       // bad delta
  EXPECT_FALSE(parseMaildirsize("1000S\n-5 -1\n"));     // negative sum
  EXPECT_FALSE(parseMaildirsize(std::string("1000S\n1\0 1\n", 12)));  // NUL byte
}

TEST(MaildirsizeRules, WhenTheFileIsTrusted) {
  const int64_t now = 1'700'000'000;
  QuotaLimit limit{1000, 0};
  MaildirsizeContents under{limit, {500, 5}, 3};
  EXPECT_TRUE(maildirsizeTrusted(under, limit, 40, now - 3600, now));  // under: age is fine
  // Limits changed (the table was edited): rewritten.
  EXPECT_FALSE(maildirsizeTrusted(under, QuotaLimit{2000, 0}, 40, now, now));
  // Only the limit line: rebuilt.
  EXPECT_FALSE(maildirsizeTrusted(MaildirsizeContents{limit, {}, 0}, limit, 10, now, now));
  // 5120 bytes or more: rebuilt.
  EXPECT_FALSE(maildirsizeTrusted(under, limit, MaildirsizeMaxBytes, now, now));
  EXPECT_TRUE(maildirsizeTrusted(under, limit, MaildirsizeMaxBytes - 1, now, now));
  // Over quota: trusted only as one fresh summary line.
  MaildirsizeContents over{limit, {1500, 5}, 1};
  EXPECT_TRUE(maildirsizeTrusted(over, limit, 20, now - 60, now));
  EXPECT_FALSE(maildirsizeTrusted(over, limit, 20, now - MaildirsizeStaleSeconds - 1, now));
  over.delta_lines = 2;
  EXPECT_FALSE(maildirsizeTrusted(over, limit, 20, now, now));
}

TEST(QuotaDecision, FullAndFits) {
  EXPECT_FALSE(quotaFull({}, {1u << 30, 100000}));
  EXPECT_TRUE(quotaFull({1000, 0}, {1000, 1}));
  EXPECT_FALSE(quotaFull({1000, 0}, {999, 1}));
  EXPECT_TRUE(quotaFull({0, 2}, {10, 2}));
  EXPECT_TRUE(quotaFits({1000, 0}, {900, 1}, 100));
  EXPECT_FALSE(quotaFits({1000, 0}, {900, 1}, 101));
  EXPECT_FALSE(quotaFits({0, 2}, {10, 2}, 1));
  EXPECT_TRUE(quotaFits({}, {1u << 30, 1}, 1u << 30));
}

TEST(QuotaValue, BytesOrBytesAndMessages) {
  EXPECT_EQ(*parseQuotaValue("1048576"), (QuotaLimit{1048576, 0}));
  EXPECT_EQ(*parseQuotaValue("1048576,100"), (QuotaLimit{1048576, 100}));
  EXPECT_EQ(*parseQuotaValue(" 0 , 0 "), (QuotaLimit{}));
  EXPECT_FALSE(parseQuotaValue(""));
  EXPECT_FALSE(parseQuotaValue("10M"));
  EXPECT_FALSE(parseQuotaValue("-1"));
  EXPECT_FALSE(parseQuotaValue("100,"));
}

class QuotaFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/petrel-quota-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    box_ = root_ + "/box/";
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string root_;
  std::string box_;
};

TEST_F(QuotaFilesTest, CountsInboxAndFoldersByNameOrStat) {
  writeFile(box_ + "new/1.M1P1.h,S=100", std::string(7, 'x'));      // S= wins over the size
  writeFile(box_ + "cur/2.M2P1.h,S=200:2,S", "x");
  writeFile(box_ + "cur/3.M3P1.h:2,", std::string(50, 'y'));          // no S=: stat
  writeFile(box_ + "cur/4.M4P1.h,S=12x:2,", std::string(30, 'y'));    // malformed S=: stat
  writeFile(box_ + "tmp/5.M5P1.h,S=9999", "x");                        // tmp/ never counts
  writeFile(box_ + ".spam/new/6.M6P1.h,S=300", "x");                   // a Maildir++ folder
  writeFile(box_ + ".spam/maildirfolder", "");
  writeFile(box_ + ".lists.work/cur/7.M7P1.h,S=400:2,S", "x");
  writeFile(box_ + "new/.hidden", "xxxx");
  writeFile(box_ + "dovecot-uidlist", std::string(100, 'z'));          // not a message
  auto usage = countMaildir(box_);
  ASSERT_TRUE(usage) << usage.error().message();
  EXPECT_EQ(*usage, (QuotaUsage{100 + 200 + 50 + 30 + 300 + 400, 6}));
  // A Maildir that does not exist yet is empty.
  EXPECT_EQ(*countMaildir(root_ + "/none/"), (QuotaUsage{}));
}

TEST_F(QuotaFilesTest, MissingFileIsRebuiltThenAppendedAndTrusted) {
  writeFile(box_ + "new/1.M1P1.h,S=100", "x");
  const int64_t now = int64_t(::time(nullptr));
  QuotaLimit limit{1000, 0};
  auto usage = maildirUsage(box_, limit, now);
  ASSERT_TRUE(usage) << usage.error().message();
  EXPECT_EQ(*usage, (QuotaUsage{100, 1}));
  EXPECT_EQ(readFile(box_ + "maildirsize"), "1000S\n100 1\n");
  ASSERT_TRUE(appendMaildirsize(box_, 250, 1));
  EXPECT_EQ(readFile(box_ + "maildirsize"), "1000S\n100 1\n250 1\n");
  // The file is trusted now: a message it does not know about is not counted.
  writeFile(box_ + "new/2.M2P1.h,S=5000", "x");
  EXPECT_EQ(*maildirUsage(box_, limit, now), (QuotaUsage{350, 2}));
  // A changed limit rebuilds it from the directories.
  QuotaLimit bigger{10000, 10};
  EXPECT_EQ(*maildirUsage(box_, bigger, now), (QuotaUsage{5100, 2}));
  EXPECT_EQ(readFile(box_ + "maildirsize"), "10000S,10C\n5100 2\n");
  // No trace of the rebuild's temporary file.
  EXPECT_TRUE(fs::is_empty(box_ + "tmp"));
}

TEST_F(QuotaFilesTest, OverQuotaWithDeltasOrStaleIsRecounted) {
  QuotaLimit limit{1000, 0};
  const int64_t now = int64_t(::time(nullptr));
  writeFile(box_ + "new/1.M1P1.h,S=100", "x");
  // The file says over quota (messages were expunged by another program meanwhile).
  writeFile(box_ + "maildirsize", "1000S\n900 3\n500 1\n");
  EXPECT_EQ(*maildirUsage(box_, limit, now), (QuotaUsage{100, 1}));
  // One summary line over quota: trusted while fresh, recounted after 15 minutes.
  writeFile(box_ + "maildirsize", "1000S\n2000 4\n");
  EXPECT_EQ(*maildirUsage(box_, limit, now), (QuotaUsage{2000, 4}));
  setMtime(box_ + "maildirsize", time_t(now - MaildirsizeStaleSeconds - 1));
  EXPECT_EQ(*maildirUsage(box_, limit, now), (QuotaUsage{100, 1}));
}

TEST_F(QuotaFilesTest, BigOrBrokenFileIsRebuilt) {
  QuotaLimit limit{1000000, 0};
  const int64_t now = int64_t(::time(nullptr));
  writeFile(box_ + "cur/1.M1P1.h,S=42:2,", "x");
  std::string big = "1000000S\n";
  while (big.size() < MaildirsizeMaxBytes) big += "1 0\n";
  writeFile(box_ + "maildirsize", big);
  EXPECT_EQ(*maildirUsage(box_, limit, now), (QuotaUsage{42, 1}));
  EXPECT_EQ(readFile(box_ + "maildirsize"), "1000000S\n42 1\n");
  writeFile(box_ + "maildirsize", "garbage\n");
  EXPECT_EQ(*maildirUsage(box_, limit, now), (QuotaUsage{42, 1}));
  // Appending never creates the file (the next read rebuilds it).
  fs::remove(box_ + "maildirsize");
  ASSERT_TRUE(appendMaildirsize(box_, 10, 1));
  EXPECT_FALSE(fs::exists(box_ + "maildirsize"));
}

TEST_F(QuotaFilesTest, TableLimitsWithDefaultAndExtension) {
  config::Config cfg;
  cfg.recipient_delimiter = "+";
  cfg.delivery.quota.enabled = true;
  cfg.delivery.quota.default_bytes = 5000;
  cfg.delivery.quota.table = inlineTable(
      "quota", {{"alice@example.test", "1000"}, {"bob@example.test", "2000,3"},
                {"carol@example.test", "lots"}});
  MailboxQuota quota(cfg, [](const std::string&) {});
  EXPECT_EQ(*quota.limitFor("Alice@Example.TEST"), (QuotaLimit{1000, 0}));
  EXPECT_EQ(*quota.limitFor("alice+news@example.test"), (QuotaLimit{1000, 0}));
  EXPECT_EQ(*quota.limitFor("bob@example.test"), (QuotaLimit{2000, 3}));
  EXPECT_EQ(*quota.limitFor("dave@example.test"), (QuotaLimit{5000, 0}));
  auto broken = quota.limitFor("carol@example.test");
  ASSERT_FALSE(broken);
  EXPECT_TRUE(broken.error().temporary());  // a typo in the database waits, never bounces
  EXPECT_FALSE(quota.bounces());
  EXPECT_FALSE(quota.blocking());

  writeFile(box_ + "new/1.M1P1.h,S=1000", "x");
  EXPECT_TRUE(*quota.full("alice@example.test", box_, int64_t(::time(nullptr))));
  EXPECT_FALSE(*quota.full("bob@example.test", box_, int64_t(::time(nullptr))));
  EXPECT_EQ(readFile(box_ + "maildirsize"), "2000S,3C\n1000 1\n");
  EXPECT_FALSE(makeMailboxQuota(config::Config{}, [](const std::string&) {}));
}

class QuotaAgentTest : public QuotaFilesTest {
 protected:
  MailboxQuotaPtr quotaOf(const std::string& value, bool bounce) {
    config::Config cfg;
    cfg.delivery.quota.enabled = true;
    cfg.delivery.quota.bounce = bounce;
    cfg.delivery.quota.table = inlineTable("quota", {{"a@example.test", value}});
    return makeMailboxQuota(cfg, [](const std::string&) {});
  }

  // Delivers a message of `body_lines` lines of 10 octets to a@example.test.
  Delivery deliver(const MailboxQuotaPtr& quota, size_t body_lines) {
    m_.id = "Q1";
    m_.body = "Subject: q\r\n\r\n";
    for (size_t i = 0; i < body_lines; ++i) m_.body += "123456789\r\n";
    m_.recipients.clear();
    queue::StoredRecipient r;
    r.address = "a@example.test";
    m_.recipients.push_back(r);
    am_.stored = &m_;
    am_.sender = "s@example.org";
    Delivery d;
    d.target.maildir = box_;
    d.recipients = {0};
    d.message = &am_;
    MaildirAgent agent(false, "host.test", nullptr, nullptr, quota);
    agent.deliver({&d}, [] {});
    return d;
  }

  size_t filesIn(const std::string& dir) {
    if (!fs::exists(dir)) return 0;
    return size_t(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
  }

  queue::StoredMessage m_;
  AgentMessage am_;
};

TEST_F(QuotaAgentTest, StoresAndAppendsWhileItFits) {
  auto quota = quotaOf("100000", false);
  Delivery d = deliver(quota, 10);
  ASSERT_TRUE(d.reported());
  EXPECT_EQ(d.reports[0].status, RecipientReport::Status::Delivered);
  // Return-Path and Delivered-To (58 octets) + "Subject: q\n\n" (12) + 10 lines of 10.
  const uint64_t size = 58 + 12 + 100;
  // A new Maildir gets no file: the next read builds it from the directories.
  EXPECT_FALSE(fs::exists(box_ + "maildirsize"));
  d = deliver(quota, 10);
  EXPECT_EQ(d.reports[0].status, RecipientReport::Status::Delivered);
  EXPECT_EQ(readFile(box_ + "maildirsize"), fmt::format("100000S\n{} 1\n{} 1\n", size, size));
  EXPECT_EQ(*countMaildir(box_), (QuotaUsage{2 * size, 2}));
}

TEST_F(QuotaAgentTest, MessageThatDoesNotFitIsDeferredAndNotStored) {
  // A Sieve folder's message counts too: 300 of 400 bytes are in .spam/.
  writeFile(box_ + ".spam/cur/1.M1P1.h,S=300:2,S", "x");
  auto quota = quotaOf("400", false);
  Delivery d = deliver(quota, 20);  // 270 octets: 570 > 400
  ASSERT_TRUE(d.reported());
  EXPECT_EQ(d.reports[0].status, RecipientReport::Status::Deferred);
  EXPECT_EQ(d.reports[0].dsn, "4.2.2");
  EXPECT_EQ(d.reports[0].text, "Mailbox full");
  EXPECT_EQ(filesIn(box_ + "new"), 0u);
  EXPECT_EQ(filesIn(box_ + "tmp"), 0u);
  EXPECT_EQ(readFile(box_ + "maildirsize"), "400S\n300 1\n");
  // A smaller one still fits exactly (70 octets + 30: 400 of 400).
  d = deliver(quota, 3);
  EXPECT_EQ(d.reports[0].status, RecipientReport::Status::Delivered);
  EXPECT_EQ(readFile(box_ + "maildirsize"), "400S\n300 1\n100 1\n");
  // Now full: even the smallest message waits.
  d = deliver(quota, 0);
  EXPECT_EQ(d.reports[0].dsn, "4.2.2");
}

TEST_F(QuotaAgentTest, OverQuotaBounceBouncesAtDelivery) {
  auto quota = quotaOf("100", true);
  Delivery d = deliver(quota, 10);
  EXPECT_EQ(d.reports[0].status, RecipientReport::Status::Bounced);
  EXPECT_EQ(d.reports[0].dsn, "5.2.2");
}

TEST_F(QuotaAgentTest, BrokenTableEntryDefersWithoutWriting) {
  auto quota = quotaOf("ten megs", false);
  Delivery d = deliver(quota, 1);
  EXPECT_EQ(d.reports[0].status, RecipientReport::Status::Deferred);
  EXPECT_EQ(d.reports[0].dsn, "4.3.0");
  EXPECT_EQ(filesIn(box_ + "new"), 0u);
}

TEST_F(QuotaAgentTest, UnlimitedMailboxKeepsAnExistingFileTrue) {
  auto quota = quotaOf("0", false);
  Delivery d = deliver(quota, 1);
  EXPECT_EQ(d.reports[0].status, RecipientReport::Status::Delivered);
  EXPECT_FALSE(fs::exists(box_ + "maildirsize"));  // unlimited: none made
  writeFile(box_ + "maildirsize", "0S\n80 1\n");   // Dovecot keeps one
  d = deliver(quota, 1);
  EXPECT_EQ(readFile(box_ + "maildirsize"), "0S\n80 1\n80 1\n");
}

}  // namespace
}  // namespace petrel::delivery
