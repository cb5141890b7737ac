// `petrel dmarc check`; see headers/petrel/server/dmarc_probe.h. Runs on a ProbeLoop
// (server/probe_loop.h).
#include "petrel/server/dmarc_probe.h"

#include <fmt/format.h>

#include <memory>

#include "petrel/core/strings.h"
#include "petrel/server/probe_loop.h"

namespace petrel::server {

namespace {

std::string_view actionName(dmarc::Action a) {
  switch (a) {
    case dmarc::Action::Accept: return "accept";
    case dmarc::Action::Header: return "accept with the header (quarantine)";
    case dmarc::Action::Hold: return "hold";
    case dmarc::Action::Reject: return "reject";
  }
  return "accept";
}

std::string alignmentName(dmarc::Alignment a) {
  return a == dmarc::Alignment::Strict ? "strict" : "relaxed";
}

}  // namespace

dmarc::Actions dmarcActions(const config::Dmarc& d) {
  dmarc::Actions a;
  a.on_reject = d.on_reject == config::Dmarc::OnReject::Reject       ? dmarc::OnReject::Reject
                : d.on_reject == config::Dmarc::OnReject::Quarantine ? dmarc::OnReject::Quarantine
                                                                     : dmarc::OnReject::None;
  a.on_quarantine = d.on_quarantine == config::Dmarc::OnQuarantine::Hold ? dmarc::OnQuarantine::Hold
                    : d.on_quarantine == config::Dmarc::OnQuarantine::Header
                        ? dmarc::OnQuarantine::Header
                        : dmarc::OnQuarantine::None;
  return a;
}

Result<DmarcProbeRequest> parseDmarcProbeArgs(const std::vector<std::string>& args) {
  DmarcProbeRequest r;
  std::optional<std::string> spf_result, spf_domain;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      r.json = true;
      continue;
    }
    if (i + 1 >= args.size()) return Error::permanent(fmt::format("bad argument '{}'", a));
    const std::string& v = args[++i];
    if (a == "--from-domain") {
      r.from_values.push_back("x@" + v);
    } else if (a == "--from") {
      r.from_values.push_back(v);
    } else if (a == "--spf") {
      spf_result = toLower(v);
    } else if (a == "--spf-domain") {
      spf_domain = v;
    } else if (a == "--dkim") {
      size_t colon = v.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == v.size()) {
        return Error::permanent(fmt::format("--dkim '{}': expected RESULT:DOMAIN", v));
      }
      r.auth.dkim.push_back({v.substr(colon + 1), toLower(v.substr(0, colon))});
    } else if (a == "--percent") {
      auto n = parseUnsigned(v);
      if (!n || *n > 99) return Error::permanent(fmt::format("--percent '{}': expected 0-99", v));
      r.percent = static_cast<int>(*n);
    } else {
      return Error::permanent(fmt::format("bad argument '{}'", a));
    }
  }
  if (r.from_values.empty()) return Error::permanent("--from-domain or --from is needed");
  if (spf_result.has_value() != spf_domain.has_value()) {
    return Error::permanent("--spf and --spf-domain go together");
  }
  if (spf_result) r.auth.spf = dmarc::SpfInput{*spf_result, *spf_domain};
  return r;
}

Result<DmarcProbeResult> probeDmarc(const config::Config& cfg, const DmarcProbeRequest& request) {
  auto psl = dmarc::PublicSuffixList::load(cfg.dmarc.public_suffix_list);
  if (!psl) return psl.error();
  auto shared = std::make_shared<const dmarc::PublicSuffixList>(std::move(psl.value()));
  DmarcProbeResult out;
  std::vector<std::string_view> values(request.from_values.begin(), request.from_values.end());
  out.from = dmarc::fromDomainsOfValues(values);
  ProbeLoop loop;
  if (Status st = loop.start(cfg); !st) return st.error();
  std::optional<dmarc::Evaluation> evaluation;
  dmarc::Percent percent = dmarc::randomPercent();
  if (request.percent) percent = [n = *request.percent] { return n; };
  auto lookup = dmarc::evaluate(
      loop.resolver(), shared, out.from, request.auth,
      [&evaluation](dmarc::Evaluation e) { evaluation = std::move(e); }, percent);
  loop.runUntil([&evaluation] { return evaluation.has_value(); });
  out.evaluation = std::move(*evaluation);
  out.verdict = dmarc::action(out.evaluation, dmarcActions(cfg.dmarc));
  return out;
}

