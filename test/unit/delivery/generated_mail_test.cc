// Tests for mail made at delivery (delivery/generated_mail.h) and how the MaildirAgent reports
// it (RecipientReport::generated): redirect copies (bytes, sender, loop check), reject as a
// 5.7.1 bounce, Sieve and table vacation replies through the RFC 3834 rules and the store.
// Files only in a temporary directory; the table is a fake.
#include "petrel/delivery/generated_mail.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <variant>

#include "petrel/delivery/maildir_agent.h"

namespace petrel::delivery {
namespace {

namespace fs = std::filesystem;

class FakeTable final : public lookup::LookupTable {
 public:
  lookup::LookupResult lookup(std::string_view key) const override {
    lookup::LookupResult r;
    if (key == "alice@example.test") {
      r.status = lookup::LookupStatus::Found;
      r.value = "Away\nBack in May.";
    } else if (key == "broken@example.test") {
      r.status = lookup::LookupStatus::TempFail;
    }
    return r;
  }
  std::string describe() const override { return "fake:vacation"; }
};

sieve::ProgramPtr compiled(std::string_view text) {
  auto c = sieve::compile(text);
  EXPECT_TRUE(std::holds_alternative<sieve::ProgramPtr>(c));
  return std::holds_alternative<sieve::ProgramPtr>(c) ? std::get<sieve::ProgramPtr>(c) : nullptr;
}

class GeneratedMailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/petrel-generated-mail-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    auto s = std::make_shared<AutoReplySettings>();
    s->table = std::make_shared<FakeTable>();
    s->store_path = root_ + "/vacation.db";
    s->hostname = "mx.example.test";
    s->recipient_delimiter = "+";
    settings_ = s;
  }
  void TearDown() override { fs::remove_all(root_); }

