// check_host() (RFC 7208 4-6): the asynchronous SPF evaluation of one identity over a
// dns::Resolver, with its report.
//
//   start ─> fetch record (TXT) ─> evaluate terms in order ─┬─> match: qualifier
//                 ^                   │ include: push a frame, its result decides the term
//                 │                   │ a/mx/ptr/exists: DNS, then match or not
//                 └── redirect= ──────┴─> no match: redirect, else neutral
//   top-level fail with exp= ─> explanation TXT (errors ignored) ─> done
//
// An evaluation owns its state; the caller owns the returned handle, and destroying it
// cancels the evaluation (the outstanding query with it; `done` never runs). `done` is called
// exactly once, later, on the resolver's loop, never inside checkHost(). Only one query is in
// flight at a time, so the lookups happen in the order the RFC describes them.
//
// Limits (RFC 7208 4.6.4): at most 10 terms that cause DNS queries (include, a, mx, ptr,
// exists, redirect), at most 2 void lookups (NXDOMAIN or no records), at most 10 MX names per
// mx (more is permerror) and 10 PTR names per ptr or %{p} (the rest ignored). Every query is
// bounded by the resolver's own timeout, so an evaluation ends after at most about 130
// queries.
//
// What it does not do: decide what a result means for the mail (policy/ does), the SPF RR
// type, best-guess records, local policy.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "petrel/dns/resolver.h"
#include "petrel/spf/record.h"

namespace petrel::spf {

struct Request {
  std::string ip;      // the client's address, text ("192.0.2.1", "2001:db8::1")
  std::string domain;  // <domain>: the domain whose record is asked
  std::string sender;  // <sender>: "local@domain", or "postmaster@helo" for the HELO identity
  std::string helo;    // the HELO/EHLO name, for %{h}
  std::string receiver = "unknown";  // %{r}: our host name
  long long timestamp = 0;           // %{t}; 0: now
};

// The MAIL FROM identity (RFC 7208 2.4): sender `mail_from`, or postmaster@helo when it is
// the null sender ("" or "<>"); the domain is the part after the last '@' ("postmaster" is
// the local part when there is none).
Request mailFromRequest(std::string ip, std::string mail_from, std::string helo);
// The HELO identity (RFC 7208 2.3): domain `helo`, sender postmaster@helo.
Request heloRequest(std::string ip, std::string helo);

struct LookupRecord {
  std::string name;
  dns::Type type = dns::Type::TXT;
  std::string answer;  // "NxDomain", "TempFail (why)", or the records, comma-separated
  bool is_void = false;
};

struct RecordStep {
  std::string via;     // "check_host", "include", "redirect"
  std::string domain;  // the domain the record was fetched for
  std::string record;  // the record's text, or what was found instead
};

struct Report {
  Outcome result = Outcome::None;
  std::string explanation;  // fail only: the expanded exp= text, empty when none was found
  std::string mechanism;    // the term of the top-level record that decided; empty for none
  std::string problem;      // why, for none, permerror and temperror
  std::vector<RecordStep> records;
  std::vector<LookupRecord> lookups;
  int dns_terms = 0;     // terms counted against the limit of 10
  int void_lookups = 0;  // counted against the limit of 2
};

struct Limits {
  int dns_terms = 10;
  int void_lookups = 2;
  int mx_names = 10;
  int ptr_names = 10;
};

class Evaluation {
 public:
  virtual ~Evaluation() = default;
};
using EvaluationPtr = std::unique_ptr<Evaluation>;

using Done = std::function<void(Report)>;

// Starts check_host(request.ip, request.domain, request.sender). `resolver` must outlive the
// returned handle (or the handle must be destroyed first). A malformed ip is a permerror.
EvaluationPtr checkHost(dns::Resolver& resolver, Request request, Done done, Limits limits = {});

}  // namespace petrel::spf
