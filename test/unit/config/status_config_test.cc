// Tests for the `status:` keys (source/config/status.cc): tls and login, and the rule that an
// address beyond loopback needs both, with the error's text and position.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "petrel/config/config.h"
#include "section_load.h"

namespace petrel::config {
namespace {

using section_test::Errors;

constexpr std::string_view Minimal =
    "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
    "domains: {local: []}\n";

LoadResult load(std::string_view extra) { return section_test::loadAfter(Minimal, extra); }

TEST(StatusConfigTest, PlainHttpOnLoopbackByDefault) {
  LoadResult r = load("");
  ASSERT_TRUE(r.config.has_value());
  EXPECT_EQ(r.config->status.address, (Endpoint{"127.0.0.1", 8025}));
  EXPECT_FALSE(r.config->status.tls);
  EXPECT_FALSE(r.config->status.login);
  r = load("status: {address: '127.0.0.2:8025'}\n");
  ASSERT_TRUE(r.config.has_value());
  EXPECT_EQ(r.config->status.address, (Endpoint{"127.0.0.2", 8025}));
}

TEST(StatusConfigTest, BeyondLoopbackOnlyWithTlsAndLogin) {
  const std::string want =
      "t.yaml:3:19: status.address 0.0.0.0:8025 is not a loopback address: the status "
      "endpoint shows addresses and acts on the queue, so beyond 127.0.0.1 and ::1 it needs "
      "status.tls: true and status.login: true";
  EXPECT_EQ(section_test::errorsOf(load("status: {address: '0.0.0.0:8025'}\n")), Errors{want});
  EXPECT_EQ(section_test::errorsOf(load("status: {address: '0.0.0.0:8025', tls: true}\n")),
            Errors{want});
  EXPECT_EQ(section_test::errorsOf(load("status: {address: '0.0.0.0:8025', login: true}\n")),
            Errors{want});
  EXPECT_EQ(
      section_test::errorsOf(load("status: {address: '[2001:db8::1]:8025'}\n")).size(), 1u);
  LoadResult r = load("status: {address: '0.0.0.0:8443', tls: true, login: true}\n");
  ASSERT_TRUE(r.config.has_value()) << section_test::errorsOf(r)[0];
  EXPECT_TRUE(r.config->status.tls);
  EXPECT_TRUE(r.config->status.login);
}

TEST(StatusConfigTest, BadValuesAreNamed) {
  Errors e = section_test::errorsOf(load("status: {tls: maybe, secret: 1}\n"));
  ASSERT_EQ(e.size(), 2u);
  EXPECT_NE(e[0].find("t.yaml:3:"), std::string::npos) << e[0];
  EXPECT_NE((e[0] + e[1]).find("secret"), std::string::npos) << e[0] << e[1];
}

}  // namespace
}  // namespace petrel::config
