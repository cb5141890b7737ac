// DMARC evaluation; see evaluate.h. Policy discovery is RFC 7489 6.6.3, alignment 3.1, the
// policy and pct 6.6.4 and 6.3, the result words 11.2.
#include "petrel/dmarc/evaluate.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "petrel/core/strings.h"
#include "petrel/dns/names.h"

namespace petrel::dmarc {

namespace {

using Status = TxtAnswer::Status;

// Asked when nothing needs DNS (a message without a From domain), so that `done` still runs
// later: resolver.h answers a name that cannot exist with NxDomain without asking a server.
constexpr const char* DeferName = "dmarc-no-query..invalid";

std::string clean(std::string_view s, size_t max = 300) {
  std::string out;
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u >= 0x7f ? '?' : c;
  }
  if (s.size() > max) out += "...";
  return out;
}

std::string normalize(std::string_view d) { return dns::normalizeName(d); }

bool isPass(std::string_view r) { return iequals(trim(r), "pass"); }
bool isTempError(std::string_view r) { return iequals(trim(r), "temperror"); }

std::string describe(const std::string& name, const TxtAnswer& a) {
  switch (a.status) {
    case Status::Found: {
      std::string s;
      for (const auto& t : a.txt) s += fmt::format("{}\"{}\"", s.empty() ? "" : ", ", clean(t));
      return fmt::format("{} TXT -> {}", name, s);
    }
    case Status::NoRecord: return fmt::format("{} TXT -> no record", name);
    case Status::TempFail: return fmt::format("{} TXT -> TempFail ({})", name, clean(a.error));
  }
  return name;
}

// RFC 7489 6.6.3 steps 3 and 5: the DMARC records among the TXT records.
std::vector<std::string> dmarcRecords(const TxtAnswer& a) {
  std::vector<std::string> out;
  if (a.status != Status::Found) return out;
  for (const auto& t : a.txt) {
    if (isDmarcRecord(t)) out.push_back(t);
  }
  return out;
}

int resultRank(Outcome o) {
  switch (o) {
    case Outcome::Pass: return 0;
    case Outcome::None: return 1;
    case Outcome::PermError: return 2;
    case Outcome::TempError: return 3;
    case Outcome::Fail: return 4;
  }
  return 0;
}

bool isDomainValue(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
  return std::all_of(d.begin(), d.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  });
}

}  // namespace

std::string_view outcomeName(Outcome o) {
  switch (o) {
    case Outcome::None: return "none";
    case Outcome::Pass: return "pass";
    case Outcome::Fail: return "fail";
    case Outcome::TempError: return "temperror";
    case Outcome::PermError: return "permerror";
  }
  return "none";
}

std::string_view dispositionName(Disposition d) {
  switch (d) {
    case Disposition::None: return "none";
    case Disposition::Quarantine: return "quarantine";
    case Disposition::Reject: return "reject";
  }
  return "none";
}

Percent randomPercent() {
  return [] {
    thread_local std::mt19937 engine{std::random_device{}()};
    return std::uniform_int_distribution<int>(0, 99)(engine);
  };
}

TxtAnswer fromDnsAnswer(const dns::Answer& a) {
  TxtAnswer out;
  switch (a.status) {
    case dns::Answer::Status::Found:
      out.status = Status::Found;
      out.txt = a.txt;
      break;
    case dns::Answer::Status::NxDomain:
    case dns::Answer::Status::NoData: out.status = Status::NoRecord; break;
    case dns::Answer::Status::TempFail:
      out.status = Status::TempFail;
      out.error = a.error.empty() ? "temporary DNS failure" : a.error;
      break;
  }
  return out;
}

bool aligned(std::string_view from_domain, std::string_view other, Alignment mode,
             const PublicSuffixList& psl) {
  std::string a = normalize(from_domain);
  std::string b = normalize(other);
  if (a.empty() || b.empty() || a == "." || b == ".") return false;
  if (mode == Alignment::Strict) return a == b;
  return psl.organizationalDomain(a) == psl.organizationalDomain(b);
}

bool needsOrgLookup(std::string_view from_domain, const TxtAnswer& at_from,
                    const PublicSuffixList& psl) {
  std::string from = normalize(from_domain);
  return at_from.status != Status::TempFail && dmarcRecords(at_from).empty() &&
         psl.organizationalDomain(from) != from;
}

