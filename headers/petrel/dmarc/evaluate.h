// DMARC evaluation (RFC 7489 6.6): policy discovery, identifier alignment, the result, the
// policy that applies, pct sampling and the disposition; the dmarc part of
// Authentication-Results (RFC 7489 11.2, RFC 8601).
//
//   From domain ─> TXT _dmarc.<from> ─┬─ one DMARC record ──────────────┐
//                                     ├─ none ─> TXT _dmarc.<org> ──────┤ (org != from)
//                                     ├─ several ─> none, no policy     │
//                                     └─ DNS temporary failure ─> temperror
//   record ─> parse (error: permerror) ─> alignment of SPF and DKIM ─> pass | fail
//   fail ─> p (or sp for a subdomain, when found at the org domain) ─> pct ─> disposition
//
// Two layers: evaluateDomain() is pure (the TXT answers are given, the random number comes
// from a Percent source the caller provides, so tests are deterministic); evaluate() looks
// the records up over a dns::Resolver (asynchronously, at most two queries per From domain,
// one at a time) and hands the answers to it. Every query is bounded by the resolver's own
// timeout, which ends as a TempFail answer: a DNS temporary failure is temperror, never a
// reject.
//
// The inputs are plain data: the SPF result of the MAIL stage with the domain it
// authenticated (the MAIL FROM domain, or the HELO name for the null sender) and every DKIM
// signature's d= and result. Results are compared as words ("pass", "fail", "temperror", any
// case), so any SPF or DKIM implementation can feed them.
//
// Results (RFC 7489 11.2): pass (an aligned identifier passed), fail (none did), none (no
// policy record, or several), temperror (DNS trouble finding the record, or no aligned pass
// while an aligned identifier had a temporary error: the message cannot be judged now, RFC
// 7489 6.6.2), permerror (no usable From domain, or a record with a syntax error).
//
// What it does not do: decide what Petrel does with the message (action() maps the
// disposition through the settings, the server applies it), failure reports, DMARCbis.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/dmarc/from_domain.h"
#include "petrel/dmarc/public_suffix.h"
#include "petrel/dmarc/record.h"
#include "petrel/dns/resolver.h"

