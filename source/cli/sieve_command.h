// `petrel sieve check|test`: private to source/cli/ (cli.cc dispatches to it).
#pragma once

#include <string>
#include <vector>

namespace petrel::cli {

// args[0] == "sieve"; args[1] the subcommand. Returns the exit status.
int sieveCommand(const std::vector<std::string>& args);

}  // namespace petrel::cli
