// `petrel doctor`; see doctor_command.h and docs/doctor.md.
#include "doctor_command.h"

#include <fmt/format.h>

#include "command_support.h"
#include "petrel/server/doctor.h"

namespace petrel::cli {

int doctorCommand(const std::string& config_path, const std::vector<std::string>& args) {
  server::DoctorOptions options;
  bool json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--domain" && i + 1 < args.size()) {
      options.domain = args[++i];
    } else {
      fmt::print(stderr, "petrel doctor: bad argument '{}'\n{}", args[i], Usage);
      return 2;
    }
  }
  auto cfg = loadOrReport(config_path);
  if (!cfg) return 2;  // monitoring reads 2 as critical, which a broken config is
  auto findings = server::runDoctor(*cfg, options);
  fmt::print("{}", json ? doctor::reportJson(findings) : doctor::reportText(findings));
  return doctor::exitStatus(findings);
}

}  // namespace petrel::cli
