// Tests for IpAddress, Cidr and CidrList (source/core/cidr.cc): the spellings parse() accepts
// and refuses (with Postfix's host bits message), canonical toString(), prefix edges, and
// matching across families, including IPv4-mapped IPv6 clients against IPv4 blocks.
#include "petrel/core/cidr.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace petrel {
namespace {

Cidr cidr(std::string_view text) {
  Result<Cidr> r = Cidr::parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : Cidr{};
}

std::string parseError(std::string_view text) {
  Result<Cidr> r = Cidr::parse(text);
  EXPECT_FALSE(r.ok()) << text;
  if (r.ok()) {
    return "";
  }
  EXPECT_EQ(r.error().kind(), Error::Kind::Config) << text;
  return r.error().message();
}

TEST(CidrTest, ParsesAndPrintsCanonically) {
  EXPECT_EQ(cidr("192.0.2.0/24").toString(), "192.0.2.0/24");
  EXPECT_EQ(cidr("127.0.0.1").toString(), "127.0.0.1/32");
  EXPECT_EQ(cidr("0.0.0.0/0").toString(), "0.0.0.0/0");
  EXPECT_EQ(cidr("2001:DB8:0::/32").toString(), "2001:db8::/32");
  EXPECT_EQ(cidr("::1").toString(), "::1/128");
  EXPECT_EQ(cidr("::/0").toString(), "::/0");
  EXPECT_EQ(cidr("10.0.0.0/08").toString(), "10.0.0.0/8");

  Cidr v4 = cidr("198.51.100.0/24");
  EXPECT_FALSE(v4.v6);
  EXPECT_EQ(v4.prefix, 24);
  EXPECT_EQ(v4.addr[0], 198);
  EXPECT_EQ(v4.addr[2], 100);
  Cidr v6 = cidr("2001:db8::/32");
  EXPECT_TRUE(v6.v6);
  EXPECT_EQ(v6.prefix, 32);
  EXPECT_EQ(v6.addr[0], 0x20);
  EXPECT_EQ(v6.addr[3], 0xb8);
}

TEST(CidrTest, HostBitsMustBeZero) {
  EXPECT_EQ(parseError("192.0.2.1/24"),
            "non-null host address bits in \"192.0.2.1/24\", perhaps you should use "
            "\"192.0.2.0/24\" instead");
  EXPECT_EQ(parseError("10.1.2.3/9"),
            "non-null host address bits in \"10.1.2.3/9\", perhaps you should use "
            "\"10.0.0.0/9\" instead");
  EXPECT_EQ(parseError("2001:db8::1/32"),
            "non-null host address bits in \"2001:db8::1/32\", perhaps you should use "
            "\"2001:db8::/32\" instead");
  EXPECT_EQ(parseError("0.0.0.1/0"),
            "non-null host address bits in \"0.0.0.1/0\", perhaps you should use "
            "\"0.0.0.0/0\" instead");
  EXPECT_TRUE(Cidr::parse("192.0.2.1/32").ok());
  EXPECT_TRUE(Cidr::parse("192.0.2.128/25").ok());
  EXPECT_TRUE(Cidr::parse("2001:db8::1/128").ok());
}

TEST(CidrTest, PrefixBounds) {
  EXPECT_EQ(parseError("10.0.0.0/33"),
            "bad net/mask pattern \"10.0.0.0/33\": the prefix length must be a number from 0 "
            "to 32");
  EXPECT_EQ(parseError("::/129"),
            "bad net/mask pattern \"::/129\": the prefix length must be a number from 0 to 128");
  for (std::string_view bad :
       {"10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/8/8", "10.0.0.0/8 ",
        "10.0.0.0/x", "10.0.0.0/99999999999999999999999"}) {
    EXPECT_FALSE(Cidr::parse(bad).ok()) << bad;
  }
}

TEST(CidrTest, RefusesWhatInetPtonRefuses) {
  EXPECT_EQ(parseError("10.0.0/8"),
            "bad net/mask pattern \"10.0.0/8\": '10.0.0' is not an IPv4 or IPv6 address");
  EXPECT_EQ(parseError("[::1]/128"),
            "bad net/mask pattern \"[::1]/128\": write IPv6 blocks without brackets, e.g. "
            "\"::1/128\"");
  EXPECT_EQ(parseError(""),
            "bad net/mask pattern \"\": expected an address such as 192.0.2.0/24 or "
            "2001:db8::/32");
  for (std::string_view bad : std::vector<std::string_view>{
           "127.1", "256.0.0.0/8", "010.0.0.0/8", " 10.0.0.0/8", "10.0.0.0 /8", "localhost",
           "2001:db8:::/48", "2001:db8::g/64", "fe80::1%eth0", "/8", "1.2.3.4.5",
           std::string_view("127.0.0.1\0/8", 12)}) {
    EXPECT_FALSE(Cidr::parse(bad).ok()) << bad;
  }
}

TEST(CidrTest, ContainsWithinTheFamily) {
  Cidr net = cidr("192.0.2.0/24");
  EXPECT_TRUE(net.contains("192.0.2.0"));
  EXPECT_TRUE(net.contains("192.0.2.255"));
  EXPECT_FALSE(net.contains("192.0.3.0"));
  EXPECT_FALSE(net.contains("192.0.1.255"));
  Cidr odd = cidr("10.0.0.0/9");
  EXPECT_TRUE(odd.contains("10.127.255.255"));
  EXPECT_FALSE(odd.contains("10.128.0.0"));
  Cidr host = cidr("127.0.0.1");
  EXPECT_TRUE(host.contains("127.0.0.1"));
  EXPECT_FALSE(host.contains("127.0.0.2"));
  EXPECT_TRUE(cidr("0.0.0.0/0").contains("203.0.113.9"));
  EXPECT_FALSE(cidr("0.0.0.0/0").contains("2001:db8::1"));

  Cidr v6 = cidr("2001:db8:4::/47");
  EXPECT_TRUE(v6.contains("2001:db8:4::1"));
  EXPECT_TRUE(v6.contains("2001:db8:5:ffff::1"));
  EXPECT_FALSE(v6.contains("2001:db8:6::"));
  EXPECT_TRUE(cidr("::1/128").contains("::1"));
  EXPECT_TRUE(cidr("::1/128").contains("0:0:0:0:0:0:0:1"));
  EXPECT_FALSE(cidr("::1/128").contains("127.0.0.1"));
  EXPECT_TRUE(cidr("::/0").contains("2001:db8::1"));
  EXPECT_FALSE(cidr("::/0").contains("192.0.2.1"));
}

TEST(CidrTest, MalformedClientAddressesMatchNothing) {
  for (std::string_view ip :
       std::vector<std::string_view>{"", "192.0.2", "unknown", "[::1]", "192.0.2.1/32", "::1%lo",
                                     std::string_view("192.0.2.1\0", 10)}) {
    EXPECT_FALSE(cidr("0.0.0.0/0").contains(ip)) << ip;
    EXPECT_FALSE(cidr("::/0").contains(ip)) << ip;
  }
}

TEST(CidrTest, MappedIpv6ClientsMatchIpv4Blocks) {
  Cidr loopback = cidr("127.0.0.1/32");
  EXPECT_TRUE(loopback.contains("::ffff:127.0.0.1"));
  EXPECT_TRUE(loopback.contains("::FFFF:7f00:1"));
  EXPECT_FALSE(loopback.contains("::ffff:127.0.0.2"));
  EXPECT_TRUE(cidr("10.0.4.0/24").contains("::ffff:10.0.4.77"));
  // Not mapped: the IPv4-compatible (deprecated) form and NAT64 do not count as IPv4.
  EXPECT_FALSE(loopback.contains("::127.0.0.1"));
  EXPECT_FALSE(loopback.contains("64:ff9b::7f00:1"));
  // An IPv6 block written for the mapped range still matches mapped clients as IPv6.
  EXPECT_TRUE(cidr("::ffff:0:0/96").contains("::ffff:192.0.2.1"));
  EXPECT_FALSE(cidr("::ffff:0:0/96").contains("192.0.2.1"));
}

TEST(CidrTest, IpAddressParsesOnceForManyBlocks) {
  std::optional<IpAddress> v4 = IpAddress::parse("192.0.2.7");
  ASSERT_TRUE(v4.has_value());
  EXPECT_FALSE(v4->v6);
  EXPECT_EQ(v4->bytes[3], 7);
  EXPECT_TRUE(cidr("192.0.2.0/24").contains(*v4));
  EXPECT_FALSE(cidr("192.0.3.0/24").contains(*v4));

  std::optional<IpAddress> mapped = IpAddress::parse("::ffff:192.0.2.7");
  ASSERT_TRUE(mapped.has_value());
  EXPECT_TRUE(mapped->v6);
  EXPECT_FALSE(mapped->unmapped().v6);
  EXPECT_EQ(mapped->unmapped().bytes, v4->bytes);
  EXPECT_TRUE(IpAddress::parse("2001:db8::1")->unmapped().v6);

  for (std::string_view bad :
       std::vector<std::string_view>{"", "127.1", "010.0.0.1", "[::1]", "::1%lo", "192.0.2.1/32",
                                     "example.org", std::string_view("192.0.2.1\0", 10)}) {
    EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
  }
}

TEST(CidrTest, SameFamilyFollowsTheMappedRule) {
  Cidr v4 = cidr("10.0.0.0/8");
  Cidr v6 = cidr("2001:db8::/32");
  EXPECT_TRUE(v4.sameFamily(*IpAddress::parse("192.0.2.1")));
  EXPECT_TRUE(v4.sameFamily(*IpAddress::parse("::ffff:192.0.2.1")));
  EXPECT_FALSE(v4.sameFamily(*IpAddress::parse("2001:db8::1")));
  EXPECT_TRUE(v6.sameFamily(*IpAddress::parse("2001:db8::1")));
  EXPECT_TRUE(v6.sameFamily(*IpAddress::parse("::ffff:192.0.2.1")));
  EXPECT_FALSE(v6.sameFamily(*IpAddress::parse("192.0.2.1")));
}

TEST(CidrListTest, AnyBlockMatches) {
  CidrList list({cidr("127.0.0.1/32"), cidr("::1/128"), cidr("10.0.4.0/24")});
  EXPECT_EQ(list.blocks().size(), 3u);
  EXPECT_TRUE(list.contains("127.0.0.1"));
  EXPECT_TRUE(list.contains("::1"));
  EXPECT_TRUE(list.contains("10.0.4.200"));
  EXPECT_TRUE(list.contains("::ffff:10.0.4.200"));
  EXPECT_FALSE(list.contains("127.0.0.2"));
  EXPECT_FALSE(list.contains("::2"));
  EXPECT_FALSE(list.contains("::ffff:127.0.0.2"));
  EXPECT_FALSE(list.contains(""));
  EXPECT_FALSE(CidrList().contains("127.0.0.1"));
}

}  // namespace
}  // namespace petrel
