// StatusLogin: Basic credentials parsed as RFC 7617 says, an admin let in and remembered (no
// second check within the window, a new one after it), wrong passwords and non-admins refused
// and counted, the cap on failures per minute, a database failure as 503; and the admin flag
// of the credentials database that verifyAdmin reads.
#include "petrel/server/status_login.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "petrel/auth/authenticator.h"
#include "petrel/core/base64.h"

namespace petrel::server {
namespace {

using Outcome = StatusLogin::Outcome;

status::HttpRequest withAuthorization(const std::string& value) {
  status::HttpRequest r;
  r.method = "GET";
  r.path = "/";
  r.headers["authorization"] = value;
  return r;
}
status::HttpRequest basic(const std::string& user_pass) {
  return withAuthorization("Basic " + base64Encode(user_pass));
}

TEST(BasicCredentialsTest, ParsesAsRfc7617) {
  std::string user, password;
  ASSERT_TRUE(basicCredentials(basic("admin:pa:ss word"), user, password));
  EXPECT_EQ(user, "admin");
  EXPECT_EQ(password, "pa:ss word");  // only the first colon separates
  ASSERT_TRUE(basicCredentials(withAuthorization("bAsIc  " + base64Encode("a:")), user, password));
  EXPECT_EQ(user, "a");
  EXPECT_EQ(password, "");
  EXPECT_FALSE(basicCredentials(status::HttpRequest{}, user, password));
  EXPECT_FALSE(basicCredentials(withAuthorization("Bearer abc"), user, password));
  EXPECT_FALSE(basicCredentials(withAuthorization("Basic !!!"), user, password));
  EXPECT_FALSE(basicCredentials(basic("no colon"), user, password));
  EXPECT_FALSE(basicCredentials(basic(":nouser"), user, password));
}

class StatusLoginTest : public ::testing::Test {
 protected:
  StatusLoginTest()
      : login_(
            [this](auth::Credentials c, std::function<void(Result<auth::Verdict>)> done) {
              asked_.push_back(c.authcid + ":" + c.password);
              if (c.authcid == "broken") return done(Error::temporary("database is locked"));
              if (c.authcid == "alice" && c.password == "right") {
                return done(auth::Verdict{.ok = true, .user = "alice", .reason = ""});
              }
              if (c.authcid == "bob" && c.password == "right") {
                return done(auth::Verdict{.ok = false, .user = "", .reason = "not an admin"});
              }
              done(auth::Verdict{.ok = false, .user = "", .reason = "bad password"});
            },
            [this] { return now_; }) {}

  Outcome check(const status::HttpRequest& r) {
    std::optional<Outcome> out;
    login_.check(r, [&out](Outcome o, const std::string&) { out = o; });
    EXPECT_TRUE(out.has_value());
    return out.value_or(Outcome::Unavailable);
  }

  uint64_t now_ = 1000;
  std::vector<std::string> asked_;
  StatusLogin login_;
};

TEST_F(StatusLoginTest, AdminsAreLetInAndRemembered) {
  EXPECT_EQ(check(status::HttpRequest{}), Outcome::Challenge);
  EXPECT_TRUE(asked_.empty());
  EXPECT_EQ(check(basic("alice:right")), Outcome::Allowed);
  EXPECT_EQ(check(basic("alice:right")), Outcome::Allowed);
  EXPECT_EQ(asked_.size(), 1u);  // the second came from memory
  now_ += StatusLogin::RememberMs;
  EXPECT_EQ(check(basic("alice:right")), Outcome::Allowed);
  EXPECT_EQ(asked_.size(), 2u);  // the memory ran out: checked again
  EXPECT_EQ(check(basic("alice:wrong")), Outcome::Challenge);
  EXPECT_EQ(check(basic("bob:right")), Outcome::NotAdmin);
  EXPECT_EQ(check(basic("broken:x")), Outcome::Unavailable);
  EXPECT_EQ(check(basic("broken:x")), Outcome::Unavailable);  // failures are never remembered
  EXPECT_EQ(asked_.size(), 6u);  // alice twice, alice:wrong, bob, broken twice
}

TEST_F(StatusLoginTest, FailuresAreCappedPerMinute) {
  for (size_t i = 0; i < StatusLogin::MaxFailuresPerMinute; ++i) {
    EXPECT_EQ(check(basic("alice:guess" + std::to_string(i))), Outcome::Challenge);
  }
  size_t asked = asked_.size();
  EXPECT_EQ(check(basic("alice:right")), Outcome::Throttled);
  EXPECT_EQ(asked_.size(), asked);  // not even checked
  now_ += 60 * 1000;
  EXPECT_EQ(check(basic("alice:right")), Outcome::Allowed);
}

TEST_F(StatusLoginTest, RefusalsAnswerWithTheirCodes) {
  std::string r = StatusLogin::response(Outcome::Challenge);
  EXPECT_TRUE(r.starts_with("HTTP/1.1 401 Unauthorized\r\n")) << r;
  EXPECT_NE(r.find("\r\nWWW-Authenticate: Basic realm=\"Petrel status\", charset=\"UTF-8\"\r\n"),
            std::string::npos);
  EXPECT_TRUE(StatusLogin::response(Outcome::NotAdmin).starts_with("HTTP/1.1 403 "));
  r = StatusLogin::response(Outcome::Throttled);
  EXPECT_TRUE(r.starts_with("HTTP/1.1 429 ")) << r;
  EXPECT_NE(r.find("\r\nRetry-After: 60\r\n"), std::string::npos);
  EXPECT_TRUE(StatusLogin::response(Outcome::Unavailable).starts_with("HTTP/1.1 503 "));
}

class AdminFlagTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/petrel-admin-XXXXXX";
    dir_ = mkdtemp(tmpl);
    db_ = dir_ + "/credentials.db";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  auth::Verdict verify(const std::string& user, const std::string& password) {
    auto r = auth::verifyAdmin(db_, auth::Credentials{"", user, password});
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : auth::Verdict{};
  }
  std::string dir_, db_;
};

TEST_F(AdminFlagTest, OnlyFlaggedUsersWithTheRightPassword) {
  ASSERT_TRUE(auth::addUser(db_, "alice", "secret pw"));
  ASSERT_TRUE(auth::addUser(db_, "bob", "secret pw"));
  // A database made before the flag existed: nobody is an admin.
  EXPECT_EQ(verify("alice", "secret pw").reason, "not an admin");
  ASSERT_TRUE(auth::setAdmin(db_, "Alice", true));
  auth::Verdict v = verify("alice", "secret pw");
  EXPECT_TRUE(v.ok);
  EXPECT_EQ(v.user, "alice");
  EXPECT_EQ(verify("alice", "wrong").reason, "bad password");
  EXPECT_EQ(verify("bob", "secret pw").reason, "not an admin");
  EXPECT_EQ(verify("carol", "secret pw").reason, "unknown user");
  ASSERT_TRUE(auth::setAdmin(db_, "bob", true));  // the column exists now: added once
  EXPECT_TRUE(verify("bob", "secret pw").ok);
  ASSERT_TRUE(auth::setAdmin(db_, "alice", false));
  EXPECT_EQ(verify("alice", "secret pw").reason, "not an admin");
  auto missing = auth::setAdmin(db_, "carol", true);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("no such user"), std::string::npos);
  // The plain AUTH check is unaffected by the flag.
  auto plain = auth::verifyWithTable(db_, auth::Credentials{"", "alice", "secret pw"});
  ASSERT_TRUE(plain);
  EXPECT_TRUE(plain->ok);
}

}  // namespace
}  // namespace petrel::server
