// sendmail's message work: input to wire format, -t, Bcc removal, the fields cleanup adds.
#include "../../../source/cli/sendmail_message.h"

#include <gtest/gtest.h>

namespace petrel::cli {
namespace {

std::string read(const std::string& text, bool ignore_dots) {
  MessageInput in(ignore_dots);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (!in.addLine(line)) break;
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return in.wire();
}

PrepareContext context(bool extract = false) {
  PrepareContext ctx;
  ctx.extract_recipients = extract;
  ctx.sender = "alice@host.example";
  ctx.full_name = "Alice Liddell";
  ctx.origin = "host.example";
  ctx.now = 1700000000;  // 2023-11-14 22:13:20 UTC
  ctx.unique = "123.ABCD";
  ctx.date = "Tue, 14 Nov 2023 22:13:20 +0000";
  return ctx;
}

TEST(SendmailMessageTest, LoneDotEndsInputWithoutI) {
  EXPECT_EQ(read("a\n.\nb\n", false), "a\r\n");
  EXPECT_EQ(read("a\n.\nb\n", true), "a\r\n.\r\nb\r\n");
  // Only a lone dot: ".." and ". " are text; CRLF input is taken as it is.
  EXPECT_EQ(read("..\n. \r\nx\r\n", false), "..\r\n. \r\nx\r\n");
  EXPECT_EQ(read("a\r\n.\r\nb\n", false), "a\r\n");
}

TEST(SendmailMessageTest, MissingFieldsAreAdded) {
  PreparedMessage p = prepareMessage("Subject: hi\r\n\r\nbody\r\n", context());
  EXPECT_EQ(p.content,
            "Subject: hi\r\n"
            "From: Alice Liddell <alice@host.example>\r\n"
            "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            "Message-ID: <20231114221320.123.ABCD@host.example>\r\n"
            "\r\n"
            "body\r\n");
  EXPECT_EQ(p.added, (std::vector<std::string>{"From", "Date", "Message-ID"}));
}

TEST(SendmailMessageTest, PresentFieldsAreKept) {
  std::string m =
      "from: Bob <bob@example.org>\r\nDATE: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
      "Message-Id: <x@y>\r\n\r\nbody\r\n";
  PreparedMessage p = prepareMessage(m, context());
  EXPECT_EQ(p.content, m);
  EXPECT_TRUE(p.added.empty());
}

TEST(SendmailMessageTest, NoHeaderAtAll) {
  // `echo hello | sendmail bob`: the first line is no field, so it is body.
  PrepareContext ctx = context();
  ctx.full_name.clear();
  PreparedMessage p = prepareMessage("hello world\r\n", ctx);
  EXPECT_EQ(p.content,
            "From: alice@host.example\r\n"
            "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            "Message-ID: <20231114221320.123.ABCD@host.example>\r\n"
            "\r\n"
            "hello world\r\n");
  EXPECT_EQ(prepareMessage("", ctx).content.substr(0, 6), "From: ");
}

TEST(SendmailMessageTest, FullNameWithSpecialsIsQuoted) {
  EXPECT_EQ(fromFieldBody("Cron Daemon", "root@h"), "Cron Daemon <root@h>");
  EXPECT_EQ(fromFieldBody("Smith, J. \"Jo\"", "j@h"), "\"Smith, J. \\\"Jo\\\"\" <j@h>");
  EXPECT_EQ(fromFieldBody("", "j@h"), "j@h");
}

TEST(SendmailMessageTest, ExtractRecipientsAndRemoveBcc) {
  std::string m =
      "To: Bob <bob@example.org>, carol\r\n"
      "Cc: \"Dan, D.\" <dan@example.org>,\r\n"
      "  erin@example.org\r\n"
      "Bcc: secret@example.org\r\n"
      "Subject: x\r\n"
      "\r\n"
      "To: not@header.example\r\n";
  PreparedMessage p = prepareMessage(m, context(true));
  EXPECT_EQ(p.recipients,
            (std::vector<std::string>{"bob@example.org", "carol@host.example", "dan@example.org",
                                      "erin@example.org", "secret@example.org"}));
  EXPECT_EQ(p.content.find("Bcc"), std::string::npos);
  EXPECT_EQ(p.content.find("secret"), std::string::npos);
  EXPECT_NE(p.content.find("Cc: \"Dan, D.\" <dan@example.org>,\r\n  erin@example.org\r\n"),
            std::string::npos);
  EXPECT_NE(p.content.find("\r\n\r\nTo: not@header.example\r\n"), std::string::npos);
}

TEST(SendmailMessageTest, BccRemovedWithoutT) {
  PreparedMessage p = prepareMessage("BCC: x@example.org\r\nTo: y@example.org\r\n\r\nb\r\n",
                                     context(false));
  EXPECT_TRUE(p.recipients.empty());
  EXPECT_EQ(p.content.find("x@example.org"), std::string::npos);
}

TEST(SendmailMessageTest, ResentFieldsWinWithT) {
  std::string m =
      "To: old@example.org\r\nResent-To: new@example.org\r\nResent-Bcc: hidden@example.org\r\n"
      "\r\n";
  PreparedMessage p = prepareMessage(m, context(true));
  EXPECT_EQ(p.recipients,
            (std::vector<std::string>{"new@example.org", "hidden@example.org"}));
  EXPECT_EQ(p.content.find("hidden"), std::string::npos);
}

TEST(SendmailMessageTest, GroupsAndEmptyLists) {
  PreparedMessage p =
      prepareMessage("To: undisclosed-recipients:;\r\nCc: team: a@x.example, b@x.example;\r\n\r\n",
                     context(true));
  EXPECT_EQ(p.recipients, (std::vector<std::string>{"a@x.example", "b@x.example"}));
}

TEST(SendmailMessageTest, Qualify) {
  EXPECT_EQ(qualify("root", "host.example"), "root@host.example");
  EXPECT_EQ(qualify("a@b", "host.example"), "a@b");
  EXPECT_EQ(qualify("", "host.example"), "");
}

}  // namespace
}  // namespace petrel::cli
