// Tests for the inline lookup backend (source/lookup/backends/inline.cc) via makeTable().
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {
namespace {

config::TableSpec inlineSpec(std::map<std::string, std::string> entries) {
  config::TableSpec spec;
  spec.name = "mailboxes";
  spec.type = "inline";
  spec.entries = std::move(entries);
  return spec;
}

TEST(InlineTable, FindsLowerCaseKeysOfMixedCaseEntries) {
  std::vector<std::string> warnings;
  TablePtr table = makeTable(inlineSpec({{"Alice@Example.Test", "example.test/alice/"}}),
                             [&](const std::string& w) { warnings.push_back(w); });
  LookupResult r = table->lookup("alice@example.test");
  EXPECT_EQ(r.status, LookupStatus::Found);
  EXPECT_EQ(r.value, "example.test/alice/");
  EXPECT_TRUE(warnings.empty());
}

TEST(InlineTable, AnswersNotFoundForOtherKeys) {
  TablePtr table = makeTable(inlineSpec({{"alice@example.test", "yes"}}), nullptr);
  EXPECT_EQ(table->lookup("bob@example.test").status, LookupStatus::NotFound);
  EXPECT_EQ(table->lookup("alice@example").status, LookupStatus::NotFound);
}

TEST(InlineTable, ToleratesUpperCaseLookupKeys) {
  TablePtr table = makeTable(inlineSpec({{"alice@example.test", "yes"}}), nullptr);
  EXPECT_EQ(table->lookup("ALICE@example.test").status, LookupStatus::Found);
}

TEST(InlineTable, TrimsValuesAndWarnsAboutEmptyOnes) {
  std::vector<std::string> warnings;
  TablePtr table = makeTable(inlineSpec({{"a@x.test", "  b@x.test  "}, {"c@x.test", "  "}}),
                             [&](const std::string& w) { warnings.push_back(w); });
  EXPECT_EQ(table->lookup("a@x.test").value, "b@x.test");
  EXPECT_EQ(table->lookup("c@x.test").status, LookupStatus::NotFound);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "table inline:mailboxes: key \"c@x.test\": missing value: skipping");
}

TEST(InlineTable, WarnsAboutKeysThatDifferOnlyInCase) {
  std::vector<std::string> warnings;
  TablePtr table = makeTable(inlineSpec({{"A@x.test", "first"}, {"a@x.test", "second"}}),
                             [&](const std::string& w) { warnings.push_back(w); });
  EXPECT_EQ(table->lookup("a@x.test").value, "first");  // std::map order: "A" < "a"
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("duplicate key"), std::string::npos);
}

TEST(InlineTable, DescribesItselfByName) {
  EXPECT_EQ(makeTable(inlineSpec({}), nullptr)->describe(), "inline:mailboxes");
}

}  // namespace
}  // namespace petrel::lookup
