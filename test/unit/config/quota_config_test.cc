// Tests for the `delivery.quota` keys (source/config/delivery.cc): defaults, every key, the
// table reference forms and the exact text and position of errors.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "section_load.h"

namespace petrel::config {
namespace {

constexpr std::string_view Minimal =
    "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
    "domains: {local: []}\n";

LoadResult load(std::string_view extra) { return section_test::loadAfter(Minimal, extra); }

TEST(QuotaConfigTest, OffByDefault) {
  LoadResult r = load("");
  ASSERT_TRUE(r.config.has_value());
  EXPECT_FALSE(r.config->delivery.quota.enabled);
  EXPECT_FALSE(r.config->delivery.quota.table);
}

TEST(QuotaConfigTest, EveryKey) {
  LoadResult r = load(
      "tables:\n"
      "  quota: {type: inline, map: {alice@example.test: '1048576,100'}}\n"
      "delivery:\n"
      "  quota: {table: quota, default: 10MB, over_quota: bounce}\n");
  ASSERT_TRUE(r.config.has_value()) << (r.errors.empty() ? "" : r.errors[0].toString());
  const Delivery::Quota& q = r.config->delivery.quota;
  EXPECT_TRUE(q.enabled);
  ASSERT_TRUE(q.table);
  EXPECT_EQ(q.table->type, "inline");
  EXPECT_EQ(q.default_bytes, 10u * 1024 * 1024);
  EXPECT_TRUE(q.bounce);

  r = load("delivery:\n  quota: {table: 'file:/etc/petrel/quota'}\n");
  ASSERT_TRUE(r.config.has_value());
  EXPECT_EQ(r.config->delivery.quota.table->path, "/etc/petrel/quota");
  EXPECT_EQ(r.config->delivery.quota.default_bytes, 0u);
  EXPECT_FALSE(r.config->delivery.quota.bounce);

  r = load("delivery:\n  quota: {default: 0}\n");
  ASSERT_TRUE(r.config.has_value()) << (r.errors.empty() ? "" : r.errors[0].toString());
  EXPECT_EQ(r.config->delivery.quota.default_bytes, 0u);

  r = load("delivery:\n  quota: {}\n");  // on, every mailbox unlimited: accounting only
  ASSERT_TRUE(r.config.has_value());
  EXPECT_TRUE(r.config->delivery.quota.enabled);
}

TEST(QuotaConfigTest, BadValues) {
  LoadResult r = load("delivery:\n  quota: {over_quota: reject, default: lots, warn: 90}\n");
  EXPECT_EQ(section_test::errorsOf(r),
            (section_test::Errors{
                "t.yaml:4:23: delivery.quota.over_quota: expected defer or bounce, got 'reject'",
                "t.yaml:4:40: delivery.quota.default: expected a size such as 25MB, 512k or 1000 "
                "(bytes), got 'lots'",
                "t.yaml:4:46: unknown key 'warn' in delivery.quota",
            }));
}

}  // namespace
}  // namespace petrel::config
