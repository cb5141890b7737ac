// Tests for MAIL FROM / RCPT TO argument parsing (source/smtp/address.cc): paths, the
// parameters of SIZE, 8BITMIME, SMTPUTF8 and DSN, xtext, and the reply each refusal carries.
#include "petrel/smtp/address.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>

namespace petrel::smtp {
namespace {

using namespace std::string_literals;

// "501 5.1.7 Bad sender address syntax" for a failure, "" for success.
std::string mailError(std::string_view arg, MailParams* out = nullptr) {
  MailParams m;
  auto f = parseMailFrom(arg, m);
  if (out != nullptr) *out = m;
  return f ? f->reply.oneLine() : "";
}

std::string rcptError(std::string_view arg, bool utf8 = false, RcptParams* out = nullptr) {
  RcptParams r;
  auto f = parseRcptTo(arg, utf8, r);
  if (out != nullptr) *out = r;
  return f ? f->reply.oneLine() : "";
}

std::string sender(std::string_view arg) {
  MailParams m;
  EXPECT_EQ(mailError(arg, &m), "") << arg;
  return m.sender.text;
}

std::string recipient(std::string_view arg, bool utf8 = false) {
  RcptParams r;
  EXPECT_EQ(rcptError(arg, utf8, &r), "") << arg;
  return r.recipient.text;
}

constexpr const char* BadSender = "501 5.1.7 Bad sender address syntax";
constexpr const char* BadRecipient = "501 5.1.3 Bad recipient address syntax";
constexpr const char* MailSyntax = "501 5.5.4 Syntax: MAIL FROM:<address>";
constexpr const char* RcptSyntax = "501 5.5.4 Syntax: RCPT TO:<address>";

TEST(Address, NullSender) {
  MailParams m;
  EXPECT_EQ(mailError("<>", &m), "");
  EXPECT_TRUE(m.sender.isNull());
  EXPECT_EQ(mailError("<> SIZE=100 BODY=8BITMIME", &m), "");
  EXPECT_TRUE(m.sender.isNull());
  EXPECT_EQ(m.size, 100u);
  // The null path is a sender only (RFC 5321 4.1.1.3 needs a forward-path).
  EXPECT_EQ(rcptError("<>"), BadRecipient);
}

TEST(Address, OrdinaryPaths) {
  EXPECT_EQ(sender("<alice@example.test>"), "alice@example.test");
  EXPECT_EQ(sender(" <alice@example.test>"), "alice@example.test");  // space after the colon
  EXPECT_EQ(sender("alice@example.test"), "alice@example.test");     // no brackets: tolerated
  EXPECT_EQ(sender("alice@example.test SIZE=5"), "alice@example.test");
  EXPECT_EQ(recipient("<Bob.Smith+tag@Sub.Example.TEST>"), "Bob.Smith+tag@Sub.Example.TEST");
  EXPECT_EQ(recipient("<a@[192.0.2.1]>"), "a@[192.0.2.1]");
  EXPECT_EQ(recipient("<a@[IPv6:2001:db8::1]>"), "a@[IPv6:2001:db8::1]");
}

TEST(Address, BrokenBracketsAreSyntaxErrors) {
  EXPECT_EQ(mailError(""), MailSyntax);
  EXPECT_EQ(mailError("<alice@example.test"), MailSyntax);
  EXPECT_EQ(mailError("<alice@example.test>SIZE=1"), MailSyntax);
  EXPECT_EQ(rcptError("<bob@example.test"), RcptSyntax);
}

TEST(Address, BadMailboxSyntax) {
  for (const char* bad :
       {"<a@-x.example>", "<a@x-.example>", "<a@exa_mple.test>", "<a@example..test>",
        "<a@example.test.>", "<a.@example.test>", "<.a@example.test>", "<a..b@example.test>",
        "<a b@example.test>", "<a@>", "<@example.test>", "<a@[]>", "<a@[192.0.2.1>",
        "<a(comment)@example.test>", "<a@b@example.test>"}) {
    EXPECT_EQ(mailError(bad), BadSender) << bad;
    EXPECT_EQ(rcptError(bad), BadRecipient) << bad;
  }
  std::string long_label = "<a@" + std::string(64, 'x') + ".example>";
  EXPECT_EQ(rcptError(long_label), BadRecipient);
}

TEST(Address, SourceRoutesAreAcceptedAndIgnored) {
  // RFC 5321 4.1.2 and appendix C: A-d-l is obsolete; the receiver strips it.
  EXPECT_EQ(sender("<@relay1.example,@relay2.example:alice@example.test>"), "alice@example.test");
  EXPECT_EQ(recipient("<@relay.example:bob@example.test>"), "bob@example.test");
  EXPECT_EQ(rcptError("<@relay.example>"), BadRecipient);
  EXPECT_EQ(rcptError("<@relay.example:>"), BadRecipient);
}

TEST(Address, QuotedLocalParts) {
  EXPECT_EQ(recipient("<\"john doe\"@example.test>"), "\"john doe\"@example.test");
  EXPECT_EQ(recipient("<\"a>b\"@example.test>"), "\"a>b\"@example.test");  // '>' inside quotes
  EXPECT_EQ(recipient("<\"a\\\"b\"@example.test>"), "\"a\\\"b\"@example.test");
  EXPECT_EQ(recipient("<\"a@b\"@example.test>"), "\"a@b\"@example.test");
  EXPECT_EQ(rcptError("<\"unterminated@example.test>"), RcptSyntax);
  EXPECT_EQ(rcptError("<\"a\"b@example.test>"), BadRecipient);
  EXPECT_EQ(rcptError("<\"a\\\"@example.test>"), RcptSyntax);  // the escape eats the quote

  RcptParams r;
  ASSERT_EQ(rcptError("<\"a@b\"@example.test>", false, &r), "");
  EXPECT_EQ(r.recipient.localPart(), "\"a@b\"");
  EXPECT_EQ(r.recipient.domain(), "example.test");
}

TEST(Address, QuotedLocalPartsCarryNoControlCharacters) {
  // qtextSMTP and quoted-pairSMTP are %d32-126 (RFC 5321 4.1.2): a CR, NUL or TAB smuggled
  // through quotes would reach logs, headers and the queue file.
  for (std::string bad :
       {std::string("<\"a\\\rb\"@example.test>"), std::string("<\"a\\\x01z\"@example.test>"),
        "<\"a\\\0z\"@example.test>"s, std::string("<\"a\tb\"@example.test>"),
        std::string("<\"a\x7f\"@example.test>")}) {
    EXPECT_EQ(rcptError(bad), BadRecipient) << bad;
  }
}

TEST(Address, PostmasterNeedsNoDomain) {
  // RFC 5321 4.1.1.3: "Postmaster" without a domain, case-insensitively, as a recipient only.
  EXPECT_EQ(recipient("<postmaster>"), "postmaster");
  EXPECT_EQ(recipient("<PostMaster>"), "PostMaster");
  EXPECT_EQ(rcptError("<alice>"), BadRecipient);
  EXPECT_EQ(mailError("<postmaster>"), BadSender);
  RcptParams r;
  ASSERT_EQ(rcptError("<postmaster>", false, &r), "");
  EXPECT_EQ(r.recipient.domain(), "");
  EXPECT_EQ(r.recipient.localPart(), "postmaster");
}

TEST(Address, SizeParameter) {
  MailParams m;
  EXPECT_EQ(mailError("<a@example.test> SIZE=12345", &m), "");
  EXPECT_EQ(m.size, 12345u);
  EXPECT_EQ(mailError("<a@example.test> size=0", &m), "");
  EXPECT_EQ(m.size, 0u);
  EXPECT_EQ(mailError("<a@example.test>", &m), "");
  EXPECT_FALSE(m.size.has_value());
  EXPECT_EQ(mailError("<a@example.test> SIZE=abc"), "501 5.5.4 Bad parameter syntax: SIZE");
  EXPECT_EQ(mailError("<a@example.test> SIZE"), "501 5.5.4 Bad parameter syntax: SIZE");
  EXPECT_EQ(mailError("<a@example.test> SIZE=-1"), "501 5.5.4 Bad parameter syntax: SIZE");
  EXPECT_EQ(mailError("<a@example.test> SIZE=99999999999999999999999"),
            "501 5.5.4 Bad parameter syntax: SIZE");
}

TEST(Address, BodyParameter) {
  MailParams m;
  EXPECT_EQ(mailError("<a@example.test> BODY=7BIT", &m), "");
  EXPECT_EQ(m.body, "7BIT");
  EXPECT_EQ(mailError("<a@example.test> body=8bitmime", &m), "");
  EXPECT_EQ(m.body, "8BITMIME");
  EXPECT_EQ(mailError("<a@example.test>", &m), "");
  EXPECT_EQ(m.body, "");
  // BINARYMIME needs the extension of that name, which is not offered.
  EXPECT_EQ(mailError("<a@example.test> BODY=BINARYMIME"), "501 5.5.4 Unsupported BODY type");
  EXPECT_EQ(mailError("<a@example.test> BODY"), "501 5.5.4 Unsupported BODY type");
}

TEST(Address, Smtputf8Parameter) {
  MailParams m;
  EXPECT_EQ(mailError("<a@example.test> SMTPUTF8", &m), "");
  EXPECT_TRUE(m.smtputf8);
  EXPECT_EQ(mailError("<a@example.test>", &m), "");
  EXPECT_FALSE(m.smtputf8);
  EXPECT_EQ(mailError("<a@example.test> SMTPUTF8=yes"), "501 5.5.4 Bad parameter syntax: SMTPUTF8");
}

TEST(Address, NonAsciiNeedsSmtputf8) {
  // RFC 6531 3.2: without SMTPUTF8, 553 5.6.7 for a non-ASCII address.
  EXPECT_EQ(mailError("<jöran@example.test>"),
            "553 5.6.7 Non-ASCII sender address requires SMTPUTF8");
  EXPECT_EQ(rcptError("<jöran@bücher.example>", false),
            "553 5.6.7 Non-ASCII recipient address requires SMTPUTF8");
  MailParams m;
  EXPECT_EQ(mailError("<jöran@bücher.example> SMTPUTF8", &m), "");
  EXPECT_EQ(m.sender.text, "jöran@bücher.example");
  EXPECT_FALSE(m.sender.isAscii());
  // SMTPUTF8 may come before or after the path's other parameters.
  EXPECT_EQ(mailError("<δοκιμή@παράδειγμα.δοκιμή> BODY=8BITMIME SMTPUTF8"), "");
  EXPECT_EQ(recipient("<用户@例子.广告>", true), "用户@例子.广告");
  EXPECT_EQ(recipient("<\"jö ran\"@example.test>", true), "\"jö ran\"@example.test");
  EXPECT_TRUE(Address{"a@example.test"}.isAscii());
}

TEST(Address, InvalidUtf8IsRefusedEvenWithSmtputf8) {
  for (std::string bad : {
           std::string("<a\xC3\x28@example.test>"),          // bad continuation
           std::string("<a\xC0\xAF@example.test>"),          // overlong '/'
           std::string("<a\xE0\x80\xAF@example.test>"),      // overlong, 3 bytes
           std::string("<a\xED\xA0\x80@example.test>"),      // UTF-16 surrogate
           std::string("<a\xF4\x90\x80\x80@example.test>"),  // above U+10FFFF
           std::string("<a\xF8\x88\x80\x80\x80@example.test>"),
           std::string("<a\x80@example.test>"),      // lone continuation byte
           std::string("<a@example.test\xE2\x82>"),  // truncated at the end
       }) {
    EXPECT_EQ(mailError(bad + " SMTPUTF8"), BadSender) << bad;
    EXPECT_EQ(rcptError(bad, true), BadRecipient) << bad;
  }
  EXPECT_EQ(recipient("<a\xF0\x9F\x98\x80@example.test>", true), "a\xF0\x9F\x98\x80@example.test");
  EXPECT_EQ(recipient("<a@example.test\xE2\x82\xAC>", true), "a@example.test\xE2\x82\xAC");
}

TEST(Address, PathLengthLimit) {
  // RFC 5321 4.5.3.1.3: a path is at most 256 octets including the angle brackets.
  // "a@ddd...": labels of at most 60 octets, `len` octets in all.
  auto path = [](size_t len) {
    std::string m = "a@";
    while (m.size() < len) {
      if (m.size() > 2) m += '.';
      m += std::string(std::min<size_t>(60, len - m.size()), 'd');
    }
    return m;
  };
  ASSERT_EQ(path(254).size(), 254u);
  EXPECT_EQ(recipient("<" + path(254) + ">"), path(254));
  EXPECT_EQ(rcptError("<" + path(255) + ">"), "501 5.1.3 Bad recipient address: too long");
  EXPECT_EQ(mailError("<" + path(300) + ">"), "501 5.1.7 Bad sender address: too long");
  EXPECT_EQ(rcptError(path(255)), "501 5.1.3 Bad recipient address: too long");
}

TEST(Address, UnknownParametersAre555) {
  // RFC 5321 4.1.1.11 / 3.3: a parameter not recognized (or not for this command) is 555.
  EXPECT_EQ(mailError("<a@example.test> FOO=bar"), "555 5.5.4 Unsupported option: FOO");
  EXPECT_EQ(mailError("<a@example.test> XVERP"), "555 5.5.4 Unsupported option: XVERP");
  EXPECT_EQ(mailError("<a@example.test> NOTIFY=NEVER"), "555 5.5.4 Unsupported option: NOTIFY");
  EXPECT_EQ(rcptError("<b@example.test> SIZE=10"), "555 5.5.4 Unsupported option: SIZE");
  EXPECT_EQ(rcptError("<b@example.test> RET=FULL"), "555 5.5.4 Unsupported option: RET");
  EXPECT_EQ(rcptError("<b@example.test> SMTPUTF8"), "555 5.5.4 Unsupported option: SMTPUTF8");
  // Only a well-formed keyword is echoed: a bare CR would split the reply line.
  EXPECT_EQ(mailError("<a@example.test> X\rY=1"), "555 5.5.4 Unsupported option");
  EXPECT_EQ(mailError("<a@example.test> X\xC3\xB6"), "555 5.5.4 Unsupported option");
  EXPECT_EQ(mailError("<a@example.test> " + std::string(400, 'K')), "555 5.5.4 Unsupported option");
  EXPECT_EQ(mailError("<a@example.test> X-FOO-1"), "555 5.5.4 Unsupported option: X-FOO-1");
}

TEST(Address, DsnRetAndEnvid) {
  MailParams m;
  EXPECT_EQ(mailError("<a@example.test> RET=FULL ENVID=QQ314159", &m), "");
  EXPECT_EQ(m.dsn_ret, "FULL");
  EXPECT_EQ(m.dsn_envid, "QQ314159");
  EXPECT_EQ(mailError("<a@example.test> ret=hdrs envid=a+2Bb+3Dc", &m), "");
  EXPECT_EQ(m.dsn_ret, "HDRS");
  EXPECT_EQ(m.dsn_envid, "a+b=c");
  EXPECT_EQ(mailError("<a@example.test> RET=ALL"), "501 5.5.4 Bad parameter syntax: RET");
  EXPECT_EQ(mailError("<a@example.test> ENVID=a+2"), "501 5.5.4 Bad parameter syntax: ENVID");
  EXPECT_EQ(mailError("<a@example.test> ENVID=a+2b"), "501 5.5.4 Bad parameter syntax: ENVID");
  EXPECT_EQ(mailError("<a@example.test> ENVID=" + std::string(100, 'x')), "");
  // RFC 3461 4.4: at most 100 characters.
  EXPECT_EQ(mailError("<a@example.test> ENVID=" + std::string(101, 'x')),
            "501 5.5.4 Bad parameter syntax: ENVID");
  // RFC 3461 4.4: the ENVID is printable US-ASCII; a decoded CRLF would end up in the
  // Original-Envelope-Id header of a DSN.
  EXPECT_EQ(mailError("<a@example.test> ENVID=x+0D+0ABcc:+20victim@example.test"),
            "501 5.5.4 Bad parameter syntax: ENVID");
  EXPECT_EQ(mailError("<a@example.test> ENVID=x+00"), "501 5.5.4 Bad parameter syntax: ENVID");
}

TEST(Address, DsnNotify) {
  RcptParams r;
  EXPECT_EQ(rcptError("<b@example.test> NOTIFY=SUCCESS,FAILURE", false, &r), "");
  EXPECT_EQ(r.dsn_notify, "SUCCESS,FAILURE");
  EXPECT_EQ(rcptError("<b@example.test> notify=delay", false, &r), "");
  EXPECT_EQ(r.dsn_notify, "DELAY");
  EXPECT_EQ(rcptError("<b@example.test> NOTIFY=NEVER", false, &r), "");
  EXPECT_EQ(r.dsn_notify, "NEVER");
  EXPECT_EQ(rcptError("<b@example.test>", false, &r), "");
  EXPECT_EQ(r.dsn_notify, "");
  // RFC 3461 4.1: NEVER stands alone.
  for (const char* bad :
       {"NOTIFY=NEVER,DELAY", "NOTIFY=SOMETIMES", "NOTIFY=", "NOTIFY", "NOTIFY=SUCCESS,,FAILURE"}) {
    EXPECT_EQ(rcptError(std::string("<b@example.test> ") + bad),
              "501 5.5.4 Bad parameter syntax: NOTIFY")
        << bad;
  }
}

TEST(Address, DsnOrcpt) {
  RcptParams r;
  EXPECT_EQ(rcptError("<b@example.test> ORCPT=rfc822;bob+40example.test", false, &r), "");
  EXPECT_EQ(r.dsn_orcpt, "rfc822;bob@example.test");
  EXPECT_EQ(rcptError("<b@example.test> ORCPT=rfc822;b@example.test NOTIFY=NEVER", false, &r), "");
  EXPECT_EQ(r.dsn_orcpt, "rfc822;b@example.test");
  EXPECT_EQ(r.dsn_notify, "NEVER");
  for (const char* bad : {"ORCPT=bob@example.test", "ORCPT=;bob@example.test", "ORCPT",
                          "ORCPT=rfc822;b+4", "ORCPT=rfc822;b=c"}) {
    EXPECT_EQ(rcptError(std::string("<b@example.test> ") + bad),
              "501 5.5.4 Bad parameter syntax: ORCPT")
        << bad;
  }
  // RFC 6533 utf-8-addr-xtext is taken as given when SMTPUTF8 is in effect.
  EXPECT_EQ(rcptError("<b@example.test> ORCPT=utf-8;jöran@example.test", true, &r), "");
  EXPECT_EQ(r.dsn_orcpt, "utf-8;jöran@example.test");
  EXPECT_EQ(rcptError("<b@example.test> ORCPT=utf-8;jöran@example.test", false),
            "501 5.5.4 Bad parameter syntax: ORCPT");
  // Decoded control characters would become part of an Original-Recipient header.
  EXPECT_EQ(rcptError("<b@example.test> ORCPT=rfc822;b+0D+0AX:y@example.test"),
            "501 5.5.4 Bad parameter syntax: ORCPT");
  EXPECT_EQ(rcptError("<b@example.test> ORCPT=rfc\r822;b@example.test"),
            "501 5.5.4 Bad parameter syntax: ORCPT");
}

TEST(Address, ParameterKeywordsAreCaseInsensitive) {
  MailParams m;
  EXPECT_EQ(mailError("<a@example.test> Size=7 Body=7bit SmtpUtf8 Ret=Full", &m), "");
  EXPECT_EQ(m.size, 7u);
  EXPECT_EQ(m.body, "7BIT");
  EXPECT_TRUE(m.smtputf8);
  EXPECT_EQ(m.dsn_ret, "FULL");
  // Extra spaces between parameters are harmless.
  EXPECT_EQ(mailError("<a@example.test>   SIZE=7   BODY=7BIT  ", &m), "");
  EXPECT_EQ(m.size, 7u);
}

TEST(Address, ReparsingAResultIsStable) {
  for (const char* in : {"<alice@example.test>", "<@r.example:alice@example.test>",
                         "<\"a b\"@example.test>", "<postmaster>", "<x@[192.0.2.1]>"}) {
    RcptParams once, twice;
    ASSERT_FALSE(parseRcptTo(in, false, once)) << in;
    ASSERT_FALSE(parseRcptTo("<" + once.recipient.text + ">", false, twice)) << in;
    EXPECT_EQ(once.recipient.text, twice.recipient.text);
  }
}

TEST(Xtext, Decoding) {
  EXPECT_EQ(decodeXtext(""), "");
  EXPECT_EQ(decodeXtext("abc"), "abc");
  EXPECT_EQ(decodeXtext("a+2Bb"), "a+b");
  EXPECT_EQ(decodeXtext("+3D+2B"), "=+");
  EXPECT_EQ(decodeXtext("+C3+B6"), "\xC3\xB6");
  EXPECT_EQ(decodeXtext("!~"), "!~");
  for (const char* bad : {"+", "+4", "a+4", "+2b", "+G0", "a=b", "a b", "a\x7f", "\xC3\xB6"}) {
    EXPECT_EQ(decodeXtext(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace petrel::smtp
