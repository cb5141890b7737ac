// SASL PLAIN and LOGIN state machines and the strict base64 they use.
#include "petrel/core/base64.h"
#include "petrel/auth/sasl.h"

#include <gtest/gtest.h>

#include <string>

namespace petrel::auth {
namespace {

using namespace std::string_literals;

std::string b64(const std::string& s) { return base64Encode(s); }

// Expectation helpers: the step's alternative and its interesting fields.
void expectChallenge(const Step& s, const std::string& base64) {
  ASSERT_TRUE(std::holds_alternative<Challenge>(s)) << "step index " << s.index();
  EXPECT_EQ(std::get<Challenge>(s).base64, base64);
}

Credentials expectDone(const Step& s) {
  EXPECT_TRUE(std::holds_alternative<Done>(s)) << "step index " << s.index();
  if (!std::holds_alternative<Done>(s)) return {};
  return std::get<Done>(s).credentials;
}

void expectFailed(const Step& s, int code, const std::string& enhanced) {
  ASSERT_TRUE(std::holds_alternative<Failed>(s)) << "step index " << s.index();
  EXPECT_EQ(std::get<Failed>(s).code, code);
  EXPECT_EQ(std::get<Failed>(s).enhanced, enhanced);
}

// ---- base64 ------------------------------------------------------------------------------------

TEST(Base64Test, Rfc4648Vectors) {
  // RFC 4648 10.
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64Encode(plain), encoded);
    auto decoded = base64Decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64Test, RoundTripsEveryByteAndLength) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(char(i));
  for (size_t len = 0; len <= all.size(); ++len) {
    std::string in = all.substr(all.size() - len);
    auto out = base64Decode(base64Encode(in));
    ASSERT_TRUE(out) << len;
    EXPECT_EQ(*out, in);
  }
  EXPECT_EQ(base64Encode("\0\xff\xfe"s), "AP/+");
}

TEST(Base64Test, RefusesMalformedInput) {
  for (const char* bad : {
           "Zg",        // missing padding
           "Zg=",       // short padding
           "Zm9v\r\n",  // line end
           "Zm 9v",     // whitespace
           "Zm9v ",     // trailing blank
           "Z===",      // too much padding
           "====",      // only padding
           "Zg==Zm9v",  // padding in the middle
           "Zm=v",      // '=' inside a group
           "Zm9-",      // base64url alphabet
           "Zm9_",      //
           "Zh==",      // non-zero bits under the padding (not canonical)
           "Zm9=",      //   "Zm8=" is the canonical form of "fo"
           "=",         // "=" only means empty as an initial response, not in base64
       }) {
    EXPECT_FALSE(base64Decode(bad)) << bad;
  }
  EXPECT_FALSE(base64Decode("Zm9\0"s));
  EXPECT_FALSE(base64Decode("Zm9vZg\0="s));
}

// ---- mechanisms ---------------------------------------------------------------------------------

TEST(MechanismTest, NamesAreCaseInsensitive) {
  EXPECT_NE(makeMechanism("PLAIN"), nullptr);
  EXPECT_NE(makeMechanism("plain"), nullptr);
  EXPECT_NE(makeMechanism("Login"), nullptr);
  EXPECT_EQ(makeMechanism("CRAM-MD5"), nullptr);
  EXPECT_EQ(makeMechanism(""), nullptr);
  EXPECT_EQ(makeMechanism("PLAINX"), nullptr);
}

TEST(PlainTest, InitialResponse) {
  auto m = makeMechanism("PLAIN");
  auto c = expectDone(m->start(b64("\0alice\0s3cret"s)));
  EXPECT_EQ(c.authzid, "");
  EXPECT_EQ(c.authcid, "alice");
  EXPECT_EQ(c.password, "s3cret");
}

TEST(PlainTest, EmptyChallengeThenResponse) {
  auto m = makeMechanism("PLAIN");
  expectChallenge(m->start(std::nullopt), "");
  auto c = expectDone(m->respond(b64("alice\0alice\0pass word"s)));
  EXPECT_EQ(c.authzid, "alice");
  EXPECT_EQ(c.authcid, "alice");
  EXPECT_EQ(c.password, "pass word");
  // Nothing more is expected after Done.
  expectFailed(m->respond(b64("\0a\0b"s)), 503, "5.5.1");
}

TEST(PlainTest, AuthzidMayDifferInCaseOnly) {
  auto m = makeMechanism("PLAIN");
  auto c = expectDone(m->start(b64("Alice\0alice\0pw"s)));
  EXPECT_EQ(c.authcid, "alice");
}

TEST(PlainTest, OtherAuthzidIsRefusedLikeBadCredentials) {
  auto m = makeMechanism("PLAIN");
  expectFailed(m->start(b64("root\0alice\0pw"s)), 535, "5.7.8");
}

TEST(PlainTest, EqualsSignMeansEmptyInitialResponse) {
  // RFC 4954 4: "=" is an empty initial response; for PLAIN that is a malformed message.
  auto m = makeMechanism("PLAIN");
  expectFailed(m->start("="), 501, "5.5.2");
}

TEST(PlainTest, Cancel) {
  auto m = makeMechanism("PLAIN");
  expectChallenge(m->start(std::nullopt), "");
  auto s = m->respond("*");
  expectFailed(s, 501, "5.7.0");
  EXPECT_EQ(std::get<Failed>(s).text, "Authentication aborted");
  auto m2 = makeMechanism("PLAIN");
  expectFailed(m2->start("*"), 501, "5.7.0");
}

