// Tests for smtp::ProxyClient (the before-queue filter's client): set-up, XFORWARD as the
// filter offers it, the lockstep requests and their answers, RSET before a later MAIL, and
// every way the filter can fail; the command builders and the shared ReplyReader.
#include "petrel/smtp/proxy_client.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace petrel::smtp {
namespace {

constexpr std::string_view Ehlo =
    "250-filter.example\r\n250-PIPELINING\r\n250-XFORWARD NAME ADDR PROTO HELO\r\n"
    "250 8BITMIME\r\n";

std::vector<XforwardAttribute> attrs() {
  return {{"NAME", ""},       {"ADDR", "127.0.0.2"},      {"PORT", "4711"},
          {"PROTO", "ESMTP"}, {"HELO", "client.example"}, {"SOURCE", "REMOTE"}};
}

// A client past its set-up, with `ehlo` as the filter's EHLO reply.
ProxyClient ready(std::string_view ehlo = Ehlo) {
  ProxyClient c("mx.example");
  ProxyClient::Step s = c.onInput("220 filter.example ESMTP\r\n");
  EXPECT_EQ(s.send, "EHLO mx.example\r\n");
  s = c.onInput(ehlo);
  EXPECT_EQ(s.send, "");
  EXPECT_FALSE(s.answer);
  EXPECT_FALSE(c.waiting());
  return c;
}

TEST(ProxyClientTest, TransactionWithXforward) {
  ProxyClient c = ready();
  EXPECT_EQ(c.xforwardOffered(), (std::vector<std::string>{"NAME", "ADDR", "PROTO", "HELO"}));
  ProxyClient::Step s = c.mail(attrs(), "MAIL FROM:<a@b.example>");
  // Only what the filter offered; an unknown name as [UNAVAILABLE].
  EXPECT_EQ(s.send,
            "XFORWARD NAME=[UNAVAILABLE] ADDR=127.0.0.2 PROTO=ESMTP HELO=client.example\r\n");
  EXPECT_TRUE(c.waiting());
  EXPECT_TRUE(c.busy());
  s = c.onInput("250 2.0.0 Ok\r\n");
  EXPECT_EQ(s.send, "MAIL FROM:<a@b.example>\r\n");
  EXPECT_FALSE(s.answer);
  s = c.onInput("250 2.1.0 Sender ok\r\n");
  ASSERT_TRUE(s.answer);
  EXPECT_EQ(s.answer->oneLine(), "250 2.1.0 Sender ok");
  EXPECT_FALSE(c.busy());
  EXPECT_TRUE(c.inTransaction());

  s = c.rcpt("RCPT TO:<x@y.example>");
  EXPECT_EQ(s.send, "RCPT TO:<x@y.example>\r\n");
  s = c.onInput("550 5.1.1 No such user\r\n");
  ASSERT_TRUE(s.answer);
  EXPECT_EQ(s.answer->code, 550);
  EXPECT_EQ(s.answer->enhanced, "5.1.1");
  s = c.rcpt("RCPT TO:<ok@y.example>");
  s = c.onInput("250 2.1.5 Ok\r\n");
  ASSERT_TRUE(s.answer);

  s = c.data();
  EXPECT_EQ(s.send, "DATA\r\n");
  s = c.onInput("354 End data with <CR><LF>.<CR><LF>\r\n");
  ASSERT_TRUE(s.answer);
  EXPECT_EQ(s.answer->code, 354);
  EXPECT_FALSE(c.waiting());  // the driver streams the content now
  s = c.endOfData();
  EXPECT_EQ(s.send, "");  // the driver wrote the content and its dot
  EXPECT_TRUE(c.waiting());
  s = c.onInput("250 2.0.0 Ok: queued as 4Xy\r\n");
  ASSERT_TRUE(s.answer);
  EXPECT_EQ(s.answer->oneLine(), "250 2.0.0 Ok: queued as 4Xy");
  EXPECT_FALSE(c.inTransaction());

  // The next transaction needs no RSET; XFORWARD again (its attributes last one transaction).
  s = c.mail(attrs(), "MAIL FROM:<>");
  EXPECT_EQ(s.send.substr(0, 9), "XFORWARD ");
  EXPECT_EQ(c.quit(), "");  // busy: no QUIT in the middle of a command
}

TEST(ProxyClientTest, RequestBeforeSetUpAndRsetAfterUnfinishedTransaction) {
  ProxyClient c("mx.example");
  ProxyClient::Step s = c.mail(attrs(), "MAIL FROM:<a@b.example>");
  EXPECT_EQ(s.send, "");  // waits for the greeting and EHLO
  EXPECT_TRUE(c.waiting());
  s = c.onInput("220 f\r\n");
  EXPECT_EQ(s.send, "EHLO mx.example\r\n");
  s = c.onInput("250-f\r\n250 SIZE\r\n");  // no XFORWARD offered
  EXPECT_EQ(s.send, "MAIL FROM:<a@b.example>\r\n");
  s = c.onInput("250 2.1.0 Ok\r\n");
  ASSERT_TRUE(s.answer);
  // The client said RSET (or its DATA failed): the next MAIL starts with RSET.
  s = c.mail(attrs(), "MAIL FROM:<c@d.example>");
  EXPECT_EQ(s.send, "RSET\r\n");
  s = c.onInput("250 2.0.0 Ok\r\n");
  EXPECT_EQ(s.send, "MAIL FROM:<c@d.example>\r\n");
  // A refused MAIL leaves no transaction to reset.
  s = c.onInput("451 4.3.0 try later\r\n");
  ASSERT_TRUE(s.answer);
  EXPECT_FALSE(c.inTransaction());
  s = c.mail({}, "MAIL FROM:<e@f.example>");
  EXPECT_EQ(s.send, "MAIL FROM:<e@f.example>\r\n");
}

TEST(ProxyClientTest, Failures) {
  {
    ProxyClient c("mx.example");
    ProxyClient::Step s = c.onInput("554 5.3.2 go away\r\n");
    ASSERT_TRUE(s.failure);
    EXPECT_EQ(*s.failure, "greeting: 554 5.3.2 go away");
    EXPECT_TRUE(c.failed());
    s = c.mail({}, "MAIL FROM:<>");  // after a failure: nothing sent, no answer
    EXPECT_EQ(s.send, "");
    EXPECT_FALSE(s.answer);
  }
  {
    ProxyClient c("mx.example");
    c.onInput("220 f\r\n");
    ProxyClient::Step s = c.onInput("502 5.5.2 what\r\n");
    ASSERT_TRUE(s.failure);
    EXPECT_EQ(*s.failure, "EHLO: 502 5.5.2 what");
  }
  {
    ProxyClient c = ready();
    c.mail(attrs(), "MAIL FROM:<>");
    ProxyClient::Step s = c.onInput("421 4.3.2 shutting down\r\n");
    ASSERT_TRUE(s.failure);  // XFORWARD refused
    EXPECT_EQ(*s.failure, "XFORWARD: 421 4.3.2 shutting down");
  }
  {
    ProxyClient c = ready("250 f\r\n");
    c.mail({}, "MAIL FROM:<>");
    ProxyClient::Step s = c.onInput("421 4.4.2 timeout\r\n");  // not passed on to the client
    ASSERT_TRUE(s.failure);
    EXPECT_FALSE(s.answer);
  }
  {
    ProxyClient c = ready("250 f\r\n");
    c.mail({}, "MAIL FROM:<>");
    ProxyClient::Step s = c.onInput("hello\r\n");
    ASSERT_TRUE(s.failure);
    EXPECT_EQ(*s.failure, "protocol error: malformed reply line: hello");
  }
  {
    ProxyClient c = ready("250 f\r\n");
    ProxyClient::Step s = c.onInput("250 unasked\r\n");
    ASSERT_TRUE(s.failure);
    EXPECT_EQ(*s.failure, "unexpected reply: 250 unasked");
  }
  {
    ProxyClient c = ready("250 f\r\n");
    c.mail({}, "MAIL FROM:<>");
    ProxyClient::Step s = c.fail("timeout after 100s");
    ASSERT_TRUE(s.failure);
    EXPECT_EQ(*s.failure, "timeout after 100s");
    EXPECT_FALSE(c.busy());
    EXPECT_FALSE(c.waiting());
  }
}

TEST(ProxyClientTest, RepliesSplitAnywhere) {
  ProxyClient c("mx.example");
  std::string all = "220 f\r\n";
  ProxyClient::Step s;
  for (char ch : all) s = c.onInput(std::string(1, ch));
  EXPECT_EQ(s.send, "EHLO mx.example\r\n");
  std::string ehlo(Ehlo);
  for (char ch : ehlo) s = c.onInput(std::string(1, ch));
  EXPECT_EQ(c.xforwardOffered().size(), 4u);
  EXPECT_EQ(c.quit(), "QUIT\r\n");
}

TEST(ProxyClientTest, XforwardCommandsStayUnder512Octets) {
  std::vector<std::string> offered{"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE"};
  std::vector<XforwardAttribute> a{{"name", std::string(300, 'n')},
                                   {"HELO", std::string(300, 'h')},
                                   {"ADDR", "IPV6:2001:db8::1"},
                                   {"helo", "a b+c=d"},
                                   {"IDENT", std::string(600, 'i')}};
  std::vector<std::string> lines = xforwardCommands(a, offered);
  ASSERT_EQ(lines.size(), 2u);
  for (const std::string& l : lines) EXPECT_LE(l.size() + 2, 512u) << l;
  EXPECT_EQ(lines[0], "XFORWARD NAME=" + std::string(300, 'n'));
  EXPECT_EQ(lines[1], "XFORWARD HELO=" + std::string(300, 'h') +
                          " ADDR=IPV6:2001:db8::1 HELO=a+20b+2Bc+3Dd IDENT=[UNAVAILABLE]");
  EXPECT_TRUE(xforwardCommands(a, {}).empty());
}

TEST(ProxyClientTest, CommandsCarryTheClientsParameters) {
  MailParams m;
  m.sender.text = "a@b.example";
  m.size = 1234;
  m.body = "8BITMIME";
  m.dsn_ret = "HDRS";
  m.dsn_envid = "id+1";
  EXPECT_EQ(proxyMailCommand(m),
            "MAIL FROM:<a@b.example> SIZE=1234 BODY=8BITMIME RET=HDRS ENVID=id+2B1");
  EXPECT_EQ(proxyMailCommand(MailParams{}), "MAIL FROM:<>");
  RcptParams r;
  r.recipient.text = "x@y.example";
  r.dsn_notify = "success,failure";
  r.dsn_orcpt = "rfc822;x@y.example";
  EXPECT_EQ(proxyRcptCommand(r),
            "RCPT TO:<x@y.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@y.example");
}

TEST(ReplyReaderTest, MultiLineEnhancedAndErrors) {
  ReplyReader r;
  r.feed("250-first\r\n250-2.0.0 second\r\n250 2.0.0 third\twith tab\r\n354 go");
  std::optional<Reply> a = r.next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->lines, (std::vector<std::string>{"first", "second", "third with tab"}));
  EXPECT_EQ(a->enhanced, "2.0.0");
  EXPECT_FALSE(r.next());
  EXPECT_FALSE(r.error());
  r.feed("\r\n");
  a = r.next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->code, 354);
  ReplyReader bad;
  bad.feed("250-a\r\n251 b\r\n");
  EXPECT_FALSE(bad.next());
  ASSERT_TRUE(bad.error());
  EXPECT_EQ(*bad.error(), "reply code changes within a multi-line reply");
  ReplyReader longline;
  longline.feed(std::string(5000, '2'));
  EXPECT_FALSE(longline.next());
  EXPECT_EQ(*longline.error(), "reply line too long");
}

}  // namespace
}  // namespace petrel::smtp
