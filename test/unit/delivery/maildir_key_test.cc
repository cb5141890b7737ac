// Tests for the delivery key in Maildir file names (delivery/maildir.h, "Exactly once across a
// crash"): the name format and its parser, a keyed file found again in new/ and in cur/ with the
// flags an IMAP server added, never when it is only in tmp/, from another host or incomplete;
// and the MaildirAgent skipping the copies a recovered recipient already has, Sieve folders
// included. Files only in a temporary directory.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <variant>
#include <vector>

#include "petrel/delivery/maildir.h"
#include "petrel/delivery/maildir_agent.h"

namespace petrel::delivery {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> filesIn(const std::string& dir) {
  std::vector<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  return names;
}

class MaildirKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/petrel-maildir-key-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    box_ = root_ + "/box/";
  }
  void TearDown() override { fs::remove_all(root_); }

  // Delivers one keyed copy of a small message into `maildir` and returns the item.
  MaildirItem deliver(const std::string& key, bool find_existing,
                      const std::string& host = "mail.example.test", std::string maildir = "") {
    std::vector<MaildirItem> items(1);
    items[0].maildir = maildir.empty() ? box_ : maildir;
    items[0].header_prefix = "Delivered-To: alice@example.test\n";
    items[0].body = "Subject: hi\r\n\r\nHello\r\n";
    items[0].key = key;
    items[0].find_existing = find_existing;
    deliverMaildirBatch(items, true, host);
    EXPECT_TRUE(items[0].result.ok()) << items[0].result.error().message();
    return items[0];
  }

  std::string root_;
  std::string box_;
};

TEST(MaildirNameTest, TheKeyIsTheQueueIdAndTheRecipientIndex) {
  EXPECT_EQ(maildirDeliveryKey("01A2B3C4D5E6", 0), "K01A2B3C4D5E6R0");
  EXPECT_EQ(maildirDeliveryKey("01A2B3C4D5E6", 17), "K01A2B3C4D5E6R17");
}

TEST(MaildirNameTest, ParsesOurNamesAndDovecotsWithFlags) {
  auto ours = parseMaildirName("1765148889.M123456P4242Q17K01A2B3C4D5E6R3.mx.example.test,S=1234");
  ASSERT_TRUE(ours);
  EXPECT_EQ(ours->key, "K01A2B3C4D5E6R3");
  EXPECT_EQ(ours->host, "mx.example.test");
  EXPECT_TRUE(ours->has_size);
  EXPECT_EQ(ours->size, 1234u);

  // Dovecot moved it to cur/ and added its fields and flags.
  auto seen = parseMaildirName("1765148889.M1P2Q3K0AR1.mx.example.test,S=99,W=101:2,RS");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->key, "K0AR1");
  EXPECT_EQ(seen->size, 99u);

  // A name Dovecot wrote itself, and one from before keys: no key.
  auto dovecot = parseMaildirName("1765148889.M680203P2925V0000000000000801I0001.host,S=77:2,");
  ASSERT_TRUE(dovecot);
  EXPECT_EQ(dovecot->key, "");
  auto old = parseMaildirName("1765148889.M1P2Q3.mx.example.test,S=5");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->key, "");

  // Not a key: lower case or missing parts.
  EXPECT_EQ(parseMaildirName("1.M1P2Q3Kabr1.h,S=1")->key, "");
  EXPECT_EQ(parseMaildirName("1.M1P2Q3K0AR.h,S=1")->key, "");
  EXPECT_EQ(parseMaildirName("1.M1P2Q3KR1.h,S=1")->key, "");

  // A size that does not fit is no size (the fuzzer's first find).
  EXPECT_FALSE(parseMaildirName("1.M1P2Q3K0AR1.h,S=99999999999999999999")->has_size);

  EXPECT_FALSE(parseMaildirName("dovecot-uidlist"));
  EXPECT_FALSE(parseMaildirName("maildirsize"));
  EXPECT_FALSE(parseMaildirName("1765148889..host"));
}

TEST_F(MaildirKeyTest, TheFileNameCarriesTheKeyBeforeTheHost) {
  MaildirItem it = deliver("K01A2B3C4D5E6R2", false);
  std::string name = fs::path(it.filename).filename();
  EXPECT_TRUE(std::regex_match(name, std::regex(R"(\d+\.M\d+P\d+Q\d+K01A2B3C4D5E6R2)"
                                                R"(\.mail\.example\.test,S=\d+)")))
      << name;
  auto parsed = parseMaildirName(name);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->size, it.size);
  EXPECT_FALSE(it.existing);
}

