// The `dmarc:` section: DMARC verification of received mail and what Petrel does with a
// failing message (config.h's Dmarc; docs/dmarc.md). Postfix has no DMARC of its own; the
// settings map opendmarc's RejectFailures (on_reject), the milter's quarantine (on_quarantine:
// hold) and PublicSuffixList. Whether the list can be read is checked when it is loaded (at
// start and reload), with the file's name in the error.
#include <fmt/format.h>

#include "loader.h"

namespace petrel::config::detail {

namespace {
constexpr std::string_view DmarcDbName = "dmarc.db";
}

void Loader::loadDmarc(const Section& top, Config& c) {
  Dmarc& d = c.dmarc;
  d.reports.database = resolvePath(c.state_dir, DmarcDbName);
  d.reports.org_name = c.hostname;
  d.reports.email = "postmaster@" + c.hostname;
  const Field* f = top.find("dmarc");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"verify", "on_reject", "on_quarantine", "public_suffix_list", "reports"});
  setBool(s, "verify", d.verify);
  if (const Field* v = s.find("on_reject")) {
    if (auto r = oneOf<Dmarc::OnReject>(*v, {{"reject", Dmarc::OnReject::Reject},
                                             {"quarantine", Dmarc::OnReject::Quarantine},
                                             {"none", Dmarc::OnReject::None}})) {
      d.on_reject = *r;
    }
  }
  if (const Field* v = s.find("on_quarantine")) {
    if (auto q = oneOf<Dmarc::OnQuarantine>(*v, {{"hold", Dmarc::OnQuarantine::Hold},
                                                 {"header", Dmarc::OnQuarantine::Header},
                                                 {"none", Dmarc::OnQuarantine::None}})) {
      d.on_quarantine = *q;
    }
  }
  setPath(s, "public_suffix_list", d.public_suffix_list);
  if (const Field* r = s.find("reports")) {
    Section rs(reporter_, *r);
    rs.allowOnly({"enabled", "database", "org_name", "email"});
    setBool(rs, "enabled", d.reports.enabled);
    setPath(rs, "database", d.reports.database);
    if (const Field* o = rs.find("org_name")) {
      if (auto v = text(*o)) {
        if (v->empty() || hasControlChars(*v) || v->size() > 255) {
          report(*o, "expected a name of 1 to 255 printable characters");
        } else {
          d.reports.org_name = *v;
        }
      }
    }
    if (const Field* e = rs.find("email")) {
      if (auto v = text(*e)) {
        size_t at = v->rfind('@');
        if (at == std::string::npos || at == 0 || !looksLikeDomain(v->substr(at + 1)) ||
            hasControlChars(*v) || v->find_first_of(" <>\"") != std::string::npos) {
          report(*e, fmt::format("'{}' is not an address (local@domain)", *v));
        } else {
          d.reports.email = *v;
        }
      }
    }
  }
}

}  // namespace petrel::config::detail
