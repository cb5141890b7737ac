// HostsFile: hosts(5) lines, comments, aliases, IPv6, mapped IPv4, malformed lines skipped.
#include "petrel/dns/hosts.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace petrel::dns {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

const char* Debian = R"(127.0.0.1	localhost
127.0.1.1	mail.example.test	mail   # the host's own name
# The following lines are desirable for IPv6 capable hosts
::1     localhost ip6-localhost ip6-loopback
ff02::1 ip6-allnodes
not-an-address  bogus.example
192.0.2.7
)";

TEST(HostsFile, CanonicalNameIsTheFirstOfTheFirstLine) {
  HostsFile hosts = HostsFile::parse(Debian);
  EXPECT_EQ(hosts.size(), 4u);  // the two malformed lines are skipped
  EXPECT_EQ(hosts.nameOf(ip("127.0.0.1")), "localhost");
  EXPECT_EQ(hosts.nameOf(ip("127.0.1.1")), "mail.example.test");
  EXPECT_EQ(hosts.nameOf(ip("::1")), "localhost");
  EXPECT_EQ(hosts.nameOf(ip("::ffff:127.0.0.1")), "localhost");  // an IPv4 client on [::]
  EXPECT_FALSE(hosts.nameOf(ip("192.0.2.7")));
  EXPECT_FALSE(hosts.nameOf(ip("127.0.0.2")));
}

TEST(HostsFile, ListsAnyNameOfTheAddressCaseInsensitively) {
  HostsFile hosts = HostsFile::parse(Debian);
  EXPECT_TRUE(hosts.lists("MAIL", ip("127.0.1.1")));
  EXPECT_TRUE(hosts.lists("ip6-loopback", ip("::1")));
  EXPECT_FALSE(hosts.lists("localhost", ip("127.0.1.1")));
  EXPECT_FALSE(hosts.lists("bogus.example", ip("127.0.0.1")));
}

TEST(HostsFile, AddressesOfANameInFileOrder) {
  HostsFile hosts = HostsFile::parse(std::string(Debian) + "127.0.0.1 LocalHost\n");
  EXPECT_EQ(hosts.addressesOf("localhost"), (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(hosts.addressesOf("Mail"), (std::vector<std::string>{"127.0.1.1"}));
  EXPECT_TRUE(hosts.addressesOf("bogus.example").empty());
  EXPECT_TRUE(hosts.addressesOf("mail.example").empty());
}

TEST(HostsFile, AMissingFileIsEmpty) {
  EXPECT_EQ(HostsFile::load("/nonexistent/petrel/hosts").size(), 0u);
}

}  // namespace
}  // namespace petrel::dns
