// Tests for the pure parts of the LMTP agent (source/server/lmtp_agent.cc): how a transport's
// nexthop names the server's socket, and which addresses an inet name is tried at. The dialog
// itself (LHLO, one reply per recipient) is tested through smtp::ClientSession's LMTP goldens
// (test/testdata/smtp-client/4[2-6]-lmtp-*).
#include "petrel/server/lmtp_agent.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace petrel::server {
namespace {

using Kind = LmtpDestination::Kind;

LmtpDestination parsed(std::string_view nexthop) {
  Result<LmtpDestination> d = parseLmtpNexthop(nexthop);
  EXPECT_TRUE(d) << nexthop << ": " << (d ? "" : d.error().message());
  return d ? *d : LmtpDestination{};
}

TEST(LmtpNexthop, UnixAndInetAsPostfixWritesThem) {
  EXPECT_EQ(parsed("unix:/run/dovecot/lmtp"), (LmtpDestination{Kind::Unix, "/run/dovecot/lmtp", "", 24}));
  EXPECT_EQ(parsed("/run/dovecot/lmtp"), (LmtpDestination{Kind::Unix, "/run/dovecot/lmtp", "", 24}));
  EXPECT_EQ(parsed("inet:127.0.0.1:24024"), (LmtpDestination{Kind::Inet, "", "127.0.0.1", 24024}));
  EXPECT_EQ(parsed("inet:localhost"), (LmtpDestination{Kind::Inet, "", "localhost", 24}));
  EXPECT_EQ(parsed("inet:[::1]:2424"), (LmtpDestination{Kind::Inet, "", "::1", 2424}));
  EXPECT_EQ(parsed("INET:[::1]"), (LmtpDestination{Kind::Inet, "", "::1", 24}));
  EXPECT_EQ(parsed("mail.example.test:24"), (LmtpDestination{Kind::Inet, "", "mail.example.test", 24}));
  EXPECT_EQ(parsed(" unix:/x "), (LmtpDestination{Kind::Unix, "/x", "", 24}));
}

TEST(LmtpNexthop, UnusableNexthopsAreConfigErrors) {
  for (std::string_view bad : {"", "unix:", "unix:private/dovecot-lmtp", "inet:", "inet:host:",
                               "inet:host:0", "inet:host:65536", "inet:host:24x", "inet:::1:24",
                               "inet:[::1", "inet:[::1]x", "inet:a b:24", "unix:/a\r\nb"}) {
    Result<LmtpDestination> d = parseLmtpNexthop(bad);
    ASSERT_FALSE(d) << "'" << bad << "' was accepted";
    EXPECT_EQ(d.error().kind(), Error::Kind::Config) << bad;
  }
  std::string long_path = "unix:/" + std::string(200, 'a');
  EXPECT_FALSE(parseLmtpNexthop(long_path));
}

TEST(LmtpAddresses, LiteralThenHostsFileBeforeDns) {
  dns::HostsFile hosts = dns::HostsFile::parse(
      "127.0.0.1 localhost\n::1 localhost ip6-localhost\n192.0.2.5 lmtp.example.test\n");
  EXPECT_EQ(lmtpLocalAddresses("192.0.2.9", &hosts), (std::vector<std::string>{"192.0.2.9"}));
  EXPECT_EQ(lmtpLocalAddresses("::1", nullptr), (std::vector<std::string>{"::1"}));
  EXPECT_EQ(lmtpLocalAddresses("LocalHost", &hosts),
            (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(lmtpLocalAddresses("lmtp.example.test", &hosts),
            (std::vector<std::string>{"192.0.2.5"}));
  EXPECT_TRUE(lmtpLocalAddresses("mail.example.test", &hosts).empty());  // ask DNS
  EXPECT_TRUE(lmtpLocalAddresses("localhost", nullptr).empty());
}

dns::Answer answer(dns::Answer::Status status, std::vector<std::string> addresses = {},
                   std::string error = "") {
  dns::Answer a;
  a.status = status;
  a.addresses = std::move(addresses);
  a.error = std::move(error);
  return a;
}

TEST(LmtpAddresses, EveryAThenEveryAaaaInTheServersOrder) {
  using S = dns::Answer::Status;
  auto both = lmtpDnsAddresses("lmtp.example.test",
                               answer(S::Found, {"192.0.2.2", "192.0.2.1", "192.0.2.2"}),
                               answer(S::Found, {"2001:db8::1"}));
  ASSERT_TRUE(both);
  EXPECT_EQ(*both, (std::vector<std::string>{"192.0.2.2", "192.0.2.1", "2001:db8::1"}));
  // One family failing does not hold back the other.
  auto v6 = lmtpDnsAddresses("h", answer(S::TempFail, {}, "timeout"),
                             answer(S::Found, {"2001:db8::2"}));
  ASSERT_TRUE(v6);
  EXPECT_EQ(*v6, (std::vector<std::string>{"2001:db8::2"}));
  std::vector<std::string> many;
  for (int i = 0; i < 20; ++i) many.push_back("192.0.2." + std::to_string(i));
  EXPECT_EQ(lmtpDnsAddresses("h", answer(S::Found, many), answer(S::NoData))->size(),
            MaxLmtpAddresses);
}

TEST(LmtpAddresses, NoAddressIsATemporaryErrorInPostfixWords) {
  using S = dns::Answer::Status;
  auto temp = lmtpDnsAddresses("lmtp.example.test", answer(S::NoData),
                               answer(S::TempFail, {}, "SERVFAIL"));
  ASSERT_FALSE(temp);
  EXPECT_TRUE(temp.error().temporary());
  EXPECT_EQ(temp.error().message(),
            "Host or domain name not found. Name service error for name=lmtp.example.test "
            "type=AAAA: Host not found, try again (SERVFAIL)");
  auto none = lmtpDnsAddresses("lmtp.example.test", answer(S::NxDomain), answer(S::NxDomain));
  ASSERT_FALSE(none);
  EXPECT_TRUE(none.error().temporary());  // the admin's nexthop: the mail waits
  EXPECT_EQ(none.error().message(),
            "Host or domain name not found. Name service error for name=lmtp.example.test "
            "type=A: Host not found");
}

}  // namespace
}  // namespace petrel::server
