// Tests for `delivery.vacation` (source/config/delivery.cc): the default, both keys, a table
// declared under `tables:`, and the errors with their positions.
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

TEST(VacationConfigTest, DefaultsToNoTableAndAWeek) {
  LoadResult r = load("delivery: {maildir: {fsync: true}}\n");
  ASSERT_TRUE(r.config.has_value());
  EXPECT_FALSE(r.config->delivery.vacation.table.has_value());
  EXPECT_EQ(r.config->delivery.vacation.once_per, 7u * 86400);
}

TEST(VacationConfigTest, TableAndOncePer) {
  LoadResult r = load(
      "tables:\n"
      "  pfa_vacation: {type: sqlite, path: /var/lib/pfa.db, query: \"SELECT subject || "
      "char(10) || body FROM vacation WHERE email = %s AND active = 1\"}\n"
      "delivery:\n"
      "  vacation: {table: pfa_vacation, once_per: 1d}\n");
  ASSERT_TRUE(r.config.has_value()) << (r.errors.empty() ? "" : r.errors[0].toString());
  const auto& v = r.config->delivery.vacation;
  ASSERT_TRUE(v.table.has_value());
  EXPECT_EQ(v.table->type, "sqlite");
  EXPECT_EQ(v.once_per, 86400u);
}

TEST(VacationConfigTest, ErrorsNameTheirPlace) {
  auto errors = section_test::errorsOf(load("delivery:\n  vacation: {table: nosuch, every: 1d}\n"));
  ASSERT_FALSE(errors.empty());
  std::string all;
  for (const auto& e : errors) all += e + "\n";
  EXPECT_NE(all.find("t.yaml:4:"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown table 'nosuch'"), std::string::npos) << all;
  EXPECT_NE(all.find("every"), std::string::npos) << all;
  auto bad = section_test::errorsOf(load("delivery:\n  vacation: {once_per: soon}\n"));
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].find("t.yaml:4:"), std::string::npos) << bad[0];
}

}  // namespace
}  // namespace petrel::config
