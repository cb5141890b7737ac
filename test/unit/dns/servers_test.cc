// parseServer, parseResolvConf, loadServers.
#include "../../../source/dns/servers.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace petrel::dns {
namespace {

uint16_t port(const ServerAddress& s) {
  if (s.addr.ss_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in*>(&s.addr)->sin_port);
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&s.addr)->sin6_port);
}

std::vector<std::string> texts(const std::vector<ServerAddress>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.text);
  return out;
}

TEST(DnsServers, ParseForms) {
  struct Case {
    const char* in;
    int family;
    uint16_t port;
    const char* text;
  };
  for (const Case& c :
       {Case{"192.0.2.53", AF_INET, 53, "192.0.2.53:53"},
        Case{"127.0.0.1:5353", AF_INET, 5353, "127.0.0.1:5353"},
        Case{"2001:db8::53", AF_INET6, 53, "[2001:db8::53]:53"},
        Case{"::1", AF_INET6, 53, "[::1]:53"}, Case{"[::1]", AF_INET6, 53, "[::1]:53"},
        Case{"[2001:db8::53]:5300", AF_INET6, 5300, "[2001:db8::53]:5300"}}) {
    auto s = parseServer(c.in);
    ASSERT_TRUE(s.ok()) << c.in << ": " << s.error().message();
    EXPECT_EQ(s->addr.ss_family, c.family) << c.in;
    EXPECT_EQ(port(*s), c.port) << c.in;
    EXPECT_EQ(s->text, c.text) << c.in;
  }
}

TEST(DnsServers, ParseErrorsAreConfigErrors) {
  for (const char* in :
       {"", "dns.example", "192.0.2.53:", "192.0.2.53:0", "192.0.2.53:65536", "192.0.2.53:x",
        "[::1", "[::1]5353", "[::1]:", "[192.0.2.1]:53", "300.0.0.1", "2001:db8::zz"}) {
    auto s = parseServer(in);
    ASSERT_FALSE(s.ok()) << in;
    EXPECT_EQ(s.error().kind(), Error::Kind::Config) << in;
    EXPECT_NE(s.error().message().find(std::string("'") + in + "'"), std::string::npos)
        << s.error().message();
  }
}

TEST(DnsServers, ResolvConfNameserverLines) {
  const char* text =
      "# generated\n"
      "search example.org\n"
      "nameserver 192.0.2.1\n"
      "  nameserver\t2001:db8::1   # inline comment\n"
      "; nameserver 192.0.2.99\n"
      "nameserver\n"
      "options timeout:1 attempts:5\n"
      "nameserver fe80::1%eth0\n"
      "nameservers 192.0.2.77\n";
  EXPECT_EQ(parseResolvConf(text),
            (std::vector<std::string>{"192.0.2.1", "2001:db8::1", "fe80::1%eth0"}));
  EXPECT_TRUE(parseResolvConf("").empty());
}

class DnsServersFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/petrel-resolv.XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  void write(const std::string& text) { std::ofstream(path_) << text; }
  std::string path_;
};

TEST_F(DnsServersFile, CallerListWins) {
  write("nameserver 192.0.2.1\n");
  auto s = loadServers({"127.0.0.1:5353", "[::1]:5353"}, path_);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(texts(*s), (std::vector<std::string>{"127.0.0.1:5353", "[::1]:5353"}));
}

TEST_F(DnsServersFile, CallerListWithABadEntryIsAConfigError) {
  auto s = loadServers({"127.0.0.1", "dns.example"}, path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind(), Error::Kind::Config);
}

TEST_F(DnsServersFile, FirstThreeValidNameservers) {
  write(
      "nameserver 192.0.2.1\nnameserver bogus\nnameserver 192.0.2.2:53\n"
      "nameserver 2001:db8::2\nnameserver 192.0.2.3\nnameserver 192.0.2.4\n");
  auto s = loadServers({}, path_);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(texts(*s),
            (std::vector<std::string>{"192.0.2.1:53", "[2001:db8::2]:53", "192.0.2.3:53"}));
}

TEST_F(DnsServersFile, NoNameserverMeansLocalhost) {
  write("search example.org\n");
  auto s = loadServers({}, path_);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(texts(*s), std::vector<std::string>{"127.0.0.1:53"});
}

TEST_F(DnsServersFile, MissingFileMeansLocalhost) {
  auto s = loadServers({}, path_ + ".missing");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(texts(*s), std::vector<std::string>{"127.0.0.1:53"});
}

}  // namespace
}  // namespace petrel::dns
