// Tests for delivery/header_rewrite.cc: address lists as RFC 5322 3.4 and its examples (A.1.2,
// A.1.3, A.5, A.6.3) write them, and the field-by-field rewrite of a header section.
#include "petrel/delivery/header_rewrite.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace petrel::delivery {
namespace {

// The addresses found, and the text each one spans in the body.
std::vector<std::pair<std::string, std::string>> addresses(std::string_view body) {
  auto found = findHeaderAddresses(body);
  EXPECT_TRUE(found.has_value()) << body;
  std::vector<std::pair<std::string, std::string>> out;
  if (!found) return out;
  for (const auto& a : *found) {
    out.emplace_back(a.address, std::string(body.substr(a.offset, a.length)));
  }
  return out;
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(HeaderAddresses, BareAddrSpecKeepsItsTrailingComment) {
  EXPECT_EQ(addresses(" alice@example.test (Alice Smith)"),
            (Pairs{{"alice@example.test", "alice@example.test"}}));
}

TEST(HeaderAddresses, DisplayNameAndAngleBrackets) {
  EXPECT_EQ(addresses(" \"Smith, Alice\" <alice@example.test>, Bob <bob@example.test>"),
            (Pairs{{"alice@example.test", "alice@example.test"},
                   {"bob@example.test", "bob@example.test"}}));
}

TEST(HeaderAddresses, Rfc5322GroupsAndEmptyGroup) {
  // RFC 5322 A.1.3
  EXPECT_EQ(addresses(" A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"),
            (Pairs{{"c@a.test", "c@a.test"},
                   {"joe@where.test", "joe@where.test"},
                   {"jdoe@one.test", "jdoe@one.test"}}));
  EXPECT_EQ(addresses(" Undisclosed recipients:;"), Pairs{});
  EXPECT_EQ(addresses(" group: a@x.test; , b@y.test"),
            (Pairs{{"a@x.test", "a@x.test"}, {"b@y.test", "b@y.test"}}));
}

TEST(HeaderAddresses, CommentsAndFoldingInsideTheAddress) {
  // RFC 5322 A.5 (white space, comments)
  EXPECT_EQ(addresses(" Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
            (Pairs{{"pete@silly.test", "pete(his account)@silly.test"}}));
  EXPECT_EQ(addresses("\r\n alice\r\n @example.test"),
            (Pairs{{"alice@example.test", "alice\r\n @example.test"}}));
}

TEST(HeaderAddresses, QuotedLocalPartIsUnquoted) {
  EXPECT_EQ(addresses(" <\"john doe\"@example.test>"),
            (Pairs{{"john doe@example.test", "\"john doe\"@example.test"}}));
  EXPECT_EQ(addresses(" \"a\\\"b\"@example.test"),
            (Pairs{{"a\"b@example.test", "\"a\\\"b\"@example.test"}}));
}

TEST(HeaderAddresses, ObsoleteRouteIsSkipped) {
  // RFC 5322 4.4 obs-route
  EXPECT_EQ(addresses(" Joe <@relay.test,@other.test:joe@example.test>"),
            (Pairs{{"joe@example.test", "joe@example.test"}}));
}

TEST(HeaderAddresses, DomainLiteralAndUtf8) {
  EXPECT_EQ(addresses(" root@[192.0.2.1]"), (Pairs{{"root@[192.0.2.1]", "root@[192.0.2.1]"}}));
  EXPECT_EQ(addresses(" Ünïcode <jürgen@exämple.test>"),
            (Pairs{{"jürgen@exämple.test", "jürgen@exämple.test"}}));
}

TEST(HeaderAddresses, LineBreaksNeverReachTheAddress) {
  // Found by header_rewrite_fuzz: folding inside a literal, a quoted-pair escaping a CR.
  EXPECT_EQ(addresses(" root@[192.0.\r\n 2.1]"),
            (Pairs{{"root@[192.0. 2.1]", "root@[192.0.\r\n 2.1]"}}));
  EXPECT_EQ(addresses(" \"a\\\r\n b\"@example.test"),
            (Pairs{{"a b@example.test", "\"a\\\r\n b\"@example.test"}}));
  EXPECT_EQ(addresses(" joe@w[192.0.2.1]"), Pairs{});  // a literal is the whole domain
}

TEST(HeaderAddresses, NotAddressesAreSkipped) {
  EXPECT_EQ(addresses(" root"), Pairs{});                       // no domain
  EXPECT_EQ(addresses(" John Doe"), Pairs{});                   // a bare name
  EXPECT_EQ(addresses(" <>"), Pairs{});                         // empty
  EXPECT_EQ(addresses(" a@b@c.test, ok@example.test"),          // two '@'
            (Pairs{{"ok@example.test", "ok@example.test"}}));
  EXPECT_EQ(addresses(" John Doe@example.test"), Pairs{});      // words side by side
  EXPECT_EQ(addresses(" , ,"), Pairs{});
}

TEST(HeaderAddresses, BrokenStructureIsRefused) {
  for (std::string_view body : {" \"unterminated@example.test", " (open comment a@b.test",
                                " <a@b.test", " a@b.test>", " <a@b.test> <c@d.test>",
                                " stray ) a@b.test", " [1.2.3.4 a@b.test"}) {
    EXPECT_FALSE(findHeaderAddresses(body).has_value()) << body;
  }
}

TEST(HeaderAddresses, ClassesFollowPostfix) {
  EXPECT_EQ(headerAddressClass("from"), HeaderAddressClass::Sender);
  EXPECT_EQ(headerAddressClass("Reply-To"), HeaderAddressClass::Sender);
  EXPECT_EQ(headerAddressClass("Resent-Sender"), HeaderAddressClass::Sender);
  EXPECT_EQ(headerAddressClass("CC"), HeaderAddressClass::Recipient);
  EXPECT_EQ(headerAddressClass("Resent-Reply-To"), HeaderAddressClass::Recipient);
  EXPECT_FALSE(headerAddressClass("Subject").has_value());
  EXPECT_FALSE(headerAddressClass("Return-Path").has_value());  // ours, written at delivery
  EXPECT_FALSE(headerAddressClass("Delivered-To").has_value());
}

TEST(HeaderAddresses, TextQuotesLocalPartsThatAreNotDotAtoms) {
  EXPECT_EQ(headerAddressText("alice.smith@example.test"), "alice.smith@example.test");
  EXPECT_EQ(headerAddressText("john doe@example.test"), "\"john doe\"@example.test");
  EXPECT_EQ(headerAddressText("a\"b@example.test"), "\"a\\\"b\"@example.test");
  EXPECT_EQ(headerAddressText(".lead@example.test"), "\".lead\"@example.test");
  EXPECT_EQ(headerAddressText("ü@example.test"), "ü@example.test");
}

// A rewriter over two maps, recording what it was asked.
struct FakeMaps {
  std::map<std::string, std::string> sender, recipient;
  std::vector<std::string> asked;
  bool fail = false;
  HeaderAddressRewriter rewriter() {
    return [this](HeaderAddressClass cls, std::string_view address) -> Result<std::string> {
      asked.push_back((cls == HeaderAddressClass::Sender ? "S:" : "R:") + std::string(address));
      if (fail) return Error::temporary("table down");
      auto& map = cls == HeaderAddressClass::Sender ? sender : recipient;
      auto it = map.find(std::string(address));
      return it == map.end() ? std::string(address) : it->second;
    };
  }
};

TEST(HeaderRewrite, RewritesOnlyAddressesOfTheirClassAndKeepsTheRest) {
  FakeMaps maps;
  maps.sender = {{"alice@example.test", "alice.smith@example.test"}};
  maps.recipient = {{"info@example.test", "bob@example.test"},
                    {"alice@example.test", "not-for-senders@example.test"}};
  std::string message =
      "Received: from x (alice@example.test)\r\n"
      "From: \"Alice\" <alice@example.test> (work)\r\n"
      "To: info@example.test,\r\n carol@example.test\r\n"
      "Subject: alice@example.test\r\n"
      "\r\n"
      "From: alice@example.test\r\n";
  auto r = rewriteHeaderAddresses(message, maps.rewriter());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->changed, 2u);
  EXPECT_EQ(r->original_size, message.find("\r\n\r\n") + 2);
  EXPECT_EQ(r->header,
            "Received: from x (alice@example.test)\r\n"
            "From: \"Alice\" <alice.smith@example.test> (work)\r\n"
            "To: bob@example.test,\r\n carol@example.test\r\n"
            "Subject: alice@example.test\r\n");
  EXPECT_EQ(maps.asked, (std::vector<std::string>{"S:alice@example.test", "R:info@example.test",
                                                  "R:carol@example.test"}));
}

TEST(HeaderRewrite, NothingToChangeSaysSo) {
  FakeMaps maps;
  std::string message = "From: a@example.test\r\nTo: b@example.test\r\n\r\nbody\r\n";
  auto r = rewriteHeaderAddresses(message, maps.rewriter());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->changed, 0u);
  EXPECT_EQ(r->header + message.substr(r->original_size), message);
}

TEST(HeaderRewrite, ReplacementWithSpacesIsQuoted) {
  FakeMaps maps;
  maps.sender = {{"a@example.test", "first last@example.test"}};
  auto r = rewriteHeaderAddresses("From: A <a@example.test>\r\n\r\n", maps.rewriter());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header, "From: A <\"first last\"@example.test>\r\n");
}

