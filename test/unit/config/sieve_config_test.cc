// Tests for the `delivery.sieve` keys (source/config/delivery.cc): the script paths,
// user_scripts as a directory or as a table reference (inline type:argument or a name under
// tables:), global_dir, and errors with their position.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "petrel/config/config.h"
#include "section_load.h"

namespace petrel::config {
namespace {

constexpr std::string_view Minimal =
    "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
    "domains: {local: []}\n";

LoadResult load(std::string_view extra) { return section_test::loadAfter(Minimal, extra); }

TEST(SieveConfigTest, OffByDefault) {
  LoadResult r = load("");
  ASSERT_TRUE(r.config.has_value());
  EXPECT_FALSE(r.config->delivery.sieve.enabled());
}

TEST(SieveConfigTest, UserScriptsAsADirectory) {
  LoadResult r = load(
      "delivery:\n"
      "  sieve: {user_scripts: /srv/mail/sieve, global_dir: /srv/mail/sieve-global}\n");
  ASSERT_TRUE(r.config.has_value()) << (r.errors.empty() ? "" : r.errors[0].toString());
  const Delivery::Sieve& s = r.config->delivery.sieve;
  EXPECT_TRUE(s.enabled());
  EXPECT_EQ(s.user_scripts, "/srv/mail/sieve");
  EXPECT_EQ(s.global_dir, "/srv/mail/sieve-global");
  EXPECT_FALSE(s.user_table.has_value());
}

TEST(SieveConfigTest, UserScriptsAsATable) {
  LoadResult r = load(
      "tables:\n"
      "  scripts: {type: inline, map: {alice@example.test: 'keep;'}}\n"
      "delivery:\n"
      "  sieve: {user_scripts: scripts}\n");
  ASSERT_TRUE(r.config.has_value()) << (r.errors.empty() ? "" : r.errors[0].toString());
  const Delivery::Sieve& s = r.config->delivery.sieve;
  EXPECT_TRUE(s.enabled());
  ASSERT_TRUE(s.user_table.has_value());
  EXPECT_EQ(s.user_table->type, "inline");
  EXPECT_TRUE(s.user_scripts.empty());

  r = load("delivery:\n  sieve: {user_scripts: 'file:/etc/petrel/sieve-scripts'}\n");
  ASSERT_TRUE(r.config.has_value()) << (r.errors.empty() ? "" : r.errors[0].toString());
  ASSERT_TRUE(r.config->delivery.sieve.user_table.has_value());
  EXPECT_EQ(r.config->delivery.sieve.user_table->path, "/etc/petrel/sieve-scripts");
}

TEST(SieveConfigTest, BadValues) {
  LoadResult r = load("delivery:\n  sieve: {user_scripts: 'nosuch:x', global_dir: '', x: 1}\n");
  EXPECT_FALSE(r.config.has_value());
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0].toString().rfind("t.yaml:4:25: delivery.sieve.user_scripts: ", 0), 0u)
      << r.errors[0].toString();
}

}  // namespace
}  // namespace petrel::config
