// `petrel user add|passwd|del` and `petrel auth-test`: private to source/cli/ (cli.cc
// dispatches to them).
#pragma once

#include <string>

namespace petrel::cli {

// sub is "add", "passwd" or "del". Returns the exit status.
int userCommand(const std::string& config_path, const std::string& sub, const std::string& name);
// petrel user admin NAME on|off: the admin flag of the status endpoint's login.
int userAdminCommand(const std::string& config_path, const std::string& name, bool admin);
// Authenticates `user` as a client at `client_ip` would, with the password from stdin.
int authTestCommand(const std::string& config_path, const std::string& user,
                    const std::string& client_ip);

}  // namespace petrel::cli
