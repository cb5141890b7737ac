// The mail log's observer: each outcome line hands one MailEvent over, with its fields.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "petrel/log/mail_log.h"

namespace petrel::log {
namespace {

struct Seen {
  MailEvent::Kind kind;
  std::string id, sender, address, client, stage, text, relay;
  bool content;
};

class Recorder : public MailEventObserver {
 public:
  void onMailEvent(const MailEvent& e) override {
    seen.push_back({e.kind, std::string(e.id), std::string(e.sender), std::string(e.address),
                    std::string(e.client), std::string(e.stage), std::string(e.text),
                    std::string(e.relay), e.content});
  }
  std::vector<Seen> seen;
};

class MailEventTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LogSettings quiet;
    quiet.to_stderr = false;
    configure(quiet);
    setMailEventObserver(&recorder_);
  }
  void TearDown() override {
    setMailEventObserver(nullptr);
    configure(LogSettings{});
  }
  Recorder recorder_;
};

TEST_F(MailEventTest, EveryOutcomeOnce) {
  mail::queued("A1", "s@example.net", 100, 1);
  mail::queued("B2", "", 100, 1, /*injected=*/true);  // a bounce: not received
  mail::delivery(Program::Virtual, "A1", "bob@example.org", "", "virtual", 0.1, {}, "2.0.0",
                 "sent", "delivered to maildir");
  mail::delivery(Program::Smtp, "A1", "x@remote.test", "", "mx.remote.test[192.0.2.1]:25", 0.1,
                 {}, "2.0.0", "sent", "250 ok");
  mail::delivery(Program::Smtp, "A1", "y@remote.test", "", "none", 0.1, {}, "4.4.1", "deferred",
                 "connect refused");
  mail::delivery(Program::Virtual, "A1", "z@example.org", "", "virtual", 0.1, {}, "5.1.1",
                 "bounced", "no mailbox");
  mail::reject("RCPT", "unknown[192.0.2.7]", "554 5.7.1 <a@b>: Relay access denied", "s@x",
               "a@b", "ESMTP", "h");
  mail::contentCheck("C3", "reject", "header", "Subject: spam", "unknown[192.0.2.7]", "s@x",
                     "r@y", "ESMTP", "h", "5.7.1 no");
  mail::contentCheck("C3", "warning", "header", "Subject: x", "c", "s", "r", "ESMTP", "h", "");
  mail::milterAction("D4", "milter-reject", "END-OF-MESSAGE", "c[1.2.3.4]", "5.7.1 go away",
                     "s", "r", "ESMTP", "h");
  mail::milterAction("D4", "milter-hold", "END-OF-MESSAGE", "c", "t", "s", "r", "ESMTP", "h");
  mail::info(Program::Qmgr, "A1: removed");
  using K = MailEvent::Kind;
  const auto& s = recorder_.seen;
  ASSERT_EQ(s.size(), 8u);
  EXPECT_EQ(s[0].kind, K::Received);
  EXPECT_EQ(s[0].sender, "s@example.net");
  EXPECT_EQ(s[1].kind, K::Delivered);
  EXPECT_EQ(s[1].address, "bob@example.org");
  EXPECT_EQ(s[2].kind, K::Relayed);
  EXPECT_EQ(s[3].kind, K::Deferred);
  EXPECT_EQ(s[3].text, "connect refused");
  EXPECT_EQ(s[4].kind, K::Bounced);
  EXPECT_EQ(s[5].kind, K::Rejected);
  EXPECT_EQ(s[5].id, "NOQUEUE");
  EXPECT_EQ(s[5].client, "unknown[192.0.2.7]");
  EXPECT_EQ(s[5].stage, "RCPT");
  EXPECT_FALSE(s[5].content);
  EXPECT_EQ(s[6].kind, K::Rejected);
  EXPECT_TRUE(s[6].content);
  EXPECT_EQ(s[6].id, "C3");
  EXPECT_EQ(s[7].kind, K::Rejected);
  EXPECT_TRUE(s[7].content);
  EXPECT_EQ(s[7].text, "5.7.1 go away");
}

TEST_F(MailEventTest, NoObserverNoEvent) {
  setMailEventObserver(nullptr);
  mail::queued("A1", "s@example.net", 100, 1);
  EXPECT_TRUE(recorder_.seen.empty());
}

}  // namespace
}  // namespace petrel::log
