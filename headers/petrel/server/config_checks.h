// The checks a config must pass that config/ itself cannot make, because the names they check
// belong to areas above it: today the restriction checks (policy/). Every caller that loads a
// config to run it (server.cc, cli.cc) passes standardValidators() to config::loadConfig, so a
// wrong check name is a load error at its file:line:column, not a failure at start.
#pragma once

#include <vector>

#include "petrel/config/config.h"

namespace petrel::server {

std::vector<config::Validator> standardValidators();

}  // namespace petrel::server
