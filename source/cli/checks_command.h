// `petrel checks test FILE`: private to source/cli/ (cli.cc dispatches to it).
#pragma once

#include <string>
#include <vector>

namespace petrel::cli {

// args[0] == "checks"; args[1] == "test". Returns the exit status.
int checksCommand(const std::string& config_path, const std::vector<std::string>& args);

}  // namespace petrel::cli
