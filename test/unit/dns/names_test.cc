// normalizeName, checkQueryName, reverseName.
#include "petrel/dns/names.h"

#include <gtest/gtest.h>

namespace petrel::dns {
namespace {

TEST(DnsNames, Normalize) {
  EXPECT_EQ(normalizeName("Mail.Example.ORG."), "mail.example.org");
  EXPECT_EQ(normalizeName("example.org"), "example.org");
  EXPECT_EQ(normalizeName("."), ".");
  EXPECT_EQ(normalizeName(""), ".");
}

TEST(DnsNames, CheckQueryName) {
  EXPECT_TRUE(checkQueryName("example.org").ok());
  EXPECT_TRUE(checkQueryName("example.org.").ok());
  EXPECT_TRUE(checkQueryName("_dmarc.example.org").ok());
  EXPECT_TRUE(checkQueryName("0/26.2.0.192.in-addr.arpa").ok());
  EXPECT_TRUE(checkQueryName(std::string(63, 'a') + ".example").ok());

  auto bad = [](std::string_view name) {
    auto s = checkQueryName(name);
    EXPECT_FALSE(s.ok()) << name;
    if (!s.ok()) {
      EXPECT_FALSE(s.error().temporary()) << name;
    }
    return s.ok() ? std::string() : s.error().message();
  };
  EXPECT_EQ(bad(""), "empty domain name");
  EXPECT_EQ(bad("."), "empty domain name");
  EXPECT_EQ(bad("a..b"), "empty label in domain name a..b");
  EXPECT_EQ(bad(".a"), "empty label in domain name .a");
  EXPECT_EQ(bad(std::string(64, 'a') + ".example"),
            "label longer than 63 octets in domain name " + std::string(64, 'a') + ".example");
  EXPECT_EQ(bad("exa mple.org"), "invalid character 0x20 in domain name");
  EXPECT_EQ(bad("ex\\097mple.org"), "invalid character 0x5c in domain name");
  EXPECT_EQ(bad("bücher.example"), "invalid character 0xc3 in domain name");
  std::string long_name;
  while (long_name.size() < 254) long_name += "abcdefg.";
  EXPECT_NE(bad(long_name).find("longer than 253"), std::string::npos);
}

TEST(DnsNames, ReverseName) {
  EXPECT_EQ(*reverseName("192.0.2.1"), "1.2.0.192.in-addr.arpa");
  EXPECT_EQ(*reverseName("2001:db8::567:89ab"),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  EXPECT_EQ(*reverseName("127.0.0.2", "zen.Example."), "2.0.0.127.zen.example");
  EXPECT_EQ(*reverseName("::1", "dnsbl.example"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.dnsbl.example");
  EXPECT_FALSE(reverseName("mail.example.org").ok());
  EXPECT_FALSE(reverseName("192.0.2").ok());
}

}  // namespace
}  // namespace petrel::dns
