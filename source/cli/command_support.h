// Helpers every `petrel` subcommand shares: private to source/cli/.
#pragma once

#include <optional>
#include <string>

#include "petrel/config/config.h"

namespace petrel::cli {

// sysexits.h values, as postmap and the Postfix tools use them.
constexpr int ExTempFail = 75;
constexpr int ExConfig = 78;

// The usage text of every command (cli.cc).
extern const char* const Usage;

// Sends one request line to the running server's control socket (<state_dir>/control.sock)
// and prints the answer; the exit status (0 when the server said ok).
int control(const std::string& config_path, const std::string& request);

// Loads the config with the server's validators, printing its errors; nullopt when it has any.
std::optional<config::Config> loadOrReport(const std::string& config_path);

}  // namespace petrel::cli
