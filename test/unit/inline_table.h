// A TableSpec for an inline table, as `tables: {NAME: {type: inline, map: ENTRIES}}` makes it,
// for tests that build a config::Config in code.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "petrel/config/config.h"

namespace petrel::test_support {

inline config::TableSpec inlineTable(std::string name, std::map<std::string, std::string> entries) {
  config::TableSpec spec;
  spec.name = std::move(name);
  spec.type = "inline";
  spec.entries = std::move(entries);
  return spec;
}

}  // namespace petrel::test_support