std::string dmarcProbeText(const DmarcProbeResult& r) {
  const dmarc::Evaluation& e = r.evaluation;
  std::string out = fmt::format("result: {}\n", dmarc::outcomeName(e.result));
  if (!r.from.ok()) {
    out += fmt::format("from domain: none ({})\n", probeText(r.from.problem));
  } else {
    out += fmt::format("from domain: {}{}\n", e.from_domain,
                       r.from.domains.size() > 1
                           ? fmt::format(" (the strictest of {})", fmt::join(r.from.domains, ", "))
                           : std::string());
    out += fmt::format("org domain: {}\n", e.org_domain);
  }
  if (!e.policy_domain.empty()) {
    out += fmt::format("record: _dmarc.{} \"{}\"\n", e.policy_domain, probeText(e.record_text));
  }
  if (e.record) {
    const dmarc::Record& rec = *e.record;
    out += fmt::format("policy: {} ({}), pct {}\n", dmarc::policyName(e.policy),
                       e.subdomain_policy && rec.subdomain_policy ? "sp=" : "p=", rec.percent);
    out +=
        fmt::format("alignment: spf {} {}, dkim {} {}\n", alignmentName(rec.spf_alignment),
                    e.spf_aligned ? "pass" : "no", alignmentName(rec.dkim_alignment),
                    e.dkim_aligned ? "pass (d=" + e.aligned_dkim_domain + ")" : std::string("no"));
    for (const auto& w : rec.warnings) out += fmt::format("warning: {}\n", probeText(w));
  }
  if (!e.problem.empty()) out += fmt::format("problem: {}\n", probeText(e.problem));
  out += fmt::format("disposition: {}{}\n", dmarc::dispositionName(e.requested),
                     e.sampled_out ? " (pct sampled the next lower policy)" : "");
  out += fmt::format("action: {}", actionName(r.verdict.action));
  if (r.verdict.action == dmarc::Action::Reject) {
    out += fmt::format(" (550 5.7.1 {})", dmarc::rejectText(e));
  }
  out += "\nlookups:\n";
  for (const auto& l : e.lookups) out += fmt::format("  {}\n", probeText(l));
  out += fmt::format("authentication-results: {}\n", dmarc::authResultsPart(e, r.verdict.applied));
  return out;
}

std::string dmarcProbeJson(const DmarcProbeResult& r) {
  const dmarc::Evaluation& e = r.evaluation;
  std::string out = fmt::format(
      "{{\"result\":{},\"from_domain\":{},\"org_domain\":{},\"policy_domain\":{},"
      "\"record\":{},\"policy\":{},\"disposition\":{},\"sampled_out\":{},\"spf_aligned\":{},"
      "\"dkim_aligned\":{},\"action\":{},\"problem\":{},\"authentication_results\":{},"
      "\"lookups\":[",
      probeJson(dmarc::outcomeName(e.result)), probeJson(e.from_domain), probeJson(e.org_domain), probeJson(e.policy_domain),
      probeJson(e.record_text), probeJson(e.record ? dmarc::policyName(e.policy) : ""),
      probeJson(dmarc::dispositionName(e.requested)), e.sampled_out, e.spf_aligned, e.dkim_aligned,
      probeJson(actionName(r.verdict.action)), probeJson(e.problem.empty() ? r.from.problem : e.problem),
      probeJson(dmarc::authResultsPart(e, r.verdict.applied)));
  for (size_t i = 0; i < e.lookups.size(); ++i) {
    out += fmt::format("{}{}", i ? "," : "", probeJson(e.lookups[i]));
  }
  return out + "]}\n";
}

}  // namespace petrel::server
