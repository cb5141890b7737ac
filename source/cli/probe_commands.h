// The probes: `petrel table query`, `policy test`, `route`, `spf check`, `dmarc check`; what the
// server would answer, computed by the server's own code. Private to source/cli/.
#pragma once

#include <string>
#include <vector>

namespace petrel::cli {

int tableQueryCommand(const std::string& config_path, const std::string& name,
                      const std::string& key);
// args as cli.cc received them (args[0] the command). Each returns the exit status.
int policyTestCommand(const std::string& config_path, const std::vector<std::string>& args);
int routeCommand(const std::string& config_path, const std::vector<std::string>& args);
int spfCheckCommand(const std::string& config_path, const std::vector<std::string>& args);
int dmarcCheckCommand(const std::string& config_path, const std::vector<std::string>& args);

}  // namespace petrel::cli
