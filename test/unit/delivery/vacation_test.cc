// Tests for the vacation rules and reply (delivery/vacation.h): each RFC 3834 / RFC 5230 rule
// of decideVacation on its own, the reply's bytes, the handle and the table's answer. Pure:
// header sections parsed from text, the date and Message-ID passed in.
#include "petrel/delivery/vacation.h"

#include <gtest/gtest.h>

#include <string>

#include "petrel/content/header_section.h"

namespace petrel::delivery {
namespace {

struct Header {
  explicit Header(std::string text) : text_(std::move(text)), section_(64 * 1024) {
    section_.feed(text_);
    if (!section_.complete()) section_.end();
  }
  std::span<const content::HeaderField> fields() const { return section_.fields(); }
  std::string text_;
  content::HeaderSection section_;
};

VacationDecision decide(std::string_view sender, std::string_view header,
                        std::vector<std::string> addresses = {},
                        std::string_view recipient = "alice@example.test") {
  Header h(std::string(header) + "\r\n");
  return decideVacation(VacationQuery{sender, recipient, std::move(addresses), "+", h.fields()});
}

constexpr std::string_view ToAlice = "From: bob@example.net\r\nTo: Alice <alice@example.test>\r\n";

TEST(VacationDecisionTest, RepliesToMailAddressedToTheUser) {
  EXPECT_TRUE(decide("bob@example.net", ToAlice).reply);
  EXPECT_TRUE(decide("bob@example.net", "Cc: x@y.example, ALICE@example.TEST\r\n").reply);
  EXPECT_TRUE(decide("bob@example.net", "Bcc: alice@example.test\r\n").reply);
  EXPECT_TRUE(decide("bob@example.net", "Resent-To: alice@example.test\r\n").reply);
  EXPECT_TRUE(decide("bob@example.net", std::string(ToAlice) + "Auto-Submitted: no\r\n").reply);
  // The recipient with an extension is addressed by its base address, and the other way.
  EXPECT_TRUE(decide("bob@example.net", ToAlice, {}, "alice+work@example.test").reply);
  EXPECT_TRUE(decide("bob@example.net", "To: alice+x@example.test\r\n").reply);
}

TEST(VacationDecisionTest, NotWhenTheUserIsNotARecipientInTheHeader) {
  VacationDecision d = decide("bob@example.net", "To: list@example.org\r\n");
  EXPECT_FALSE(d.reply);
  EXPECT_EQ(d.why, "the user is not in To, Cc or Bcc");
  EXPECT_FALSE(decide("bob@example.net", "Subject: alice@example.test\r\n").reply);
  // :addresses names the user's other addresses.
  EXPECT_TRUE(
      decide("bob@example.net", "To: a.smith@example.test\r\n", {"A.Smith@example.test"}).reply);
}

TEST(VacationDecisionTest, NeverToTheNullSenderOrDaemons) {
  EXPECT_EQ(decide("", ToAlice).why, "sender is <>");
  for (const char* s :
       {"MAILER-DAEMON@example.net", "owner-list@example.net", "list-request@example.net",
        "LISTSERV@example.net", "majordomo@example.net"}) {
    VacationDecision d = decide(s, ToAlice);
    EXPECT_FALSE(d.reply) << s;
    EXPECT_NE(d.why.find("daemon or a list"), std::string::npos) << d.why;
  }
  EXPECT_EQ(decide("alice@example.test", ToAlice).why, "sender is the user");
}

TEST(VacationDecisionTest, NeverToAutomaticOrListMail) {
  EXPECT_EQ(
      decide("bob@example.net", std::string(ToAlice) + "Auto-Submitted: auto-replied\r\n").why,
      "Auto-Submitted: auto-replied");
  EXPECT_EQ(
      decide("bob@example.net", std::string(ToAlice) + "Auto-Submitted: auto-generated; x=1\r\n")
          .why,
      "Auto-Submitted: auto-generated");
  EXPECT_EQ(decide("bob@example.net", std::string(ToAlice) + "List-Id: <l.example.net>\r\n").why,
            "list mail (List-Id)");
  EXPECT_EQ(
      decide("bob@example.net", std::string(ToAlice) + "list-unsubscribe: <mailto:x@y>\r\n").why,
      "list mail (list-unsubscribe)");
  for (const char* p : {"bulk", "List", " junk "}) {
    VacationDecision d =
        decide("bob@example.net", std::string(ToAlice) + "Precedence:" + p + "\r\n");
    EXPECT_FALSE(d.reply) << p;
  }
  EXPECT_TRUE(
      decide("bob@example.net", std::string(ToAlice) + "Precedence: first-class\r\n").reply);
}

TEST(VacationReplyTest, TheReplyBytes) {
  Header h(
      "From: Bob <bob@example.net>\r\nTo: alice@example.test\r\nSubject: Lunch?\r\n"
      "Message-ID: <m2@example.net>\r\nReferences: <m1@example.net>\r\n\r\n");
  sieve::Vacation v;
  v.reason = "I am away.\nBack on Monday.";
  std::string reply = composeVacationReply(
      VacationReplyInput{"bob@example.net", "alice@example.test", &v, h.fields(),
                         "Mon, 7 Dec 2026 16:00:00 +0000", "<r1@mx.example.test>"});
  EXPECT_EQ(reply,
            "From: alice@example.test\r\n"
            "To: <bob@example.net>\r\n"
            "Subject: Auto: Lunch?\r\n"
            "Date: Mon, 7 Dec 2026 16:00:00 +0000\r\n"
            "Message-ID: <r1@mx.example.test>\r\n"
            "In-Reply-To: <m2@example.net>\r\n"
            "References: <m1@example.net> <m2@example.net>\r\n"
            "Auto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 7bit\r\n"
            "\r\n"
            "I am away.\r\n"
            "Back on Monday.\r\n");
}

TEST(VacationReplyTest, SubjectFromAndMimeAsTheScriptSaysSafely) {
  Header h("Subject: x\r\n\r\n");
  sieve::Vacation v;
  v.subject = "Abwesend \xc3\xbc\r\nBcc: evil@example.net";
  v.from = "Alice Smith <a.smith@example.test>";
  v.mime = true;
  v.reason = "Content-Type: text/plain; charset=us-ascii\n\nAway.\n";
  std::string reply = composeVacationReply(
      VacationReplyInput{"bob@example.net", "alice@example.test", &v, h.fields(), "D", "<i>"});
  EXPECT_NE(reply.find("From: Alice Smith <a.smith@example.test>\r\n"), std::string::npos);
  // One line, RFC 2047-encoded: the CRLF in :subject cannot add a field.
  EXPECT_NE(reply.find("Subject: =?UTF-8?B?"), std::string::npos) << reply;
  EXPECT_EQ(reply.find("\r\nBcc:"), std::string::npos) << reply;
  EXPECT_EQ(reply.find("In-Reply-To"), std::string::npos);  // the original has no Message-ID
  EXPECT_NE(reply.find("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
                       "Away.\r\n"),
            std::string::npos)
      << reply;
  // A :from that is no single address is not used.
  v.from = "not an address, and another@x";
  reply = composeVacationReply(
      VacationReplyInput{"bob@example.net", "alice@example.test", &v, h.fields(), "D", "<i>"});
  EXPECT_TRUE(reply.starts_with("From: alice@example.test\r\n")) << reply;
}

TEST(VacationReplyTest, LongBodyLinesAreBrokenAndNoSubjectIsSaid) {
  Header h("To: alice@example.test\r\n\r\n");
  sieve::Vacation v;
  v.reason = std::string(2000, 'x');
  std::string reply = composeVacationReply(
      VacationReplyInput{"bob@example.net", "alice@example.test", &v, h.fields(), "D", "<i>"});
  EXPECT_NE(reply.find("Subject: Auto: (no subject)\r\n"), std::string::npos);
  EXPECT_NE(reply.find("\r\n" + std::string(998, 'x') + "\r\n"), std::string::npos);
}

TEST(VacationHandleTest, ChangesWithTheTextUnlessNamed) {
  sieve::Vacation a;
  a.reason = "away";
  sieve::Vacation b = a;
  b.reason = "away until May";
  EXPECT_NE(vacationHandle(a), vacationHandle(b));
  EXPECT_EQ(vacationHandle(a), vacationHandle(a));
  b.subject = "";
  EXPECT_NE(vacationHandle(a), vacationHandle(b));
  a.handle = "h";
  EXPECT_EQ(vacationHandle(a), "h");
}

TEST(VacationTableTest, SubjectOnTheFirstLineBodyAfter) {
  auto v = vacationFromTable("Out of office\r\nI am away.\nBack soon.", 86400);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->subject, "Out of office");
  EXPECT_EQ(v->reason, "I am away.\nBack soon.");
  EXPECT_EQ(v->seconds, 86400u);
  EXPECT_TRUE(v->handle->starts_with("table:"));
  auto no_subject = vacationFromTable("\nJust a body", 60);
  ASSERT_TRUE(no_subject.has_value());
  EXPECT_FALSE(no_subject->subject.has_value());  // "Auto: <original subject>"
  EXPECT_FALSE(vacationFromTable("  \n ", 60).has_value());
}

}  // namespace
}  // namespace petrel::delivery