Evaluation evaluateDomain(std::string_view from_domain, const AuthInputs& auth,
                          const TxtAnswer& at_from, const std::optional<TxtAnswer>& at_org,
                          const PublicSuffixList& psl, const Percent& percent) {
  Evaluation e;
  e.from_domain = normalize(from_domain);
  e.org_domain = psl.organizationalDomain(e.from_domain);
  e.lookups.push_back(describe("_dmarc." + e.from_domain, at_from));

  // Policy discovery (RFC 7489 6.6.3).
  if (at_from.status == Status::TempFail) {
    e.result = Outcome::TempError;
    e.problem = fmt::format("_dmarc.{}: {}", e.from_domain, clean(at_from.error));
    return e;
  }
  std::vector<std::string> records = dmarcRecords(at_from);
  std::string where = e.from_domain;
  if (records.empty() && e.org_domain != e.from_domain) {
    TxtAnswer org = at_org.value_or(TxtAnswer{});
    e.lookups.push_back(describe("_dmarc." + e.org_domain, org));
    if (org.status == Status::TempFail) {
      e.result = Outcome::TempError;
      e.problem = fmt::format("_dmarc.{}: {}", e.org_domain, clean(org.error));
      return e;
    }
    records = dmarcRecords(org);
    where = e.org_domain;
  }
  if (records.empty()) {
    e.problem =
        e.org_domain != e.from_domain
            ? fmt::format("no DMARC record at _dmarc.{} or _dmarc.{}", e.from_domain, e.org_domain)
            : fmt::format("no DMARC record at _dmarc.{}", e.from_domain);
    return e;
  }
  if (records.size() > 1) {
    // Step 5: several records end discovery; DMARC is not applied.
    e.problem = fmt::format("{} DMARC records at _dmarc.{}", records.size(), where);
    return e;
  }
  e.policy_domain = where;
  e.record_text = records.front();
  auto record = parseRecord(e.record_text);
  if (!record) {
    e.result = Outcome::PermError;
    e.problem = fmt::format("_dmarc.{}: {}", where, record.error().message());
    return e;
  }
  e.record = std::move(record.value());
  e.subdomain_policy = where != e.from_domain;
  e.policy = e.record->policyFor(e.subdomain_policy);

  // Identifier alignment (RFC 7489 3.1, 4.2): only a passing identifier counts.
  bool temporary = false;
  std::vector<std::string> failed;
  if (auth.spf) {
    bool same = aligned(e.from_domain, auth.spf->domain, e.record->spf_alignment, psl);
    if (isPass(auth.spf->result) && same) {
      e.spf_aligned = true;
    } else {
      temporary = temporary || (same && isTempError(auth.spf->result));
      failed.push_back(fmt::format("spf={} {}{}", clean(auth.spf->result, 20),
                                   clean(auth.spf->domain, 253), same ? "" : " (not aligned)"));
    }
  }
  for (const auto& d : auth.dkim) {
    bool same = aligned(e.from_domain, d.domain, e.record->dkim_alignment, psl);
    if (isPass(d.result) && same) {
      if (!e.dkim_aligned) e.aligned_dkim_domain = normalize(d.domain);
      e.dkim_aligned = true;
    } else {
      temporary = temporary || (same && isTempError(d.result));
      failed.push_back(fmt::format("dkim={} d={}{}", clean(d.result, 20), clean(d.domain, 253),
                                   same ? "" : " (not aligned)"));
    }
  }
  if (e.spf_aligned || e.dkim_aligned) {
    e.result = Outcome::Pass;
    return e;
  }
  if (temporary) {
    // RFC 7489 6.6.2: with a temporary error the receiver cannot conclude a failure.
    e.result = Outcome::TempError;
    e.problem = "no aligned pass, and an aligned identifier had a temporary error: " +
                fmt::format("{}", fmt::join(failed, ", "));
    return e;
  }
  e.result = Outcome::Fail;
  e.problem = failed.empty() ? std::string("no SPF or DKIM result")
                             : fmt::format("no aligned pass: {}", fmt::join(failed, ", "));

  // The policy and pct (RFC 7489 6.6.4, 6.3 "pct").
  e.requested = e.policy == Policy::Reject       ? Disposition::Reject
                : e.policy == Policy::Quarantine ? Disposition::Quarantine
                                                 : Disposition::None;
  if (e.requested != Disposition::None && e.record->percent < 100) {
    int n = percent ? percent() : 0;
    if (n >= e.record->percent) {
      e.sampled_out = true;
      e.requested =
          e.requested == Disposition::Reject ? Disposition::Quarantine : Disposition::None;
    }
  }
  return e;
}

Evaluation strictest(std::vector<Evaluation> all) {
  if (all.empty()) return Evaluation{};
  auto worse = [](const Evaluation& a, const Evaluation& b) {
    if (a.requested != b.requested) return a.requested > b.requested;
    return resultRank(a.result) > resultRank(b.result);
  };
  size_t best = 0;
  for (size_t i = 1; i < all.size(); ++i) {
    if (worse(all[i], all[best])) best = i;
  }
  return std::move(all[best]);
}

