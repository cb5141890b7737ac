// dmarc::fromDomains: the RFC5322.From domains, and what an odd From: gives (from_domain.h).
#include "petrel/dmarc/from_domain.h"

#include <gtest/gtest.h>

namespace petrel::dmarc {
namespace {

FromDomains of(std::string_view v) { return fromDomainsOfValues({v}); }

std::vector<std::string> domains(std::string_view v) {
  auto f = of(v);
  EXPECT_TRUE(f.ok()) << v << ": " << f.problem;
  return f.domains;
}

using V = std::vector<std::string>;

TEST(DmarcFromDomain, OneAddress) {
  EXPECT_EQ(domains(" alice@Example.COM"), V{"example.com"});
  EXPECT_EQ(domains(" Alice <alice@example.com>"), V{"example.com"});
  EXPECT_EQ(domains(" \"Smith, Alice\" <alice@example.com>"), V{"example.com"});
  EXPECT_EQ(domains(" \"a@evil.example\" <alice@example.com>"), V{"example.com"});
  EXPECT_EQ(domains(" alice@example.com (Alice (the (nested) one))"), V{"example.com"});
  EXPECT_EQ(domains(" Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
            V{"silly.test"});
  EXPECT_EQ(domains(" <@relay.example,@b.example:joe@example.org>"), V{"example.org"});
  EXPECT_EQ(domains(" \"a@b\"@example.net"), V{"example.net"});
  EXPECT_EQ(domains(" Alice\r\n <alice@example.com>"), V{"example.com"});  // folded
  EXPECT_EQ(domains(" =?utf-8?q?J=C3=B6rg?= <j@example.de>"), V{"example.de"});
  EXPECT_EQ(domains(" Jörg <j@bücher.example>"), V{"xn--bcher-kva.example"});
  EXPECT_EQ(domains(" a@example.com,"), V{"example.com"});  // obs-addr-list
}

TEST(DmarcFromDomain, SeveralAddressesAndFields) {
  EXPECT_EQ(domains(" a@example.com, b@example.org, c@EXAMPLE.com"),
            (V{"example.com", "example.org"}));
  EXPECT_EQ(domains(" Friends: a@example.com, B <b@example.net>;, c@example.org"),
            (V{"example.com", "example.net", "example.org"}));
  auto f = fromDomainsOfValues({" a@example.com", " b@example.org"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.fields, 2u);
  EXPECT_EQ(f.domains, (V{"example.com", "example.org"}));
  std::string many;
  for (int i = 0; i < 10; ++i) many += " a@d" + std::to_string(i) + ".example,";
  f = of(many);
  EXPECT_FALSE(f.ok());
  EXPECT_EQ(f.problem, "From: is not an address list: more than 8 From: domains");
}

TEST(DmarcFromDomain, NoUsableDomain) {
  struct Case {
    const char* value;
    const char* problem;
  } cases[] = {
      {"", "From: holds no address"},
      {"   ", "From: holds no address"},
      {" undisclosed-recipients:;", "From: holds no address"},
      {" alice", "From: is not an address list: an address without a domain"},
      {" alice@", "From: is not an address list: an address without a domain"},
      {" @example.com", "From: is not an address list: an address without a local part"},
      {" a@[192.0.2.1]", "From: is not an address list: a domain literal"},
      {" Alice <alice@example.com", "From: is not an address list: a '<' without '>'"},
      {" \"Alice <alice@example.com>",
       "From: is not an address list: an unterminated quoted string"},
      {" a@example.com (x", "From: is not an address list: an unterminated comment"},
      {" a@exa mple.com", "From: is not an address list: a malformed domain"},
      {" a@example..com", "From: is not an address list: a malformed domain"},
      {" a@example.com.", "From: is not an address list: a domain ending in a dot"},
      {" a@example.com\r\nBcc: x@y.example",
       "From: is not an address list: a line break that is not folding"},
      {" a@exa\x01mple.com", "From: is not an address list: a control character"},
      {" a@ex!ample.com", "From: is not an address list: a domain label that is not DNS"},
      {" G: a@example.com", "From: is not an address list: a group without its ';'"},
  };
  for (const auto& c : cases) {
    auto f = of(c.value);
    EXPECT_FALSE(f.ok()) << c.value;
    EXPECT_TRUE(f.domains.empty()) << c.value;
    EXPECT_EQ(f.problem, c.problem) << c.value;
  }
  EXPECT_EQ(fromDomainsOfValues({}).problem, "no From: field");
  // One good field does not make a broken second one usable.
  EXPECT_FALSE(fromDomainsOfValues({" a@example.com", " broken <"}).ok());
}

TEST(DmarcFromDomain, FromHeaderFields) {
  std::vector<content::HeaderField> fields{
      {"Subject", "Subject: a@wrong.example\r\n"},
      {"from", "from: Alice <alice@example.com>\r\n"},
      {"Sender", "Sender: s@other.example\r\n"},
  };
  auto f = fromDomains(fields);
  ASSERT_TRUE(f.ok()) << f.problem;
  EXPECT_EQ(f.domains, V{"example.com"});
  EXPECT_EQ(fromDomains({}).problem, "no From: field");
}

TEST(DmarcFromDomain, Bounded) {
  std::string long_value = " a@example.com (" + std::string(MaxFromValue, 'x') + ")";
  EXPECT_FALSE(of(long_value).ok());
  std::string deep = " a@example.com " + std::string(100, '(') + std::string(100, ')');
  EXPECT_EQ(of(deep).problem, "From: is not an address list: comments nested too deep");
}

}  // namespace
}  // namespace petrel::dmarc
