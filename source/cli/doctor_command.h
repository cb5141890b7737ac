// `petrel doctor [--json] [--domain D]`: the host's and the local domains' setup checked
// (server/doctor.h); exit 0 all pass, 1 a warning, 2 a failure (or a config error).
#pragma once

#include <string>
#include <vector>

namespace petrel::cli {

int doctorCommand(const std::string& config_path, const std::vector<std::string>& args);

}  // namespace petrel::cli