  // Delivers `body` from `sender` to `rcpt` with `script` as the global script.
  RecipientReport deliver(std::string_view script, std::string body,
                          std::string sender = "bob@example.net",
                          std::string rcpt = "alice@example.test") {
    message_ = queue::StoredMessage();
    message_.id = "A1";
    message_.body = std::move(body);
    message_.size = message_.body.size();
    queue::StoredRecipient r;
    r.address = rcpt;
    message_.recipients = {r};
    am_ = AgentMessage();
    am_.stored = &message_;
    am_.sender = std::move(sender);
    SieveScriptsPtr scripts;
    if (!script.empty()) {
      auto s = std::make_shared<SieveScripts>();
      s->before = compiled(script);
      scripts = s;
    }
    Delivery d;
    d.target.maildir = root_ + "/box/";
    d.recipients = {0};
    d.message = &am_;
    MaildirAgent agent(false, "host.test", scripts, settings_);
    agent.deliver({&d}, [] {});
    EXPECT_TRUE(d.reported());
    return d.reports.empty() ? RecipientReport{} : std::move(d.reports[0]);
  }
  size_t inbox() const {
    fs::path dir = root_ + "/box/new";
    if (!fs::exists(dir)) return 0;
    return size_t(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
  }

  std::string root_;
  AutoReplyPtr settings_;
  queue::StoredMessage message_;
  AgentMessage am_;
};

constexpr const char* Mail =
    "From: bob@example.net\r\nTo: alice@example.test\r\nSubject: Hello\r\n"
    "Message-ID: <m1@example.net>\r\nDKIM-Signature: v=1; a=rsa-sha256; d=example.net\r\n"
    "\r\nHi Alice.\r\n";

TEST(RedirectCopyTest, DeliveredToOnTopAndTheContentUnchanged) {
  GeneratedMessage g = redirectCopy("Subject: x\r\n\r\nbody\r\n", "bob@example.net",
                                    "alice@example.test", "carol@example.org");
  EXPECT_EQ(g.kind, "sieve redirect");
  EXPECT_EQ(g.sender, "bob@example.net");
  EXPECT_EQ(g.recipients, std::vector<std::string>{"carol@example.org"});
  EXPECT_EQ(g.content, "Delivered-To: alice@example.test\r\nSubject: x\r\n\r\nbody\r\n");
}

TEST_F(GeneratedMailTest, RedirectWithoutCopyStoresNothingAndMakesTheCopy) {
  // erin: no table entry, so the copy is all that is made.
  RecipientReport r =
      deliver("redirect \"carol@example.org\";\n", Mail, "bob@example.net", "erin@example.test");
  EXPECT_EQ(r.status, RecipientReport::Status::Delivered);
  EXPECT_EQ(r.text, "redirected by sieve to carol@example.org");
  EXPECT_EQ(inbox(), 0u);
  ASSERT_EQ(r.generated.size(), 1u);
  EXPECT_EQ(r.generated[0].content, std::string("Delivered-To: erin@example.test\r\n") + Mail);
}

TEST_F(GeneratedMailTest, ASpooledMessageIsRedirectedWhole) {
  // Large messages live in a spool file, with the top fields added at receipt in the row.
  std::string big = std::string(Mail) + std::string(3 << 20, 'x') + "\r\nend\r\n";
  std::string path = root_ + "/spool-slot";
  std::ofstream(path, std::ios::binary) << big;
  message_ = queue::StoredMessage();
  message_.id = "A2";
  message_.spool_path = path;
  message_.header_prefix = "Received: from client by mx\r\n";
  message_.size = big.size();
  queue::StoredRecipient r;
  r.address = "erin@example.test";
  message_.recipients = {r};
  am_ = AgentMessage();
  am_.stored = &message_;
  am_.sender = "bob@example.net";
  auto scripts = std::make_shared<SieveScripts>();
  scripts->before = compiled("redirect \"carol@example.org\";\n");
  Delivery d;
  d.target.maildir = root_ + "/box/";
  d.recipients = {0};
  d.message = &am_;
  MaildirAgent agent(false, "host.test", scripts, settings_);
  agent.deliver({&d}, [] {});
  ASSERT_EQ(d.reports.size(), 1u);
  ASSERT_EQ(d.reports[0].generated.size(), 1u);
  EXPECT_EQ(d.reports[0].generated[0].content,
            "Delivered-To: erin@example.test\r\nReceived: from client by mx\r\n" + big);
  // The spool file gone: the recipient is tried again, nothing is made.
  fs::remove(path);
  d.reports.clear();
  agent.deliver({&d}, [] {});
  EXPECT_EQ(d.reports[0].status, RecipientReport::Status::Deferred);
  EXPECT_TRUE(d.reports[0].generated.empty());
}

TEST_F(GeneratedMailTest, RedirectCopyKeepsToo) {
  RecipientReport r = deliver("require \"copy\";\nredirect :copy \"carol@example.org\";\n", Mail,
                              "bob@example.net", "erin@example.test");
  EXPECT_EQ(r.text, "delivered to maildir");
  EXPECT_EQ(inbox(), 1u);
  EXPECT_EQ(r.generated.size(), 1u);
}

TEST_F(GeneratedMailTest, ARedirectThatCameBackIsKept) {
  RecipientReport r = deliver("redirect \"carol@example.org\";\n",
                              std::string("Delivered-To: erin@example.test\r\n") + Mail,
                              "bob@example.net", "erin@example.test");
  EXPECT_TRUE(r.generated.empty());
  EXPECT_EQ(inbox(), 1u);
}

TEST_F(GeneratedMailTest, RejectBouncesTheRecipient) {
  RecipientReport r = deliver("require \"reject\";\nreject text:\nnot\nwanted\n.\n;\n", Mail);
  EXPECT_EQ(r.status, RecipientReport::Status::Bounced);
  EXPECT_EQ(r.dsn, "5.7.1");
  EXPECT_EQ(r.text, "rejected by the recipient's sieve script: not  wanted  ");
  EXPECT_EQ(inbox(), 0u);
  EXPECT_TRUE(r.generated.empty());
}

TEST_F(GeneratedMailTest, SieveVacationRepliesOnceAndKeeps) {
  const char* script = "require \"vacation\";\nvacation :subject \"Gone\" \"I am away.\";\n";
  RecipientReport r = deliver(script, Mail);
  EXPECT_EQ(inbox(), 1u);
  ASSERT_EQ(r.generated.size(), 1u);
  const GeneratedMessage& g = r.generated[0];
  EXPECT_EQ(g.kind, "vacation reply");
  EXPECT_EQ(g.sender, "");
  EXPECT_EQ(g.recipients, std::vector<std::string>{"bob@example.net"});
  EXPECT_NE(g.content.find("Subject: Gone\r\n"), std::string::npos);
  EXPECT_NE(g.content.find("In-Reply-To: <m1@example.net>\r\n"), std::string::npos);
  EXPECT_NE(g.content.find("Auto-Submitted: auto-replied\r\n"), std::string::npos);
  EXPECT_NE(g.content.find("@mx.example.test>\r\n"), std::string::npos);
  // The second message from bob within :days gets none; the table is not asked instead.
  EXPECT_TRUE(deliver(script, Mail).generated.empty());
  EXPECT_EQ(inbox(), 2u);
  // A list message gets none either, from another sender.
  EXPECT_TRUE(
      deliver(script, std::string("List-Id: <l.example.net>\r\n") + Mail, "carol@example.net")
          .generated.empty());
}

TEST_F(GeneratedMailTest, TheTableRepliesForTheRecipientsItKnows) {
  RecipientReport r = deliver("", Mail);
  ASSERT_EQ(r.generated.size(), 1u);
  EXPECT_NE(r.generated[0].content.find("Subject: Away\r\n"), std::string::npos);
  EXPECT_NE(r.generated[0].content.find("\r\n\r\nBack in May.\r\n"), std::string::npos);
  EXPECT_TRUE(deliver("", Mail).generated.empty());  // once per once_per
  EXPECT_TRUE(deliver("", Mail, "bob@example.net", "dave@example.test").generated.empty());
  RecipientReport failed = deliver("", Mail, "bob@example.net", "broken@example.test");
  EXPECT_EQ(failed.status, RecipientReport::Status::Delivered);  // never deferred for it
  EXPECT_TRUE(failed.generated.empty());
  // A discarded message gets no table reply.
  EXPECT_TRUE(deliver("discard;\n", Mail, "carol@example.net").generated.empty());
}

}  // namespace
}  // namespace petrel::delivery