TEST_F(MaildirKeyTest, AKeyedFileInNewIsFoundAndNotWrittenAgain) {
  MaildirItem first = deliver("K1R0", false);
  MaildirItem again = deliver("K1R0", true);
  EXPECT_TRUE(again.existing);
  EXPECT_EQ(again.filename, first.filename);
  EXPECT_EQ(again.size, first.size);
  EXPECT_EQ(filesIn(box_ + "new").size(), 1u);
  EXPECT_TRUE(filesIn(box_ + "tmp").empty());
}

TEST_F(MaildirKeyTest, AKeyedFileMovedToCurWithFlagsIsFound) {
  MaildirItem first = deliver("K1R0", false);
  std::string name = fs::path(first.filename).filename();
  // What Dovecot does when an IMAP client has read and answered it.
  std::string moved = box_ + "cur/" + name + ",W=40:2,RS";
  fs::rename(first.filename, moved);
  MaildirItem again = deliver("K1R0", true);
  EXPECT_TRUE(again.existing);
  EXPECT_EQ(again.filename, moved);
  EXPECT_TRUE(filesIn(box_ + "new").empty());
  EXPECT_EQ(filesIn(box_ + "cur").size(), 1u);
}

TEST_F(MaildirKeyTest, AFileOnlyInTmpIsNotADelivery) {
  MaildirItem first = deliver("K1R0", false);
  // A crash before the rename leaves the file in tmp/: it was never delivered.
  fs::rename(first.filename, box_ + "tmp/" + std::string(fs::path(first.filename).filename()));
  MaildirItem again = deliver("K1R0", true);
  EXPECT_FALSE(again.existing);
  EXPECT_EQ(filesIn(box_ + "new").size(), 1u);
  EXPECT_EQ(fs::path(again.filename).parent_path(), fs::path(box_ + "new"));
}

TEST_F(MaildirKeyTest, OtherKeysAndOtherHostsDoNotCount) {
  deliver("K1R1", false);                      // another recipient of the message
  deliver("K11R0", false);                     // another message
  deliver("K1R0", false, "other.example.test");  // a server sharing the Maildir
  MaildirItem again = deliver("K1R0", true);
  EXPECT_FALSE(again.existing);
  EXPECT_EQ(filesIn(box_ + "new").size(), 4u);
}

TEST_F(MaildirKeyTest, AnIncompleteFileIsWrittenAgain) {
  MaildirItem first = deliver("K1R0", false);
  fs::resize_file(first.filename, first.size - 3);  // lost by the file system
  MaildirItem again = deliver("K1R0", true);
  EXPECT_FALSE(again.existing);
  EXPECT_NE(again.filename, first.filename);
}

TEST_F(MaildirKeyTest, WithoutFindExistingNothingIsLookedFor) {
  deliver("K1R0", false);
  MaildirItem again = deliver("K1R0", false);
  EXPECT_FALSE(again.existing);
  EXPECT_EQ(filesIn(box_ + "new").size(), 2u);
}

TEST_F(MaildirKeyTest, FoundInAFolderOnlyForThatFolder) {
  auto spam = ensureMaildirFolder(box_, "spam", true);
  ASSERT_TRUE(spam);
  deliver("K1R0", false, "mail.example.test", *spam);
  // The INBOX copy of the same recipient is another copy: not there yet.
  MaildirItem inbox = deliver("K1R0", true);
  EXPECT_FALSE(inbox.existing);
  MaildirItem folder = deliver("K1R0", true, "mail.example.test", *spam);
  EXPECT_TRUE(folder.existing);
  EXPECT_EQ(filesIn(*spam + "new").size(), 1u);
}

TEST_F(MaildirKeyTest, OneBatchReadsTheMaildirOnceForManyItems) {
  deliver("K1R0", false);
  std::vector<MaildirItem> items(3);
  const char* keys[] = {"K1R0", "K1R1", "K2R0"};
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].maildir = box_;
    items[i].body = "Subject: x\r\n\r\nx\r\n";
    items[i].key = keys[i];
    items[i].find_existing = true;
  }
  deliverMaildirBatch(items, true, "mail.example.test");
  EXPECT_TRUE(items[0].existing);
  EXPECT_FALSE(items[1].existing);
  EXPECT_FALSE(items[2].existing);
  for (const auto& it : items) EXPECT_TRUE(it.result.ok());
  EXPECT_EQ(filesIn(box_ + "new").size(), 3u);
}

