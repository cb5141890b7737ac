// Tests for the pure parts of the LMTP agent (source/server/lmtp_agent.cc): how a transport's
// nexthop names the server's socket. The dialog itself (LHLO, one reply per recipient) is
// tested through smtp::ClientSession's LMTP goldens (test/testdata/smtp-client/4[2-6]-lmtp-*).
#include "petrel/server/lmtp_agent.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace petrel::server