TEST(HeaderRewrite, TableFailureIsAnError) {
  FakeMaps maps;
  maps.fail = true;
  auto r = rewriteHeaderAddresses("Subject: x\r\nFrom: a@example.test\r\n\r\n", maps.rewriter());
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().temporary());
}

TEST(HeaderRewrite, StopsAtTheFirstLineThatIsNotAField) {
  FakeMaps maps;
  maps.sender = {{"a@example.test", "b@example.test"}};
  std::string message = "From: a@example.test\r\nnot a field\r\nFrom: a@example.test\r\n";
  auto r = rewriteHeaderAddresses(message, maps.rewriter());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header, "From: b@example.test\r\n");
  EXPECT_EQ(r->original_size, std::string_view("From: a@example.test\r\n").size());
}

TEST(HeaderRewrite, HeaderOnlyMessageAndObsoleteSpaceBeforeColon) {
  FakeMaps maps;
  maps.recipient = {{"a@example.test", "b@example.test"}};
  std::string message = "To : a@example.test\r\n";
  auto r = rewriteHeaderAddresses(message, maps.rewriter());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header, "To : b@example.test\r\n");
  EXPECT_EQ(r->original_size, message.size());
}

TEST(HeaderRewrite, BrokenFieldIsLeftAlone) {
  FakeMaps maps;
  maps.sender = {{"a@example.test", "b@example.test"}};
  std::string message = "From: \"a@example.test\r\n\r\n";
  auto r = rewriteHeaderAddresses(message, maps.rewriter());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->changed, 0u);
  EXPECT_TRUE(maps.asked.empty());
}

