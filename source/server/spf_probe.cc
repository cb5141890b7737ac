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

namespace {

std::string q(std::string_view s) { return "\"" + jsonEscape(s) + "\""; }

// Record texts and DNS answers come from the network: no control characters on the terminal.
std::string clean(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? fmt::format("\\x{:02x}", u) : std::string(1, c);
  }
  return out;
}

}  // namespace

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
                     clean(r.request.domain), clean(r.request.sender), r.request.ip,
                     clean(r.request.helo));
  if (!rep.mechanism.empty()) out += fmt::format("mechanism: {}\n", clean(rep.mechanism));
  if (!rep.explanation.empty()) out += fmt::format("explanation: {}\n", clean(rep.explanation));
  if (!rep.problem.empty()) out += fmt::format("problem: {}\n", clean(rep.problem));
  out += "records:\n";
  for (const auto& s : rep.records) {
    out += fmt::format("  {} {}: {}\n", s.via, clean(s.domain), clean(s.record));
  }
  out += fmt::format("lookups: {} (DNS terms {}/10, void lookups {}/2)\n", rep.lookups.size(),
                     rep.dns_terms, rep.void_lookups);
  for (const auto& l : rep.lookups) {
    out += fmt::format("  {} {} -> {}{}\n", clean(l.name), dns::typeName(l.type), clean(l.answer),
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
      q(spf::outcomeName(rep.result)), q(r.identity), q(r.request.domain), q(r.request.sender),
      q(r.request.ip), q(r.request.helo), q(rep.mechanism), q(rep.explanation), q(rep.problem),
      rep.dns_terms, rep.void_lookups);
  for (size_t i = 0; i < rep.records.size(); ++i) {
    const auto& s = rep.records[i];
    out += fmt::format("{}{{\"via\":{},\"domain\":{},\"record\":{}}}", i ? "," : "", q(s.via),
                       q(s.domain), q(s.record));
  }
  out += "],\"lookups\":[";
  for (size_t i = 0; i < rep.lookups.size(); ++i) {
    const auto& l = rep.lookups[i];
    out +=
        fmt::format("{}{{\"name\":{},\"type\":{},\"answer\":{},\"void\":{}}}", i ? "," : "",
                    q(l.name), q(dns::typeName(l.type)), q(l.answer), l.is_void ? "true" : "false");
  }
  return out + "]}\n";
}

}  // namespace petrel::server
