// Names that must exist in the DNS, as Postfix: reject_unknown_sender_domain,
// reject_unknown_recipient_domain (no MX and no A/AAAA, or a null MX, RFC 7505),
// reject_unknown_helo_hostname (no A/AAAA and no MX), reject_unknown_reverse_client_hostname
// (no PTR for the client address) and reject_unknown_client_hostname (no PTR whose name's
// addresses include the client's: forward-confirmed reverse DNS).
//
// Replies are Postfix's defaults: unknown_address_reject_code and unknown_hostname_reject_code
// and unknown_client_reject_code are 450, so a zone that is broken for a while costs a retry,
// not the mail; a null MX is final (550 / 556). A DNS failure on the way is always 450 (4.1.8
// for senders, 4.1.2 for recipients, 4.7.1 / 4.7.25 for hosts). Our own domains are never
// looked up. When the connection already knows the client's name (PolicyContext::client) the
// client checks use it; otherwise they ask the DNS themselves (the resolver caches it).
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <memory>

#include "checks.h"
#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"
#include "petrel/dns/mx.h"
#include "petrel/dns/names.h"
#include "petrel/dns/resolver.h"

namespace petrel::policy::checks {

namespace {

constexpr size_t MaxPtrNames = 5;  // PTR names tried for the forward confirmation

// The DNS steps of one check run: each query's answer goes to the next step; finish() answers
// the list once. The job keeps itself alive while a query is out (the resolver answers every
// query within its timeouts).
class DnsJob : public std::enable_shared_from_this<DnsJob> {
 public:
  using Step = std::function<void(const dns::Answer&)>;
  DnsJob(const PolicyContext& ctx, Check::Done done) : ctx_(&ctx), done_(std::move(done)) {}

  static std::shared_ptr<DnsJob> start(const PolicyContext& ctx, Check::Done done) {
    auto job = std::make_shared<DnsJob>(ctx, std::move(done));
    job->self_ = job;
    return job;
  }
  void ask(const std::string& name, dns::Type type, Step step) {
    // The step runs from a copy: it may ask the next query, which replaces (and so destroys)
    // the handle whose callback is running.
    query_ = ctx_->resolver->query(name, type, [step = std::move(step)](dns::Answer a) {
      Step run = step;
      run(a);
    });
  }
  void finish(Decision d) {
    std::shared_ptr<DnsJob> keep = std::move(self_);  // destroyed when finish() returns
    auto done = std::move(done_);
    done(std::move(d));
  }
  const PolicyContext& ctx() const { return *ctx_; }

 private:
  const PolicyContext* ctx_;
  Check::Done done_;
  dns::QueryHandlePtr query_;
  std::shared_ptr<DnsJob> self_;
};

using Status = dns::Answer::Status;

// Does `name` have an MX, else an A, else an AAAA record? `found(kind)`: "mx", "nullmx",
// "address", "none" or "tempfail".
void lookUpMailDomain(std::shared_ptr<DnsJob> job, std::string name, bool mx_first,
                      std::function<void(DnsJob&, std::string_view)> found) {
  auto addresses = [job, name, found](std::string_view why_not) {
    job->ask(name, dns::Type::A, [job, name, found, why_not](const dns::Answer& a) {
      if (a.found()) return found(*job, "address");
      if (a.status == Status::TempFail) return found(*job, "tempfail");
      job->ask(name, dns::Type::AAAA, [job, found, why_not](const dns::Answer& aaaa) {
        if (aaaa.found()) return found(*job, "address");
        found(*job, aaaa.status == Status::TempFail ? "tempfail" : why_not);
      });
    });
  };
  if (!mx_first) return addresses("none");
  job->ask(name, dns::Type::MX, [job, found, addresses](const dns::Answer& mx) {
    if (mx.found()) return found(*job, dns::isNullMx(mx.mx) ? "nullmx" : "mx");
    if (mx.status == Status::TempFail) return found(*job, "tempfail");
    if (mx.status == Status::NxDomain) return found(*job, "none");
    addresses("none");
  });
}

enum class Which { Sender, Recipient };

class RejectUnknownDomain final : public Check {
 public:
  RejectUnknownDomain(std::string rule, Which which) : rule_(std::move(rule)), which_(which) {}

  void run(const PolicyContext& ctx, Done done) const override {
    const std::string& address = which_ == Which::Sender ? ctx.sender : ctx.recipient;
    MailAddress a(address);
    if (address.empty() || !a.hasDomain() || a.domain().empty() || a.domain().front() == '[' ||
        ctx.resolver == nullptr) {
      return done(dunno());
    }
    std::string domain = dns::normalizeName(a.domain());
    // Our own domains are never looked up (Postfix: "not final destination for" them).
    decideWithCallbacks(
        ctx,
        [&ctx, domain] {
          return ctx.is_our_destination && ctx.is_our_destination(domain)
                     ? decide(Decision::Kind::Permit, "ours")
                     : dunno();
        },
        [this, &ctx, domain, address, done = std::move(done)](Decision ours) mutable {
          if (ours.kind == Decision::Kind::Permit) return done(dunno());
          auto job = DnsJob::start(ctx, std::move(done));
          lookUpMailDomain(job, domain, true,
                           [this, domain, address](DnsJob& j, std::string_view kind) {
                             j.finish(verdict(kind, domain, address));
                           });
        });
  }