TEST(HeaderRewrite, OverlongResultKeepsTheOriginalField) {
  FakeMaps maps;
  maps.sender = {{"a@example.test", std::string(990, 'x') + "@example.test"}};
  auto r = rewriteHeaderAddresses("From: a@example.test\r\n\r\n", maps.rewriter());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->changed, 0u);
  EXPECT_EQ(r->header, "From: a@example.test\r\n");
}

TEST(HeaderRewrite, OnlyTheFirstMebibyteIsRead) {
  FakeMaps maps;
  maps.sender = {{"a@example.test", "b@example.test"}};
  std::string filler = "X-Filler: " + std::string(1000, 'f').substr(0, 980) + "\r\n";
  std::string message = "From: a@example.test\r\n";
  while (message.size() < MaxRewrittenHeaderBytes) message += filler;
  message += "From: a@example.test\r\n\r\n";
  auto r = rewriteHeaderAddresses(message, maps.rewriter());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->changed, 1u);
  EXPECT_LE(r->original_size, MaxRewrittenHeaderBytes);
  EXPECT_EQ(r->header.substr(0, 22), "From: b@example.test\r\n");
  // The field past the limit is in the untouched rest.
  EXPECT_EQ(r->header.find("From: b@example.test", 1), std::string::npos);
  EXPECT_NE(message.substr(r->original_size).find("From: a@example.test"), std::string::npos);
}

}  // namespace
}  // namespace petrel::delivery
