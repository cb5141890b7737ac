// `petrel spf check`: one SPF evaluation (spf::checkHost) with live DNS through a resolver on
// a loop of its own (the servers of the config's dns: section), and its report as text or
// JSON: the result, the deciding term, the explanation, the chain of records and every
// lookup made. It does not decide what the server would do with the mail (`petrel policy
// test` does).
#pragma once

#include <string>

#include "petrel/config/config.h"
#include "petrel/core/result.h"
#include "petrel/spf/check_host.h"

namespace petrel::server {

struct SpfProbeRequest {
  std::string ip;
  std::string sender;  // MAIL FROM; "" or "<>": the HELO identity (postmaster@helo)
  std::string helo;
};

struct SpfProbeResult {
  spf::Request request;  // what was evaluated
  std::string identity;  // "mailfrom" or "helo"
  spf::Report report;
};

Result<SpfProbeResult> probeSpf(const config::Config& cfg, const SpfProbeRequest& request);
std::string spfProbeText(const SpfProbeResult& r);
std::string spfProbeJson(const SpfProbeResult& r);

}  // namespace petrel::server
