// `petrel arc verify|seal`: private to source/cli/ (cli.cc dispatches to it).
#pragma once

#include <string>
#include <vector>

namespace petrel::cli {

// args[0] == "arc"; args[1] the subcommand. Returns the exit status.
int arcCommand(const std::string& config_path, bool default_config,
               const std::vector<std::string>& args);

}  // namespace petrel::cli
