// DovecotAuthSession: the auth-client protocol without a socket (the libuv driver is tested
// against a fake server in authenticator_test.cc and against a real Dovecot in
// test/integration/t-30-dovecot-auth).
#include "../../../source/auth/dovecot_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "petrel/core/base64.h"

namespace petrel::auth {
namespace {

using namespace std::string_literals;

constexpr const char* Handshake =
    "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t4242\n"
    "CUID\t7\nCOOKIE\t0123456789abcdef\nDONE\n";

DovecotAuthSession session(const std::string& user = "alice", const std::string& pw = "s3cret",
                           const std::string& ip = "192.0.2.7") {
  return DovecotAuthSession(Credentials{"", user, pw}, ip, 1234);
}

std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? tab : tab - start));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

// Feeds the handshake and returns the AUTH line the session sent, without its LF.
std::string handshake(DovecotAuthSession& s) {
  auto out = s.onInput(Handshake);
  EXPECT_FALSE(out.verdict);
  EXPECT_TRUE(out.send.ends_with("\n")) << out.send;
  return out.send.substr(0, out.send.size() - 1);
}

TEST(DovecotAuthSessionTest, GreetingAnnouncesVersionAndPid) {
  EXPECT_EQ(session().greeting(), "VERSION\t1\t2\nCPID\t1234\n");
}

TEST(DovecotAuthSessionTest, SendsPlainRequestAfterHandshake) {
  auto s = session();
  auto f = fields(handshake(s));
  ASSERT_EQ(f.size(), 8u);
  EXPECT_EQ(f[0], "AUTH");
  EXPECT_EQ(f[1], "1");
  EXPECT_EQ(f[2], "PLAIN");
  EXPECT_EQ(f[3], "service=smtp");
  EXPECT_EQ(f[4], "nologin");
  EXPECT_EQ(f[5], "secured");
  EXPECT_EQ(f[6], "remote=192.0.2.7");
  ASSERT_TRUE(f[7].starts_with("resp="));
  EXPECT_EQ(*base64Decode(f[7].substr(5)), "\0alice\0s3cret"s);
}

TEST(DovecotAuthSessionTest, HandshakeInTinyPieces) {
  auto s = session();
  std::string sent;
  std::string hs = Handshake;
  for (char c : hs) {
    auto out = s.onInput(std::string(1, c));
    EXPECT_FALSE(out.verdict);
    sent += out.send;
  }
  EXPECT_TRUE(sent.starts_with("AUTH\t1\tPLAIN\t")) << sent;
  EXPECT_EQ(std::count(sent.begin(), sent.end(), '\n'), 1);
}

TEST(DovecotAuthSessionTest, SendsNothingBeforeDone) {
  auto s = session();
  auto out = s.onInput("VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t1\n");
  EXPECT_TRUE(out.send.empty());
  EXPECT_FALSE(out.verdict);
}

TEST(DovecotAuthSessionTest, RemoteOnlyForAddressLikeText) {
  for (std::string ip : {"", "unknown", "1.2.3.4\tuser=root", "::1\nOK"}) {
    auto s = session("alice", "pw", ip);
    auto line = handshake(s);
    EXPECT_EQ(line.find("remote="), std::string::npos) << line;
    EXPECT_EQ(fields(line).size(), 7u) << line;
  }
  auto v6 = session("alice", "pw", "2001:db8::7");
  EXPECT_NE(handshake(v6).find("\tremote=2001:db8::7\t"), std::string::npos);
}

TEST(DovecotAuthSessionTest, OkGivesTheCanonicalUser) {
  auto s = session("Alice@Example.Test");
  handshake(s);
  auto out = s.onInput("OK\t1\tuser=alice@example.test\toriginal_user=Alice@Example.Test\n");
  ASSERT_TRUE(out.verdict);
  ASSERT_TRUE(*out.verdict);
  EXPECT_TRUE((*out.verdict)->ok);
  EXPECT_EQ((*out.verdict)->user, "alice@example.test");
  EXPECT_TRUE(s.finished());
  // Anything after the verdict is ignored.
  EXPECT_FALSE(s.onInput("FAIL\t1\n").verdict);
}

TEST(DovecotAuthSessionTest, OkWithoutUserKeepsTheLoginName) {
  auto s = session("bob");
  handshake(s);
  auto out = s.onInput("OK\t1\n");
  ASSERT_TRUE(out.verdict && *out.verdict);
  EXPECT_EQ((*out.verdict)->user, "bob");
}

