// sortMx and isNullMx.
#include "petrel/dns/mx.h"

#include <gtest/gtest.h>

#include <set>

namespace petrel::dns {
namespace {

std::vector<std::string> names(const std::vector<MxRecord>& mx) {
  std::vector<std::string> out;
  for (const auto& m : mx) out.push_back(m.exchange);
  return out;
}

TEST(DnsSortMx, AscendingPreference) {
  std::mt19937 rng(1);
  auto sorted = sortMx({{30, "c"}, {10, "a"}, {20, "b"}, {0, "z"}}, rng);
  EXPECT_EQ(names(sorted), (std::vector<std::string>{"z", "a", "b", "c"}));
}

TEST(DnsSortMx, EqualPreferencesAreShuffledWithinTheirGroup) {
  const std::vector<MxRecord> mx = {{20, "b1"}, {10, "a1"}, {20, "b2"},
                                    {10, "a2"}, {20, "b3"}, {30, "c"}};
  std::set<std::vector<std::string>> seen_a, seen_b;
  for (unsigned seed = 0; seed < 200; ++seed) {
    std::mt19937 rng(seed);
    auto n = names(sortMx(mx, rng));
    ASSERT_EQ(n.size(), 6u);
    // Groups stay in preference order whatever the shuffle did.
    std::set<std::string> first(n.begin(), n.begin() + 2), middle(n.begin() + 2, n.begin() + 5);
    EXPECT_EQ(first, (std::set<std::string>{"a1", "a2"}));
    EXPECT_EQ(middle, (std::set<std::string>{"b1", "b2", "b3"}));
    EXPECT_EQ(n[5], "c");
    seen_a.insert(std::vector<std::string>{n[0], n[1]});
    seen_b.insert(std::vector<std::string>{n[2], n[3], n[4]});
  }
  EXPECT_EQ(seen_a.size(), 2u);  // both orders of the two
  EXPECT_EQ(seen_b.size(), 6u);  // all 3! orders of the three
}

TEST(DnsSortMx, EmptyAndSingle) {
  std::mt19937 rng(7);
  EXPECT_TRUE(sortMx({}, rng).empty());
  EXPECT_EQ(sortMx({{5, "only"}}, rng), (std::vector<MxRecord>{{5, "only"}}));
}

TEST(DnsNullMx, OnlyASingleRootExchangeWithPreferenceZero) {
  EXPECT_TRUE(isNullMx({{0, "."}}));
  EXPECT_FALSE(isNullMx({}));
  EXPECT_FALSE(isNullMx({{10, "."}}));
  EXPECT_FALSE(isNullMx({{0, "mx.example.org"}}));
  EXPECT_FALSE(isNullMx({{0, "."}, {10, "mx.example.org"}}));
}

}  // namespace
}  // namespace petrel::dns
