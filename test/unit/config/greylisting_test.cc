// Tests for the `greylisting:` section (source/config/greylisting.cc) and the rule that
// check_greylist needs greylisting.enabled (server/config_checks.cc): defaults, every key,
// and the exact text and position of errors.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "section_load.h"
#include "petrel/server/config_checks.h"

namespace petrel::config {
namespace {

using section_test::Errors;

constexpr std::string_view Minimal =
    "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
    "domains: {local: []}\n";

LoadResult load(std::string_view extra) { return section_test::loadAfter(Minimal, extra); }

Errors errorsWith(std::string_view extra) { return section_test::errorsOf(load(extra)); }

TEST(GreylistingConfigTest, Defaults) {
  LoadResult r = load("state_dir: /srv/petrel\n");
  ASSERT_TRUE(r.config.has_value());
  const Greylisting& g = r.config->greylisting;
  EXPECT_FALSE(g.enabled);
  EXPECT_EQ(g.delay, 300u);
  EXPECT_EQ(g.max_age, 2u * 86400);
  EXPECT_EQ(g.auto_whitelist_after, 5u);
  EXPECT_EQ(g.ipv4_prefix, 24u);
  EXPECT_EQ(g.ipv6_prefix, 64u);
  EXPECT_EQ(g.database, "/srv/petrel/greylist.db");
}

TEST(GreylistingConfigTest, EveryKey) {
  LoadResult r = load(
      "greylisting:\n"
      "  enabled: true\n"
      "  delay: 2m\n"
      "  max_age: 35d\n"
      "  auto_whitelist_after: 0\n"
      "  networks: {ipv4: 32, ipv6: 48}\n"
      "  database: grey/list.db\n"
      "restrictions:\n"
      "  default: {recipient: [permit_mynetworks, reject_unauth_destination, check_greylist]}\n");
  ASSERT_TRUE(r.config.has_value()) << (r.errors.empty() ? "" : r.errors[0].toString());
  const Greylisting& g = r.config->greylisting;
  EXPECT_TRUE(g.enabled);
  EXPECT_EQ(g.delay, 120u);
  EXPECT_EQ(g.max_age, 35u * 86400);
  EXPECT_EQ(g.auto_whitelist_after, 0u);
  EXPECT_EQ(g.ipv4_prefix, 32u);
  EXPECT_EQ(g.ipv6_prefix, 48u);
  EXPECT_EQ(g.database, "/etc/petrel/grey/list.db");
}

TEST(GreylistingConfigTest, CheckGreylistNeedsGreylistingEnabled) {
  EXPECT_EQ(errorsWith("restrictions:\n"
                       "  default:\n"
                       "    recipient: [reject_unauth_destination, check_greylist]\n"),
            (Errors{"t.yaml:5:44: restrictions.default.recipient[1]: check_greylist: greylisting "
                    "is not enabled (set greylisting.enabled: true)"}));
  EXPECT_EQ(errorsWith("greylisting: {enabled: false}\n"
                       "restrictions: {default: {client: [check_greylist]}}\n"),
            (Errors{"t.yaml:4:35: restrictions.default.client[0]: check_greylist: greylisting is "
                    "not enabled (set greylisting.enabled: true)"}));
}

TEST(GreylistingConfigTest, BadValues) {
  EXPECT_EQ(errorsWith("greylisting:\n"
                       "  enabled: yes please\n"
                       "  delay: 0\n"
                       "  auto_whitelist: 5\n"
                       "  networks: {ipv4: 33, ipv6: 8, ipv5: 1}\n"),
            (Errors{
                "t.yaml:4:12: greylisting.enabled: expected true or false, got 'yes please'",
                "t.yaml:5:10: greylisting.delay: must not be zero",
                "t.yaml:6:3: unknown key 'auto_whitelist' in greylisting",
                "t.yaml:7:20: greylisting.networks.ipv4: must be from 8 to 32, got 33",
                "t.yaml:7:30: greylisting.networks.ipv6: must be from 16 to 128, got 8",
                "t.yaml:7:33: unknown key 'ipv5' in greylisting.networks (did you mean 'ipv4'?)",
            }));
  EXPECT_EQ(errorsWith("greylisting: {delay: 1h, max_age: 30m}\n"),
            (Errors{"t.yaml:3:35: greylisting.max_age (30m) must be longer than greylisting.delay "
                    "(1h)"}));
}

}  // namespace
}  // namespace petrel::config