TEST(DovecotAuthSessionTest, OkUserIsUnescaped) {
  auto s = session();
  handshake(s);
  auto out = s.onInput("OK\t1\tuser=a\001tb\0011c\001nd\n");
  ASSERT_TRUE(out.verdict && *out.verdict);
  EXPECT_EQ((*out.verdict)->user, "a\tb\001c\nd");
}

TEST(DovecotAuthSessionTest, FailIsAVerdict) {
  auto s = session();
  handshake(s);
  auto out = s.onInput("FAIL\t1\tuser=alice\n");
  ASSERT_TRUE(out.verdict && *out.verdict);
  EXPECT_FALSE((*out.verdict)->ok);
  EXPECT_EQ((*out.verdict)->reason, "authentication failed");

  auto s2 = session();
  handshake(s2);
  out = s2.onInput("FAIL\t1\treason=Password expired\tcode=pass_expired\n");
  ASSERT_TRUE(out.verdict && *out.verdict);
  EXPECT_EQ((*out.verdict)->reason, "Password expired");

  auto s3 = session();
  handshake(s3);
  out = s3.onInput("FAIL\t1\tcode=user_disabled\n");
  ASSERT_TRUE(out.verdict && *out.verdict);
  EXPECT_EQ((*out.verdict)->reason, "user_disabled");
}

TEST(DovecotAuthSessionTest, TemporaryFailures) {
  for (const char* reply : {"FAIL\t1\ttemp\n", "FAIL\t1\tcode=temp_fail\treason=db down\n",
                            "FAIL\t1\tuser=alice\ttemp\treason=Internal error\n"}) {
    auto s = session();
    handshake(s);
    auto out = s.onInput(reply);
    ASSERT_TRUE(out.verdict) << reply;
    ASSERT_FALSE(*out.verdict) << reply;
    EXPECT_TRUE(out.verdict->error().temporary());
  }
}

TEST(DovecotAuthSessionTest, RepliesForOtherIdsAreIgnored) {
  auto s = session();
  handshake(s);
  auto out = s.onInput("OK\t2\tuser=mallory\nFAIL\t17\n");
  EXPECT_FALSE(out.verdict);
  out = s.onInput("OK\t1\tuser=alice\n");
  ASSERT_TRUE(out.verdict && *out.verdict);
  EXPECT_EQ((*out.verdict)->user, "alice");
}

TEST(DovecotAuthSessionTest, ProtocolErrorsAreTemporary) {
  struct Case {
    const char* name;
    std::string input;
  };
  const Case cases[] = {
      {"major version 2", "VERSION\t2\t0\nMECH\tPLAIN\nDONE\n"},
      {"no VERSION", "MECH\tPLAIN\nDONE\n"},
      {"no PLAIN", "VERSION\t1\t2\nMECH\tLOGIN\nMECH\tCRAM-MD5\nDONE\n"},
      {"continuation", std::string(Handshake) + "CONT\t1\t\n"},
      {"endless line", std::string(Handshake) + std::string(20000, 'x')},
      {"endless handshake line", std::string(20000, 'x')},
  };
  for (const auto& c : cases) {
    auto s = session();
    auto out = s.onInput(c.input);
    ASSERT_TRUE(out.verdict) << c.name;
    ASSERT_FALSE(*out.verdict) << c.name;
    EXPECT_TRUE(out.verdict->error().temporary()) << c.name;
    EXPECT_TRUE(s.finished()) << c.name;
  }
}

TEST(DovecotAuthSessionTest, CloseBeforeVerdictIsTemporary) {
  auto s = session();
  handshake(s);
  auto r = s.onClosed();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().temporary());
  EXPECT_NE(r.error().message().find("closed"), std::string::npos);
}

TEST(DovecotAuthSessionTest, CrLfLineEndsAreAccepted) {
  auto s = session();
  std::string hs = Handshake;
  std::string crlf;
  for (char c : hs) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  auto out = s.onInput(crlf);
  EXPECT_TRUE(out.send.starts_with("AUTH\t1\tPLAIN")) << out.send;
  out = s.onInput("OK\t1\tuser=alice\r\n");
  ASSERT_TRUE(out.verdict && *out.verdict);
  EXPECT_EQ((*out.verdict)->user, "alice");
}

TEST(DovecotAuthSessionTest, Unescape) {
  EXPECT_EQ(DovecotAuthSession::unescape("plain"), "plain");
  EXPECT_EQ(DovecotAuthSession::unescape("\0010\0011\001t\001r\001n\001l"), "\0\001\t\r\n\n"s);
  EXPECT_EQ(DovecotAuthSession::unescape("a\001xb"), "axb");
  EXPECT_EQ(DovecotAuthSession::unescape("trailing\001"), "trailing\001");
}

}  // namespace
}  // namespace petrel::auth
