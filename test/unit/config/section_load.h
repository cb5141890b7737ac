// How the config section tests load YAML: a minimal config (each test file keeps its own, so
// the line numbers its expected errors name stay put) with the section under test after it,
// from "t.yaml", and the errors as the loader prints them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/server/config_checks.h"

namespace petrel::config::section_test {

using Errors = std::vector<std::string>;

inline LoadResult loadAfter(std::string_view minimal, std::string_view extra,
                            const std::string& dir = "/etc/petrel",
                            std::vector<Validator> validators = server::standardValidators()) {
  return loadConfigFromString(std::string(minimal) + std::string(extra), "t.yaml", dir,
                              std::move(validators));
}

inline Errors errorsOf(const LoadResult& r) {
  Errors out;
  for (const ConfigError& e : r.errors) out.push_back(e.toString());
  return out;
}

}  // namespace petrel::config::section_test
