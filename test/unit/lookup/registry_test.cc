// Tests for the table registry (source/lookup/registry.cc).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {
namespace {

TEST(TableRegistry, BuildsEachRegisteredType) {
  config::TableSpec inline_spec;
  inline_spec.name = "t";
  inline_spec.type = "inline";
  EXPECT_EQ(makeTable(inline_spec, nullptr)->describe(), "inline:t");

  config::TableSpec file_spec;
  file_spec.name = "aliases";
  file_spec.type = "file";
  file_spec.path = "/nonexistent/petrel-test/aliases";
  EXPECT_EQ(makeTable(file_spec, nullptr)->describe(), "file:/nonexistent/petrel-test/aliases");
}

TEST(TableRegistry, UnknownTypeGivesConfigErrorTableAndWarnsOnce) {
  std::vector<std::string> warnings;
  config::TableSpec spec;
  spec.name = "clients";
  spec.type = "nis";
  spec.origin = "petrel.yaml:12:5";
  TablePtr table = makeTable(spec, [&](const std::string& w) { warnings.push_back(w); });
  ASSERT_NE(table, nullptr);
  LookupResult r = table->lookup("anything");
  EXPECT_EQ(r.status, LookupStatus::ConfigError);
  EXPECT_NE(r.error.find("unknown table type \"nis\""), std::string::npos);
  table->refresh();  // harmless
  EXPECT_EQ(table->lookup("x").status, LookupStatus::ConfigError);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0],
            "table nis:clients: unknown table type \"nis\" (declared at petrel.yaml:12:5)");
}

}  // namespace
}  // namespace petrel::lookup