TEST(PlainTest, BadBase64) {
  auto m = makeMechanism("PLAIN");
  expectChallenge(m->start(std::nullopt), "");
  auto s = m->respond("not base64!");
  expectFailed(s, 501, "5.5.2");
  EXPECT_EQ(std::get<Failed>(s).text, "Cannot decode response");
  expectFailed(makeMechanism("PLAIN")->start("AGFsaWNlAHB3"s + "\r"), 501, "5.5.2");
}

TEST(PlainTest, NulStructure) {
  // Exactly two NULs, non-empty authcid and password (RFC 4616 2).
  for (const std::string& message : {
           "alice"s,          // no NUL
           "\0alice"s,        // one NUL
           "\0alice\0pw\0"s,  // three NULs (a NUL in the password)
           "\0al\0ice\0pw"s,  // NUL in the user name
           "\0\0pw"s,         // empty authcid
           "\0alice\0"s,      // empty password
           ""s,               // empty
       }) {
    auto m = makeMechanism("PLAIN");
    expectFailed(m->start(b64(message)), 501, "5.5.2");
  }
}

TEST(PlainTest, BinaryPasswordBytesSurvive) {
  auto m = makeMechanism("PLAIN");
  auto c = expectDone(m->start(b64("\0bob\0p\xc3\xa4ss\x01\xff"s)));
  EXPECT_EQ(c.password, "p\xc3\xa4ss\x01\xff"s);
}

TEST(PlainTest, LineLengthLimit) {
  // RFC 4954 4: 12288 octets; the longest acceptable response is 9216 decoded octets.
  std::string ok_message = "\0alice\0"s + std::string(9216 - 7, 'x');
  ASSERT_EQ(b64(ok_message).size(), 12288u);
  expectDone(makeMechanism("PLAIN")->start(b64(ok_message)));
  std::string long_message = ok_message + "xyz";
  auto m = makeMechanism("PLAIN");
  expectChallenge(m->start(std::nullopt), "");
  expectFailed(m->respond(b64(long_message)), 501, "5.5.2");
}

TEST(LoginTest, ChallengesForUserAndPassword) {
  auto m = makeMechanism("LOGIN");
  expectChallenge(m->start(std::nullopt), "VXNlcm5hbWU6");
  EXPECT_EQ(*base64Decode("VXNlcm5hbWU6"), "Username:");
  expectChallenge(m->respond(b64("alice")), "UGFzc3dvcmQ6");
  EXPECT_EQ(*base64Decode("UGFzc3dvcmQ6"), "Password:");
  auto c = expectDone(m->respond(b64("s3cret")));
  EXPECT_EQ(c.authzid, "");
  EXPECT_EQ(c.authcid, "alice");
  EXPECT_EQ(c.password, "s3cret");
  expectFailed(m->respond(b64("again")), 503, "5.5.1");
}

TEST(LoginTest, InitialResponseIsTheUserName) {
  auto m = makeMechanism("LOGIN");
  expectChallenge(m->start(b64("alice")), "UGFzc3dvcmQ6");
  auto c = expectDone(m->respond(b64("pw")));
  EXPECT_EQ(c.authcid, "alice");
  EXPECT_EQ(c.password, "pw");
}

TEST(LoginTest, CancelAtEitherPrompt) {
  auto m = makeMechanism("LOGIN");
  expectChallenge(m->start(std::nullopt), "VXNlcm5hbWU6");
  expectFailed(m->respond("*"), 501, "5.7.0");

  auto m2 = makeMechanism("LOGIN");
  expectChallenge(m2->start(b64("alice")), "UGFzc3dvcmQ6");
  expectFailed(m2->respond("*"), 501, "5.7.0");

  expectFailed(makeMechanism("LOGIN")->start("*"), 501, "5.7.0");
}

TEST(LoginTest, BadBase64AndEmptyOrNulFields) {
  auto m = makeMechanism("LOGIN");
  expectChallenge(m->start(std::nullopt), "VXNlcm5hbWU6");
  expectFailed(m->respond("YWxpY2U"), 501, "5.5.2");  // missing padding

  auto m2 = makeMechanism("LOGIN");
  expectChallenge(m2->start(b64("alice")), "UGFzc3dvcmQ6");
  expectFailed(m2->respond("@@@@"), 501, "5.5.2");

  expectFailed(makeMechanism("LOGIN")->start("="), 501, "5.5.2");  // empty user name
  expectFailed(makeMechanism("LOGIN")->start(b64("al\0ice"s)), 501, "5.5.2");

  auto m3 = makeMechanism("LOGIN");
  expectChallenge(m3->start(b64("alice")), "UGFzc3dvcmQ6");
  expectFailed(m3->respond(b64("pw\0more"s)), 501, "5.5.2");

  auto m4 = makeMechanism("LOGIN");
  expectChallenge(m4->start(b64("alice")), "UGFzc3dvcmQ6");
  expectFailed(m4->respond(""), 501, "5.5.2");  // empty password
}

TEST(LoginTest, LineLengthLimit) {
  auto m = makeMechanism("LOGIN");
  expectChallenge(m->start(std::nullopt), "VXNlcm5hbWU6");
  expectFailed(m->respond(std::string(12292, 'A')), 501, "5.5.2");
}

TEST(MechanismTest, RespondBeforeStartIsOutOfSequence) {
  expectFailed(makeMechanism("PLAIN")->respond(b64("\0a\0b"s)), 503, "5.5.1");
  expectFailed(makeMechanism("LOGIN")->respond(b64("a")), 503, "5.5.1");
}

}  // namespace
}  // namespace petrel::auth