 private:
  Decision verdict(std::string_view kind, const std::string& domain,
                   const std::string& address) const {
    bool sender = which_ == Which::Sender;
    std::string who = fmt::format("<{}>: {} address rejected", address,
                                  sender ? "Sender" : "Recipient");
    if (kind == "mx" || kind == "address") return dunno();
    if (kind == "nullmx") {
      return decide(Decision::Kind::Reject, rule_, sender ? 550 : 556, sender ? "5.7.27" : "5.1.10",
                    fmt::format("{}: Domain {} does not accept mail (nullMX)", who, domain));
    }
    return decide(Decision::Kind::Defer, rule_, 450, sender ? "4.1.8" : "4.1.2",
                  fmt::format("{}: Domain not found", who));
  }

  std::string rule_;
  Which which_;
};

class RejectUnknownHeloHostname final : public Check {
 public:
  explicit RejectUnknownHeloHostname(std::string rule) : rule_(std::move(rule)) {}

  void run(const PolicyContext& ctx, Done done) const override {
    std::string helo(trim(ctx.helo));
    if (helo.empty() || helo.front() == '[' || ctx.resolver == nullptr ||
        dns::reverseName(helo)) {  // an address literal or a bare address: nothing to look up
      return done(dunno());
    }
    if (!dns::checkQueryName(helo)) {  // what cannot exist is not found (invalid_hostname's job)
      return done(refusal(helo));
    }
    auto job = DnsJob::start(ctx, std::move(done));
    lookUpMailDomain(job, dns::normalizeName(helo), false,
                     [this, helo](DnsJob& j, std::string_view kind) {
                       if (kind == "address") return j.finish(dunno());
                       // A name with only an MX counts too (Postfix looks for A, then MX).
                       std::string name = dns::normalizeName(helo);
                       j.ask(name, dns::Type::MX, [this, &j, helo](const dns::Answer& mx) {
                         j.finish(mx.found() ? dunno() : refusal(helo));
                       });
                     });
  }

 private:
  Decision refusal(const std::string& helo) const {
    return decide(Decision::Kind::Defer, rule_, 450, "4.7.1",
                  fmt::format("<{}>: Helo command rejected: Host not found", helo));
  }
  std::string rule_;
};

// The client's names from the DNS: the PTR names of its address, and whether one of them
// resolves back to it.
class RejectUnknownClient final : public Check {
 public:
  RejectUnknownClient(std::string rule, bool confirm) : rule_(std::move(rule)), confirm_(confirm) {}

  void run(const PolicyContext& ctx, Done done) const override {
    using NS = ClientFacts::NameStatus;
    NS known = ctx.client.client_name_status;
    if (known != NS::NotLooked) {
      bool ok = known == NS::Verified || (!confirm_ && known == NS::NotConfirmed);
      return done(ok ? dunno() : refusal(ctx));
    }
    auto ptr_name = dns::reverseName(ctx.client_ip);
    if (!ptr_name || ctx.resolver == nullptr) return done(dunno());
    auto job = DnsJob::start(ctx, std::move(done));
    job->ask(*ptr_name, dns::Type::PTR, [this, job](const dns::Answer& ptr) {
      if (ptr.status == Status::TempFail) return job->finish(refusal(job->ctx()));
      if (!ptr.found() || ptr.ptr.empty()) return job->finish(refusal(job->ctx()));
      if (!confirm_) return job->finish(dunno());
      auto names = std::make_shared<std::vector<std::string>>(ptr.ptr);
      if (names->size() > MaxPtrNames) names->resize(MaxPtrNames);
      confirmNext(job, names, 0);
    });
  }

 private:
  // Tries the PTR names in turn: one whose addresses hold the client's confirms it.
  void confirmNext(std::shared_ptr<DnsJob> job, std::shared_ptr<std::vector<std::string>> names,
                   size_t i) const {
    if (i == names->size()) return job->finish(refusal(job->ctx()));
    bool v6 = job->ctx().client_ip.find(':') != std::string::npos;
    job->ask((*names)[i], v6 ? dns::Type::AAAA : dns::Type::A,
             [this, job, names, i](const dns::Answer& a) {
               const std::string& ip = job->ctx().client_ip;
               if (a.found() && std::find(a.addresses.begin(), a.addresses.end(), ip) !=
                                    a.addresses.end()) {
                 return job->finish(dunno());
               }
               confirmNext(job, names, i + 1);
             });
  }

  // 450 for a DNS failure and for a missing name alike (unknown_client_reject_code).
  Decision refusal(const PolicyContext& ctx) const {
    return decide(Decision::Kind::Defer, rule_, 450, "4.7.25",
                  fmt::format("Client host rejected: cannot find your {}hostname, [{}]",
                              confirm_ ? "" : "reverse ", ctx.client_ip));
  }

  std::string rule_;
  bool confirm_;  // reject_unknown_client_hostname; false: _reverse_client_hostname
};

}  // namespace

Result<CheckPtr> makeRejectUnknownSenderDomain(const CheckArgs& a) {
  return CheckPtr(std::make_unique<RejectUnknownDomain>(std::string(a.name), Which::Sender));
}
Result<CheckPtr> makeRejectUnknownRecipientDomain(const CheckArgs& a) {
  return CheckPtr(std::make_unique<RejectUnknownDomain>(std::string(a.name), Which::Recipient));
}
Result<CheckPtr> makeRejectUnknownHeloHostname(const CheckArgs& a) {
  return CheckPtr(std::make_unique<RejectUnknownHeloHostname>(std::string(a.name)));
}
Result<CheckPtr> makeRejectUnknownClientHostname(const CheckArgs& a) {
  return CheckPtr(std::make_unique<RejectUnknownClient>(std::string(a.name), true));
}
Result<CheckPtr> makeRejectUnknownReverseClientHostname(const CheckArgs& a) {
  return CheckPtr(std::make_unique<RejectUnknownClient>(std::string(a.name), false));
}

}  // namespace petrel::policy::checks
