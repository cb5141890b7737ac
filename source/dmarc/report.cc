// Aggregate report records and XML; see report.h. Element names and order follow RFC 7489
// appendix C's schema.
#include "petrel/dmarc/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace petrel::dmarc {

namespace {

constexpr size_t MaxValue = 512;

// XML 1.0 character data: &<>"' escaped, control characters (other than none) dropped, at
// most MaxValue octets (a value is a domain, an address or a word).
std::string xml(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, MaxValue)) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (u >= 0x20 && u != 0x7f) out += c;
    }
  }
  return out;
}

// The words the schema allows for DKIM (RFC 5451 2.4.1) and SPF results; anything else a
// verifier said is reported as what it is closest to.
std::string dkimWord(std::string_view r) {
  for (const char* w : {"none", "pass", "fail", "policy", "neutral", "temperror", "permerror"}) {
    if (r == w) return w;
  }
  return "permerror";
}
std::string spfWord(std::string_view r) {
  for (const char* w : {"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"}) {
    if (r == w) return w;
  }
  return "permerror";
}

std::string dkimKey(const std::vector<DkimInput>& dkim) {
  std::string k;
  for (const auto& d : dkim) k += d.domain + '\x01' + d.result + '\x02';
  return k;
}

auto groupKey(const ReportRecord& r) {
  return std::make_tuple(r.source_ip, r.header_from, r.envelope_from, r.envelope_to, r.disposition,
                         r.dkim_aligned, r.spf_aligned, r.reasons,
                         r.spf ? r.spf->domain + '\x01' + r.spf->result : std::string(), r.spf_helo,
                         dkimKey(r.dkim));
}

}  // namespace

std::optional<ReportRecord> reportRecord(const Evaluation& e, const Verdict& verdict,
                                         const AuthInputs& auth, bool spf_helo,
                                         std::string source_ip, std::string envelope_to,
                                         int64_t time) {
  if (!e.record || e.record->aggregate.empty() ||
      (e.result != Outcome::Pass && e.result != Outcome::Fail)) {
    return std::nullopt;
  }
  ReportRecord r;
  r.time = time;
  r.source_ip = std::move(source_ip);
  r.header_from = e.from_domain;
  r.envelope_from = auth.spf ? auth.spf->domain : std::string();
  r.envelope_to = std::move(envelope_to);
  r.policy_domain = e.policy_domain;
  r.published = formatRecord(*e.record);
  for (const auto& u : e.record->aggregate) {
    if (!r.rua.empty()) r.rua += ',';
    r.rua += u.uri;
  }
  r.disposition = verdict.applied;
  r.dkim_aligned = e.dkim_aligned;
  r.spf_aligned = e.spf_aligned;
  if (e.sampled_out) r.reasons.push_back("sampled_out");
  if (e.result == Outcome::Fail && verdict.applied < e.requested) {
    r.reasons.push_back("local_policy");  // dmarc.on_reject / on_quarantine chose less
  }
  r.spf = auth.spf;
  r.spf_helo = spf_helo;
  r.dkim = auth.dkim;
  return r;
}

std::string composeAggregateReport(const ReportMeta& meta, std::string_view policy_domain,
                                   const Record& published, const std::vector<ReportRecord>& rows) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n";
  out += "  <version>1.0</version>\n  <report_metadata>\n";
  out += fmt::format("    <org_name>{}</org_name>\n    <email>{}</email>\n", xml(meta.org_name),
                     xml(meta.email));
  if (!meta.extra_contact_info.empty()) {
    out += fmt::format("    <extra_contact_info>{}</extra_contact_info>\n",
                       xml(meta.extra_contact_info));
  }
  out += fmt::format(
      "    <report_id>{}</report_id>\n    <date_range>\n      <begin>{}</begin>\n"
      "      <end>{}</end>\n    </date_range>\n  </report_metadata>\n",
      xml(meta.report_id), meta.begin, meta.end);
  out += fmt::format(
      "  <policy_published>\n    <domain>{}</domain>\n    <adkim>{}</adkim>\n"
      "    <aspf>{}</aspf>\n    <p>{}</p>\n    <sp>{}</sp>\n    <pct>{}</pct>\n"
      "    <fo>{}</fo>\n  </policy_published>\n",
      xml(policy_domain), published.dkim_alignment == Alignment::Strict ? "s" : "r",
      published.spf_alignment == Alignment::Strict ? "s" : "r", policyName(published.policy),
      policyName(published.policyFor(true)), published.percent, xml(published.failure_options));

  // Identical rows become one record with a count, in the order first seen.
  std::vector<std::pair<const ReportRecord*, int64_t>> groups;
  for (const auto& r : rows) {
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const auto& g) { return groupKey(*g.first) == groupKey(r); });
    if (it == groups.end()) {
      groups.emplace_back(&r, 1);
    } else {
      ++it->second;
    }
  }
  for (const auto& [r, count] : groups) {
    out += fmt::format(
        "  <record>\n    <row>\n      <source_ip>{}</source_ip>\n      <count>{}</count>\n"
        "      <policy_evaluated>\n        <disposition>{}</disposition>\n"
        "        <dkim>{}</dkim>\n        <spf>{}</spf>\n",
        xml(r->source_ip), count, dispositionName(r->disposition),
        r->dkim_aligned ? "pass" : "fail", r->spf_aligned ? "pass" : "fail");
    for (const auto& reason : r->reasons) {
      out += fmt::format("        <reason>\n          <type>{}</type>\n        </reason>\n",
                         xml(reason));
    }
    out += "      </policy_evaluated>\n    </row>\n    <identifiers>\n";
    if (!r->envelope_to.empty()) {
      out += fmt::format("      <envelope_to>{}</envelope_to>\n", xml(r->envelope_to));
    }
    out += fmt::format(
        "      <envelope_from>{}</envelope_from>\n      <header_from>{}</header_from>\n"
        "    </identifiers>\n    <auth_results>\n",
        xml(r->envelope_from), xml(r->header_from));
    for (const auto& d : r->dkim) {
      out += fmt::format(
          "      <dkim>\n        <domain>{}</domain>\n        <result>{}</result>\n"
          "      </dkim>\n",
          xml(d.domain), dkimWord(d.result));
    }
    // The schema wants at least one SPF result: "none" for the envelope domain when SPF was
    // not evaluated.
    out += fmt::format(
        "      <spf>\n        <domain>{}</domain>\n        <scope>{}</scope>\n"
        "        <result>{}</result>\n      </spf>\n    </auth_results>\n  </record>\n",
        xml(r->spf ? r->spf->domain : r->envelope_from), r->spf_helo ? "helo" : "mfrom",
        r->spf ? spfWord(r->spf->result) : "none");
  }
  return out + "</feedback>\n";
}

std::string reportFileName(std::string_view receiver, std::string_view policy_domain, int64_t begin,
                           int64_t end) {
  return fmt::format("{}!{}!{}!{}.xml", receiver, policy_domain, begin, end);
}

}  // namespace petrel::dmarc