namespace petrel::dmarc {

enum class Outcome { None, Pass, Fail, TempError, PermError };
std::string_view outcomeName(Outcome o);  // "none", "pass", "fail", "temperror", "permerror"

// What the policy asks for the message after pct (RFC 7489 6.6.4).
enum class Disposition { None, Quarantine, Reject };
std::string_view dispositionName(Disposition d);

// The authentication results DMARC is fed with.
struct SpfInput {
  std::string result;  // "pass", "fail", "softfail", "neutral", "none", "temperror", ...
  std::string domain;  // the domain SPF checked: MAIL FROM's, or the HELO name (null sender)
};
struct DkimInput {
  std::string domain;  // the signature's d=
  std::string result;  // "pass", "fail", "neutral", "temperror", "permerror", ...
};
struct AuthInputs {
  std::optional<SpfInput> spf;  // absent: SPF was not evaluated
  std::vector<DkimInput> dkim;  // one per signature
};

// A uniform number 0-99 for pct sampling.
using Percent = std::function<int()>;
// A Percent from a random engine seeded once per process (thread-safe).
Percent randomPercent();

// What DNS said at one _dmarc name.
struct TxtAnswer {
  enum class Status { Found, NoRecord, TempFail } status = Status::NoRecord;
  std::vector<std::string> txt;  // Found: every TXT record, strings concatenated
  std::string error;             // TempFail: why
};
TxtAnswer fromDnsAnswer(const dns::Answer& a);

struct Evaluation {
  Outcome result = Outcome::None;
  std::string from_domain;
  std::string org_domain;     // of the From domain (RFC 7489 3.2)
  std::string policy_domain;  // where the record was found ("" when none)
  std::string record_text;    // the record as published
  std::optional<Record> record;
  Policy policy = Policy::None;               // p= or sp= as applies (none when no record)
  bool subdomain_policy = false;              // sp= (or p= for subdomains) was the applicable tag
  Disposition requested = Disposition::None;  // what the policy asks, after pct
  bool sampled_out = false;                   // pct chose the next lower policy
  bool spf_aligned = false;                   // SPF passed for an aligned domain
  bool dkim_aligned = false;                  // a DKIM signature passed for an aligned d=
  std::string aligned_dkim_domain;            // the d= of the first aligned passing signature
  std::string problem;  // none, temperror, permerror: why; fail: which identifiers failed
  std::vector<std::string> lookups;  // "_dmarc.example.com TXT -> ..." in order
};

// Identifier alignment (RFC 7489 3.1.1, 3.1.2): strict is equality (case-insensitive, a
// trailing dot ignored), relaxed the same organizational domain.
bool aligned(std::string_view from_domain, std::string_view other, Alignment mode,
             const PublicSuffixList& psl);

// The pure evaluation of one From domain. `at_org` is only read when discovery needs it
// (nothing at the From domain, and its organizational domain is another name); when it is
// needed and absent the result is as if it had no record.
Evaluation evaluateDomain(std::string_view from_domain, const AuthInputs& auth,
                          const TxtAnswer& at_from, const std::optional<TxtAnswer>& at_org,
                          const PublicSuffixList& psl, const Percent& percent);
// Whether evaluateDomain() needs the organizational domain's answer after `at_from`; the name
// to ask is "_dmarc." + psl.organizationalDomain(from_domain).
bool needsOrgLookup(std::string_view from_domain, const TxtAnswer& at_from,
                    const PublicSuffixList& psl);

// The evaluation that counts for a message with several From domains: the strictest
// requested disposition, then the worst result (fail, temperror, permerror, none, pass).
Evaluation strictest(std::vector<Evaluation> all);

// The message's evaluation when its From: gave no usable domain: permerror, no policy.
Evaluation noFromDomain(const FromDomains& from);

// The asynchronous evaluation of a message: each From domain in turn (from.domains), the
// strictest one counts; `done` runs exactly once, later, on the resolver's loop, never
// inside evaluate() (also for a message without a From domain). Destroying the handle
// cancels (the outstanding query with it; `done` never runs). `resolver` must outlive the
// handle; `psl` is shared so that a reload may swap it meanwhile.
class Lookup {
 public:
  virtual ~Lookup() = default;
};
using LookupPtr = std::unique_ptr<Lookup>;
using Done = std::function<void(Evaluation)>;
LookupPtr evaluate(dns::Resolver& resolver, PublicSuffixListPtr psl, FromDomains from,
                   AuthInputs auth, Done done, Percent percent = randomPercent());

// What Petrel does with a message (config dmarc.on_reject, dmarc.on_quarantine).
enum class OnReject { Reject, Quarantine, None };
enum class OnQuarantine { Hold, Header, None };
struct Actions {
  OnReject on_reject = OnReject::Reject;
  OnQuarantine on_quarantine = OnQuarantine::Header;
};
enum class Action {
  Accept,  // deliver as is (with the Authentication-Results field)
  Header,  // deliver; the Authentication-Results field says dis=quarantine for the mailbox
  Hold,    // keep the message in the queue, held (Postfix HOLD)
  Reject,  // 550 5.7.1 (rejectReply())
};
struct Verdict {
  Action action = Action::Accept;
  Disposition applied = Disposition::None;  // what Authentication-Results reports as dis=
};
Verdict action(const Evaluation& e, const Actions& settings);

// "rejected by DMARC policy for example.com" (opendmarc's RejectString), to go after
// "550 5.7.1 ".
std::string rejectText(const Evaluation& e);

// The dmarc resinfo of Authentication-Results (RFC 8601 2.2, RFC 7489 11.2):
//   dmarc=fail (p=reject dis=reject) header.from=example.com
// The comment holds the applicable policy and the disposition applied (for none/permerror/
// temperror only the result and header.from when known); every value is checked against the
// domain syntax, and a value that fails it is left out, so that nothing a sender wrote can
// end the field or add to it.
std::string authResultsPart(const Evaluation& e, Disposition applied);

}  // namespace petrel::dmarc
