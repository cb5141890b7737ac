// `petrel table query`, `policy test`, `route`, `spf check` and `dmarc check`: each builds what
// the server would build from the config and prints its answer step by step.
#include "probe_commands.h"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/lookup/lookup_table.h"
#include "petrel/server/config_checks.h"
#include "petrel/server/dmarc_probe.h"
#include "petrel/server/policy_probe.h"
#include "petrel/server/route.h"
#include "petrel/server/spf_probe.h"

#include "command_support.h"

namespace petrel::cli {

// petrel table query NAME KEY: builds the table as the server does (same registry, same
// reference syntax) and prints what it answers for KEY. Warnings about bad lines go to stderr.
int tableQueryCommand(const std::string& config_path, const std::string& name,
                      const std::string& key) {
  auto cfg = loadOrReport(config_path);
  if (!cfg) return ExConfig;
  Result<config::TableSpec> spec = config::resolveTableReference(*cfg, name);
  if (!spec) {
    fmt::print(stderr, "petrel: {}\n", spec.error().message());
    return ExConfig;
  }
  std::vector<std::string> warnings;
  lookup::TablePtr table =
      lookup::makeTable(*spec, [&warnings](const std::string& w) { warnings.push_back(w); });
  lookup::LookupResult r = table->lookup(key);
  for (const auto& w : warnings) {
    if (w != r.error) fmt::print(stderr, "warning: {}\n", w);  // the failure is printed below
  }
  switch (r.status) {
    case lookup::LookupStatus::Found:
      fmt::print("{}\n", r.value);
      return 0;
    case lookup::LookupStatus::NotFound:
      return 1;
    case lookup::LookupStatus::TempFail:
      fmt::print(stderr, "petrel: temporary failure: {}\n", r.error);
      return ExTempFail;
    case lookup::LookupStatus::ConfigError:
      fmt::print(stderr, "petrel: {}\n", r.error);
      return ExConfig;
  }
  return ExConfig;
}

// petrel policy test [options]: see Usage.
int policyTestCommand(const std::string& config_path, const std::vector<std::string>& args) {
  server::PolicyProbeRequest request;
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    bool ok = true;
    if (a == "--from") {
      ok = value(request.sender);
    } else if (a == "--to") {
      ok = value(request.recipients.emplace_back());
    } else if (a == "--client") {
      ok = value(request.client_ip);
    } else if (a == "--auth") {
      ok = value(request.sasl_user);
    } else if (a == "--helo") {
      ok = value(request.helo);
    } else if (a == "--listener") {
      ok = value(request.listener);
    } else {
      ok = false;
    }
    if (!ok) {
      fmt::print(stderr, "petrel policy test: bad argument '{}'\n{}", a, Usage);
      return 2;
    }
  }
  if (request.recipients.empty()) {
    fmt::print(stderr, "petrel policy test: at least one --to RCPT is needed\n");
    return 2;
  }
  auto cfg = loadOrReport(config_path);
  if (!cfg) return ExConfig;
  auto r = server::probePolicy(*cfg, request);
  if (!r) {
    fmt::print(stderr, "petrel: {}\n", r.error().message());
    return ExConfig;
  }
  fmt::print("{}", server::policyProbeText(*r));
  return r->accepted ? 0 : 1;
}

// petrel route ADDRESS [options]: see Usage.
int routeCommand(const std::string& config_path, const std::vector<std::string>& args) {
  server::RouteRequest request;
  bool json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    bool ok = true;
    if (a == "--json") {
      json = true;
    } else if (a == "--from") {
      ok = value(request.sender);
    } else if (a == "--client") {
      ok = value(request.client_ip);
    } else if (a == "--auth") {
      ok = value(request.sasl_user);
    } else if (a == "--helo") {
      ok = value(request.helo);
    } else if (a == "--listener") {
      ok = value(request.listener);
    } else if (request.address.empty() && !a.starts_with("--")) {
      request.address = a;
    } else {
      ok = false;
    }
    if (!ok) {
      fmt::print(stderr, "petrel route: bad argument '{}'\n{}", a, Usage);
      return 2;
    }
  }
  if (request.address.empty()) {
    fmt::print(stderr, "petrel route: an ADDRESS is needed\n");
    return 2;
  }
  auto cfg = loadOrReport(config_path);
  if (!cfg) return ExConfig;
  auto r = server::explainRoute(*cfg, request);
  if (!r) {
    fmt::print(stderr, "petrel: {}\n", r.error().message());
    return ExConfig;
  }
  fmt::print("{}", json ? server::routeJson(*r) : server::routeText(*r));
  return r->accepted ? 0 : 1;
}

// petrel spf check [options]: see Usage.
int spfCheckCommand(const std::string& config_path, const std::vector<std::string>& args) {
  server::SpfProbeRequest request;
  bool json = false;
  bool have_ip = false;
  bool have_sender = false;
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    bool ok = true;
    if (a == "--json") {
      json = true;
    } else if (a == "--ip") {
      ok = have_ip = value(request.ip);
    } else if (a == "--sender") {
      ok = have_sender = value(request.sender);
    } else if (a == "--helo") {
      ok = value(request.helo);
    } else {
      ok = false;
    }
    if (!ok) {
      fmt::print(stderr, "petrel spf check: bad argument '{}'\n{}", a, Usage);
      return 2;
    }
  }
  if (!have_ip || !have_sender) {
    fmt::print(stderr, "petrel spf check: --ip and --sender are needed\n");
    return 2;
  }
  if ((request.sender.empty() || request.sender == "<>") && request.helo.empty()) {
    fmt::print(stderr, "petrel spf check: the null sender needs --helo\n");
    return 2;
  }
  auto cfg = loadOrReport(config_path);
  if (!cfg) return ExConfig;
  auto r = server::probeSpf(*cfg, request);
  if (!r) {
    fmt::print(stderr, "petrel: {}\n", r.error().message());
    return r.error().kind() == Error::Kind::Config ? ExConfig : 2;
  }
  fmt::print("{}", json ? server::spfProbeJson(*r) : server::spfProbeText(*r));
  switch (r->report.result) {
    case spf::Outcome::Pass: return 0;
    case spf::Outcome::TempError: return ExTempFail;
    default: return 1;
  }
}

// petrel dmarc check [options]: see Usage.
int dmarcCheckCommand(const std::string& config_path, const std::vector<std::string>& args) {
  auto request = server::parseDmarcProbeArgs({args.begin() + 2, args.end()});
  if (!request) {
    fmt::print(stderr, "petrel dmarc check: {}\n{}", request.error().message(), Usage);
    return 2;
  }
  auto cfg = loadOrReport(config_path);
  if (!cfg) return ExConfig;
  auto r = server::probeDmarc(*cfg, *request);
  if (!r) {
    fmt::print(stderr, "petrel: {}\n", r.error().message());
    return r.error().kind() == Error::Kind::Config ? ExConfig : 2;
  }
  fmt::print("{}", request->json ? server::dmarcProbeJson(*r) : server::dmarcProbeText(*r));
  switch (r->evaluation.result) {
    case dmarc::Outcome::Pass: return 0;
    case dmarc::Outcome::TempError: return ExTempFail;
    default: return 1;
  }
}

}  // namespace petrel::cli
