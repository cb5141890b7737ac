// sendmail -bs: the dialog, lines in and replies out.
#include "../../../source/cli/sendmail_smtp.h"

#include <gtest/gtest.h>

namespace petrel::cli {
namespace {

TEST(SendmailSmtpTest, OneMessage) {
  std::vector<LocalSmtpDialog::Message> got;
  LocalSmtpDialog d("host.example", 1000, [&](LocalSmtpDialog::Message&& m) {
    got.push_back(std::move(m));
    return std::string("250 2.0.0 Ok: queued as Q1\r\n");
  });
  EXPECT_EQ(d.greeting(), "220 host.example ESMTP Petrel (sendmail -bs)\r\n");
  std::string out;
  for (const char* line : {"EHLO me\r", "MAIL FROM:<a@x.example> BODY=8BITMIME",
                           "RCPT TO:<b@y.example>", "RCPT TO:<@r1,@r2:c@y.example>", "DATA",
                           "Subject: s", "", "..dot", ".", "QUIT"}) {
    out += d.onLine(line);
  }
  EXPECT_EQ(out,
            "250-host.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n"
            "250 ENHANCEDSTATUSCODES\r\n"
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
            "354 End data with <CR><LF>.<CR><LF>\r\n"
            "250 2.0.0 Ok: queued as Q1\r\n"
            "221 2.0.0 host.example closing\r\n");
  EXPECT_TRUE(d.finished());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].sender, "a@x.example");
  EXPECT_EQ(got[0].recipients, (std::vector<std::string>{"b@y.example", "c@y.example"}));
  EXPECT_EQ(got[0].content, "Subject: s\r\n\r\n.dot\r\n");
}

TEST(SendmailSmtpTest, Sequence) {
  int calls = 0;
  LocalSmtpDialog d("h", 1000, [&](LocalSmtpDialog::Message&&) {
    ++calls;
    return std::string("250 ok\r\n");
  });
  EXPECT_EQ(d.onLine("MAIL FROM:<a@b>").substr(0, 3), "503");
  EXPECT_EQ(d.onLine("HELO x").substr(0, 3), "250");
  EXPECT_EQ(d.onLine("DATA").substr(0, 3), "503");
  EXPECT_EQ(d.onLine("MAIL FROM:a@b").substr(0, 3), "501");
  EXPECT_EQ(d.onLine("MAIL FROM:<>").substr(0, 3), "250");
  EXPECT_EQ(d.onLine("MAIL FROM:<>").substr(0, 3), "503");
  EXPECT_EQ(d.onLine("DATA").substr(0, 3), "554");
  EXPECT_EQ(d.onLine("RCPT TO:<>").substr(0, 3), "501");
  EXPECT_EQ(d.onLine("RSET").substr(0, 3), "250");
  EXPECT_EQ(d.onLine("RCPT TO:<c@d>").substr(0, 3), "503");
  EXPECT_EQ(d.onLine("VRFY x").substr(0, 3), "252");
  EXPECT_EQ(d.onLine("STARTTLS").substr(0, 3), "502");
  EXPECT_EQ(calls, 0);
}

TEST(SendmailSmtpTest, TooBig) {
  int calls = 0;
  LocalSmtpDialog d("h", 10, [&](LocalSmtpDialog::Message&&) {
    ++calls;
    return std::string("250 ok\r\n");
  });
  d.onLine("HELO x");
  d.onLine("MAIL FROM:<a@b>");
  d.onLine("RCPT TO:<c@d>");
  d.onLine("DATA");
  EXPECT_EQ(d.onLine("0123456789abcdef"), "");
  EXPECT_EQ(d.onLine(".").substr(0, 3), "552");
  EXPECT_EQ(calls, 0);
  // The transaction is over; a new one works.
  EXPECT_EQ(d.onLine("MAIL FROM:<a@b>").substr(0, 3), "250");
}

}  // namespace
}  // namespace petrel::cli
