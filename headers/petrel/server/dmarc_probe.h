// `petrel dmarc check`: one DMARC evaluation (dmarc::evaluate) with live DNS through a
// resolver on a loop of its own (the servers of the config's dns: section) and the config's
// Public Suffix List, for a From domain (or a From: field's value) and SPF and DKIM results
// given on the command line; its report as text or JSON: the record found and where, the
// organizational domain, the alignment of each identifier, the result, the policy, the
// disposition and what Petrel would do with the message (dmarc.on_reject/on_quarantine), and
// the Authentication-Results part. It verifies nothing itself (`petrel spf check` does SPF).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/core/result.h"
#include "petrel/dmarc/evaluate.h"

namespace petrel::server {

struct DmarcProbeRequest {
  std::vector<std::string> from_values;  // --from: field bodies; --from-domain becomes "x@D"
  dmarc::AuthInputs auth;                // --spf/--spf-domain, --dkim RESULT:DOMAIN
  std::optional<int> percent;            // --percent N: the pct sample (0-99); default random
  bool json = false;
};

// Reads the arguments after "dmarc check"; a permanent error says which one is wrong.
Result<DmarcProbeRequest> parseDmarcProbeArgs(const std::vector<std::string>& args);

struct DmarcProbeResult {
  dmarc::FromDomains from;
  dmarc::Evaluation evaluation;
  dmarc::Verdict verdict;  // through the config's dmarc.on_reject / on_quarantine
};

// Errors: the Public Suffix List or the resolver cannot be set up (Config).
Result<DmarcProbeResult> probeDmarc(const config::Config& cfg, const DmarcProbeRequest& request);
std::string dmarcProbeText(const DmarcProbeResult& r);
std::string dmarcProbeJson(const DmarcProbeResult& r);

// The dmarc:: settings of a config's dmarc: section.
dmarc::Actions dmarcActions(const config::Dmarc& d);

}  // namespace petrel::server
