// `petrel spf check`; see headers/petrel/server/spf_probe.h. Runs on a ProbeLoop
// (server/probe_loop.h).
#include "petrel/server/spf_probe.h"

#include <fmt/format.h>

#include <memory>
#include <optional>

#include "petrel/core/strings.h"
#include "petrel/dns/resolver.h"
#include "petrel/server/probe_loop.h"

namespace petrel::server {

Result<SpfProbeResult> probeSpf(const config::Config& cfg, const SpfProbeRequest& request) {
  if (!IpAddress::parse(request.ip)) {
    return Error::permanent(fmt::format("--ip '{}' is not an IP address", request.ip));
  }
  SpfProbeResult out;
  bool helo = request.sender.empty() || request.sender == "<>";
  out.identity = helo ? "helo" : "mailfrom";
  out.request = spf::mailFromRequest(request.ip, request.sender, request.helo);
  out.request.receiver = cfg.hostname;
  ProbeLoop loop;
  if (Status st = loop.start(cfg); !st) return st.error();
  std::optional<spf::Report> report;
  auto evaluation = spf::checkHost(loop.resolver(), out.request,
                                   [&report](spf::Report r) { report = std::move(r); });
  loop.runUntil([&report] { return report.has_value(); });
  out.report = std::move(*report);
  return out;
}

std::string spfProbeText(const SpfProbeResult& r) {
  const spf::Report& rep = r.report;
  std::string out = fmt::format("result: {}\n", spf::outcomeName(rep.result));
  out += fmt::format("identity: {} {} (sender {}, ip {}, helo {})\n", r.identity,
                     probeText(r.request.domain), probeText(r.request.sender), r.request.ip,
                     probeText(r.request.helo));
  if (!rep.mechanism.empty()) out += fmt::format("mechanism: {}\n", probeText(rep.mechanism));
  if (!rep.explanation.empty()) out += fmt::format("explanation: {}\n", probeText(rep.explanation));
  if (!rep.problem.empty()) out += fmt::format("problem: {}\n", probeText(rep.problem));
  out += "records:\n";
  for (const auto& s : rep.records) {
    out += fmt::format("  {} {}: {}\n", s.via, probeText(s.domain), probeText(s.record));
  }
  out += fmt::format("lookups: {} (DNS terms {}/10, void lookups {}/2)\n", rep.lookups.size(),
                     rep.dns_terms, rep.void_lookups);
  for (const auto& l : rep.lookups) {
    out += fmt::format("  {} {} -> {}{}\n", probeText(l.name), dns::typeName(l.type), probeText(l.answer),
                       l.is_void ? " (void)" : "");
  }
  return out;
}

std::string spfProbeJson(const SpfProbeResult& r) {
  const spf::Report& rep = r.report;
  std::string out = fmt::format(
      "{{\"result\":{},\"identity\":{},\"domain\":{},\"sender\":{},\"ip\":{},\"helo\":{},"
      "\"mechanism\":{},\"explanation\":{},\"problem\":{},\"dns_terms\":{},"
      "\"void_lookups\":{},\"records\":[",
      probeJson(spf::outcomeName(rep.result)), probeJson(r.identity), probeJson(r.request.domain), probeJson(r.request.sender),
      probeJson(r.request.ip), probeJson(r.request.helo), probeJson(rep.mechanism), probeJson(rep.explanation), probeJson(rep.problem),
      rep.dns_terms, rep.void_lookups);
  for (size_t i = 0; i < rep.records.size(); ++i) {
    const auto& s = rep.records[i];
    out += fmt::format("{}{{\"via\":{},\"domain\":{},\"record\":{}}}", i ? "," : "", probeJson(s.via),
                       probeJson(s.domain), probeJson(s.record));
  }
  out += "],\"lookups\":[";
  for (size_t i = 0; i < rep.lookups.size(); ++i) {
    const auto& l = rep.lookups[i];
    out +=
        fmt::format("{}{{\"name\":{},\"type\":{},\"answer\":{},\"void\":{}}}", i ? "," : "",
                    probeJson(l.name), probeJson(dns::typeName(l.type)), probeJson(l.answer), l.is_void ? "true" : "false");
  }
  return out + "]}\n";
}

}  // namespace petrel::server