// The agent: which recipients look, and their reports.
class MaildirAgentRecoveryTest : public MaildirKeyTest {
 protected:
  std::vector<RecipientReport> deliverAll(bool recheck, int64_t attempts,
                                          SieveScriptsPtr scripts = nullptr) {
    message_ = queue::StoredMessage();
    message_.id = "0123456789AB";
    message_.body = "Subject: hi\r\nMessage-ID: <m1@example.net>\r\n\r\nbody\r\n";
    message_.size = message_.body.size();
    for (int64_t i = 0; i < 2; ++i) {
      queue::StoredRecipient r;
      r.idx = i + 1;
      r.address = i == 0 ? "alice@example.test" : "bob@example.test";
      r.attempts = attempts;
      message_.recipients.push_back(r);
    }
    am_ = AgentMessage();
    am_.stored = &message_;
    am_.sender = "carol@example.net";
    am_.recheck = recheck;
    Delivery d;
    d.target.maildir = box_;
    d.recipients = {0, 1};
    d.message = &am_;
    MaildirAgent agent(true, "mx.example.test", std::move(scripts));
    agent.deliver({&d}, [] {});
    EXPECT_TRUE(d.reported());
    return d.reports;
  }

  queue::StoredMessage message_;
  AgentMessage am_;
};

TEST_F(MaildirAgentRecoveryTest, ARecoveredMessageIsNotStoredTwice) {
  auto first = deliverAll(false, 0);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].text, "delivered to maildir");
  ASSERT_EQ(filesIn(box_ + "new").size(), 2u);
  for (const auto& name : filesIn(box_ + "new")) {
    auto parsed = parseMaildirName(name);
    ASSERT_TRUE(parsed);
    EXPECT_TRUE(parsed->key == "K0123456789ABR1" || parsed->key == "K0123456789ABR2") << name;
  }
  // Killed before the journal commit; after the restart the queue sets recheck.
  auto again = deliverAll(true, 0);
  EXPECT_EQ(again[0].status, RecipientReport::Status::Delivered);
  EXPECT_EQ(again[0].text, "delivered to maildir (stored by an earlier attempt)");
  EXPECT_EQ(again[1].text, "delivered to maildir (stored by an earlier attempt)");
  EXPECT_EQ(filesIn(box_ + "new").size(), 2u);
}

TEST_F(MaildirAgentRecoveryTest, ARecipientTriedBeforeLooksToo) {
  deliverAll(false, 0);
  deliverAll(false, 1);  // attempts > 0: deferred before (a copy may have been stored)
  EXPECT_EQ(filesIn(box_ + "new").size(), 2u);
  deliverAll(false, 0);  // the normal path does not look
  EXPECT_EQ(filesIn(box_ + "new").size(), 4u);
}

sieve::ProgramPtr compiled(std::string_view text) {
  auto c = sieve::compile(text);
  EXPECT_TRUE(std::holds_alternative<sieve::ProgramPtr>(c));
  return std::holds_alternative<sieve::ProgramPtr>(c) ? std::get<sieve::ProgramPtr>(c) : nullptr;
}

TEST_F(MaildirAgentRecoveryTest, OnlyTheMissingSieveCopiesAreWritten) {
  auto scripts = std::make_shared<SieveScripts>();
  scripts->before = compiled(
      "require [\"fileinto\", \"copy\", \"imap4flags\"];\n"
      "fileinto :copy \"lists\";\nfileinto :flags \"\\\\Seen\" \"archive\";\nkeep;\n");
  auto first = deliverAll(false, 0, scripts);
  ASSERT_EQ(filesIn(box_ + "new").size(), 2u);           // INBOX: alice and bob
  ASSERT_EQ(filesIn(box_ + ".lists/new").size(), 2u);
  ASSERT_EQ(filesIn(box_ + ".archive/cur").size(), 2u);  // with flags: cur/
  // One copy lost before the crash (it never reached new/), the others stored.
  fs::remove(box_ + ".lists/new/" + filesIn(box_ + ".lists/new")[0]);
  auto again = deliverAll(true, 0, scripts);
  EXPECT_EQ(again[0].status, RecipientReport::Status::Delivered);
  EXPECT_EQ(again[1].status, RecipientReport::Status::Delivered);
  EXPECT_EQ(filesIn(box_ + "new").size(), 2u);
  EXPECT_EQ(filesIn(box_ + ".lists/new").size(), 2u);
  EXPECT_EQ(filesIn(box_ + ".archive/cur").size(), 2u);
}

}  // namespace
}  // namespace petrel::delivery