Evaluation noFromDomain(const FromDomains& from) {
  Evaluation e;
  e.result = Outcome::PermError;
  e.problem = from.problem.empty() ? std::string("no From: domain") : from.problem;
  return e;
}

Verdict action(const Evaluation& e, const Actions& settings) {
  Verdict v;
  if (e.result != Outcome::Fail) return v;
  Disposition d = e.requested;
  if (d == Disposition::Reject) {
    if (settings.on_reject == OnReject::Reject) return {Action::Reject, Disposition::Reject};
    if (settings.on_reject == OnReject::None) return v;
    d = Disposition::Quarantine;  // on_reject: quarantine
  }
  if (d == Disposition::Quarantine) {
    switch (settings.on_quarantine) {
      case OnQuarantine::Hold: return {Action::Hold, Disposition::Quarantine};
      case OnQuarantine::Header: return {Action::Header, Disposition::Quarantine};
      case OnQuarantine::None: return v;
    }
  }
  return v;
}

std::string rejectText(const Evaluation& e) {
  if (!isDomainValue(e.from_domain)) return "rejected by DMARC policy";
  return fmt::format("rejected by DMARC policy for {}", e.from_domain);
}

std::string authResultsPart(const Evaluation& e, Disposition applied) {
  std::string out = fmt::format("dmarc={}", outcomeName(e.result));
  if (e.record && (e.result == Outcome::Pass || e.result == Outcome::Fail)) {
    out += fmt::format(" (p={}", policyName(e.record->policy));
    if (e.subdomain_policy && e.record->subdomain_policy) {
      out += fmt::format(" sp={}", policyName(*e.record->subdomain_policy));
    }
    out += fmt::format(" dis={})", dispositionName(applied));
  }
  if (isDomainValue(e.from_domain)) out += " header.from=" + e.from_domain;
  return out;
}

// ---- the asynchronous lookup -----------------------------------------------------------------

namespace {

class Impl final : public Lookup {
 public:
  Impl(dns::Resolver& resolver, PublicSuffixListPtr psl, FromDomains from, AuthInputs auth,
       Done done, Percent percent)
      : resolver_(resolver),
        psl_(std::move(psl)),
        from_(std::move(from)),
        auth_(std::move(auth)),
        done_(std::move(done)),
        percent_(std::move(percent)) {}

  void start() {
    if (!from_.ok()) {
      pending_ = resolver_.query(DeferName, dns::Type::TXT,
                                 [this](dns::Answer) { finish(noFromDomain(from_)); });
      return;
    }
    next();
  }

 private:
  void next() {
    if (index_ >= from_.domains.size()) {
      finish(strictest(std::move(results_)));
      return;
    }
    const std::string& domain = from_.domains[index_];
    pending_ = resolver_.query("_dmarc." + domain, dns::Type::TXT,
                               [this](dns::Answer a) { onFromAnswer(fromDnsAnswer(a)); });
  }

  void onFromAnswer(TxtAnswer at_from) {
    const std::string domain = from_.domains[index_];
    if (!needsOrgLookup(domain, at_from, *psl_)) {
      conclude(domain, at_from, std::nullopt);
      return;
    }
    std::string org = psl_->organizationalDomain(domain);
    pending_ = resolver_.query("_dmarc." + org, dns::Type::TXT,
                               [this, domain, at_from = std::move(at_from)](dns::Answer a) mutable {
                                 conclude(domain, at_from, fromDnsAnswer(a));
                               });
  }

  void conclude(const std::string& domain, const TxtAnswer& at_from,
                const std::optional<TxtAnswer>& at_org) {
    results_.push_back(evaluateDomain(domain, auth_, at_from, at_org, *psl_, percent_));
    ++index_;
    next();
  }

  void finish(Evaluation e) {
    // `done` may destroy this object: move it out first and touch nothing after.
    Done done = std::move(done_);
    done(std::move(e));
  }

  dns::Resolver& resolver_;
  PublicSuffixListPtr psl_;
  FromDomains from_;
  AuthInputs auth_;
  Done done_;
  Percent percent_;
  size_t index_ = 0;
  std::vector<Evaluation> results_;
  dns::QueryHandlePtr pending_;
};

}  // namespace

LookupPtr evaluate(dns::Resolver& resolver, PublicSuffixListPtr psl, FromDomains from,
                   AuthInputs auth, Done done, Percent percent) {
  auto impl = std::make_unique<Impl>(resolver, std::move(psl), std::move(from), std::move(auth),
                                     std::move(done), std::move(percent));
  impl->start();
  return impl;
}

}  // namespace petrel::dmarc
