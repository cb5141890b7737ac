// Checks of names against the DNS and the address tables (Postfix postconf(5), with the reply
// codes and texts of its smtpd_check.c at their default settings):
//   reject_unknown_helo_hostname          HELO name without A, AAAA or MX: 450 4.7.1
//   reject_unknown_sender_domain          MAIL FROM domain without MX, A or AAAA: 450 4.1.8;
//                                         a null MX (RFC 7505): 550 5.7.27
//   reject_unknown_recipient_domain       the same for RCPT TO: 450 4.1.2; null MX 556 5.1.10
//   reject_unknown_client_hostname        no forward-confirmed client name: 450 4.7.25
//   reject_unknown_reverse_client_hostname  no PTR name for the client: 450 4.7.1
//   reject_unlisted_sender / _recipient   a local-domain address that is no mailbox or alias:
//                                         550 5.1.0 / 550 5.1.1
//   permit_mx_backup                      permit when the recipient domain lists us as an MX
//                                         host, but not among its primary ones
//
// DNS answers come from PolicyContext::resolver (the loop's, cached there); a context without
// one (`petrel route` has no DNS) makes every DNS check answer dunno. A temporary DNS failure
// is a 450 (Defer), never a permanent reject. Postfix's defer_if_permit / defer_if_reject
// (the default *_tempfail_action) are not modelled: the temporary failure defers at once.
// The client name checks read what the session driver looked up at connect (ClientFacts);
// with smtp.peername_lookup off (NotLooked) they answer dunno rather than refuse everyone.
//
// Not here: the reply codes are Postfix's defaults (unknown_hostname_reject_code,
// unknown_address_reject_code, unknown_client_reject_code = 450); no config changes them yet.
// permit_mx_backup_networks (CheckEnvironment::mx_backup_networks) makes permit_mx_backup
// also ask for the primary MX hosts' addresses: it permits only when one is in the networks.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "checks.h"
#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"
#include "petrel/dns/mx.h"
#include "petrel/dns/resolver.h"

namespace petrel::policy::checks {

namespace {

using dns::Answer;

// MX hosts looked at by permit_mx_backup: a bound on the queries one RCPT may cost.
constexpr size_t MaxMxHosts = 10;

// Runs `compute` where the context's callbacks may block (the pool when they do), then
// `then` with its value on the check's loop.
template <typename T, typename Compute, typename Then>
void afterCallbacks(const PolicyContext& ctx, Compute compute, Then then) {
  if (!ctx.callbacks_block || !ctx.offload) {
    then(compute());
    return;
  }
  auto value = std::make_shared<T>();
  ctx.offload([value, compute = std::move(compute)] { *value = compute(); },
              [value, then = std::move(then)]() mutable { then(std::move(*value)); });
}

// Queries asked one after another on the context's resolver (Postfix's dns_lookup_l asks its
// types in turn, too). `on_answer` sees each answer and says whether to go on; `finished`
// runs once, after the last query or the first `false`. The chain keeps itself alive through
// the callback of its query in flight, and holds that query's handle.
class QueryChain : public std::enable_shared_from_this<QueryChain> {
 public:
  struct Step {
    std::string name;
    dns::Type type;
  };
  using OnAnswer = std::function<bool(const Step&, const Answer&)>;

  static void start(dns::Resolver& resolver, std::vector<Step> steps, OnAnswer on_answer,
                    std::function<void()> finished) {
    auto chain = std::make_shared<QueryChain>(resolver, std::move(steps), std::move(on_answer),
                                              std::move(finished));
    chain->next();
  }

  QueryChain(dns::Resolver& resolver, std::vector<Step> steps, OnAnswer on_answer,
             std::function<void()> finished)
      : resolver_(resolver), steps_(std::move(steps)), on_answer_(std::move(on_answer)),
        finished_(std::move(finished)) {}

 private:
  void next() {
    if (at_ == steps_.size()) return finish();
    const Step& step = steps_[at_];
    pending_ = resolver_.query(step.name, step.type, [self = shared_from_this()](Answer a) {
      const Step& asked = self->steps_[self->at_++];
      if (!self->on_answer_(asked, a)) return self->finish();
      self->next();
    });
  }

  void finish() {
    auto finished = std::move(finished_);
    finished_ = nullptr;
    if (finished) finished();
    // The handle goes last: destroying it drops the callback that holds this chain.
    pending_.reset();
  }

  dns::Resolver& resolver_;
  std::vector<Step> steps_;
  size_t at_ = 0;
  OnAnswer on_answer_;
  std::function<void()> finished_;
  dns::QueryHandlePtr pending_;
};

// What a name's records say, as Postfix's dns_lookup_l sums them up: found as soon as one
// type is; NXDOMAIN ends the walk (no type can exist then). A temporary failure ends it too,
// as a temporary failure: Postfix goes on with the next type, but a zone that fails for one
// type seldom answers another, and a silent server would cost one resolver timeout per type
// (the answer is a 450 either way, never a reject).
enum class NameOutcome { Found, NullMx, NotFound, TempFail };

struct NameWalk {
  NameOutcome outcome = NameOutcome::NotFound;
  bool soft = false;
};

// Looks `name` up with `types` in turn and calls `done` with the outcome. A null MX (RFC 7505)
// ends the walk as NullMx.
void lookUpName(dns::Resolver& resolver, const std::string& name, std::vector<dns::Type> types,
                std::function<void(NameOutcome)> done) {
  std::vector<QueryChain::Step> steps;
  for (dns::Type t : types) steps.push_back({name, t});
  auto walk = std::make_shared<NameWalk>();
  QueryChain::start(
      resolver, std::move(steps),
      [walk](const QueryChain::Step&, const Answer& a) {
        switch (a.status) {
          case Answer::Status::Found:
            walk->outcome = !a.mx.empty() && dns::isNullMx(a.mx) ? NameOutcome::NullMx
                                                                 : NameOutcome::Found;
            return false;
          case Answer::Status::NxDomain: return false;
          case Answer::Status::NoData: return true;
          case Answer::Status::TempFail: walk->soft = true; return false;
        }
        return true;
      },
      [walk, done = std::move(done)] {
        if (walk->outcome == NameOutcome::NotFound && walk->soft) {
          walk->outcome = NameOutcome::TempFail;
        }
        done(walk->outcome);
      });
}

bool isAddressLiteral(std::string_view domain) {
  return domain.size() >= 2 && domain.front() == '[' && domain.back() == ']';
}

// ---- reject_unknown_helo_hostname ---------------------------------------------------------

class RejectUnknownHeloHostname final : public Check {
 public:
  explicit RejectUnknownHeloHostname(std::string rule) : rule_(std::move(rule)) {}

  void run(const PolicyContext& ctx, Done done) const override {
    // No HELO yet, or an address literal: no name to look up (Postfix skips "[...]").
    if (ctx.helo.empty() || ctx.helo.front() == '[' || ctx.resolver == nullptr) {
      return done(dunno());
    }
    lookUpName(*ctx.resolver, ctx.helo, {dns::Type::A, dns::Type::AAAA, dns::Type::MX},
               [this, helo = ctx.helo, done = std::move(done)](NameOutcome o) {
                 // A null MX is fine for a HELO name: an MTA that sends but takes no mail.
                 if (o == NameOutcome::Found || o == NameOutcome::NullMx) return done(dunno());
                 done(decide(o == NameOutcome::TempFail ? Decision::Kind::Defer
                                                        : Decision::Kind::Reject,
                             rule_, 450, "4.7.1",
                             fmt::format("<{}>: Helo command rejected: Host not found", helo)));
               });
  }

 private:
  std::string rule_;
};

// ---- reject_unknown_sender_domain / reject_unknown_recipient_domain ----------------------

class RejectUnknownDomain final : public Check {
 public:
  RejectUnknownDomain(std::string rule, bool sender) : rule_(std::move(rule)), sender_(sender) {}

  void run(const PolicyContext& ctx, Done done) const override {
    const std::string& address = sender_ ? ctx.sender : ctx.recipient;
    MailAddress a(address);
    // The null sender, a bare local name and an address literal have no domain to look up.
    if (address.empty() || !a.hasDomain() || isAddressLiteral(a.domain()) ||
        ctx.resolver == nullptr) {
      return done(dunno());
    }
    std::string domain = a.lowerDomain();
    // Postfix skips the domains it is the final destination for; ours are known without DNS.
    afterCallbacks<bool>(
        ctx,
        [&ctx, domain] { return ctx.is_our_destination && ctx.is_our_destination(domain); },
        [this, &ctx, address, domain, done = std::move(done)](bool ours) mutable {
          if (ours) return done(dunno());
          lookUpName(*ctx.resolver, domain, {dns::Type::MX, dns::Type::A, dns::Type::AAAA},
                     [this, address, domain, done = std::move(done)](NameOutcome o) {
                       done(decideOn(o, address, domain));
                     });
        });
  }

 private:
  Decision decideOn(NameOutcome o, const std::string& address, const std::string& domain) const {
    const char* what = sender_ ? "Sender" : "Recipient";
    const char* enhanced = sender_ ? "4.1.8" : "4.1.2";
    switch (o) {
      case NameOutcome::Found: return dunno();
      case NameOutcome::NullMx:
        // RFC 7505 4.2 (sender: 550 5.7.27) and 4.1 (recipient: 556 5.1.10).
        return decide(Decision::Kind::Reject, rule_, sender_ ? 550 : 556,
                      sender_ ? "5.7.27" : "5.1.10",
                      fmt::format("<{}>: {} address rejected: Domain {} does not accept mail "
                                  "(nullMX)",
                                  address, what, domain));
      case NameOutcome::NotFound:
        return decide(Decision::Kind::Reject, rule_, 450, enhanced,
                      fmt::format("<{}>: {} address rejected: Domain not found", address, what));
      case NameOutcome::TempFail:
        return decide(Decision::Kind::Defer, rule_, 450, enhanced,
                      fmt::format("<{}>: {} address rejected: Domain not found", address, what));
    }
    return dunno();
  }

  std::string rule_;
  bool sender_;
};

// ---- reject_unknown_client_hostname / reject_unknown_reverse_client_hostname -------------

class RejectUnknownClient final : public Check {
 public:
  RejectUnknownClient(std::string rule, bool reverse) : rule_(std::move(rule)), reverse_(reverse) {}

  void run(const PolicyContext& ctx, Done done) const override {
    using NS = ClientFacts::NameStatus;
    const ClientFacts& c = ctx.client;
    if (c.client_name_status == NS::NotLooked || c.client_name_status == NS::Verified) {
      return done(dunno());
    }
    if (reverse_) {
      // The PTR name exists even when its forward lookup failed or did not confirm it.
      if (c.reverse_client_name != "unknown" && !c.reverse_client_name.empty()) {
        return done(dunno());
      }
      return done(decide(c.client_name_status == NS::TempFail ? Decision::Kind::Defer
                                                              : Decision::Kind::Reject,
                         rule_, 450, "4.7.1",
                         fmt::format("Client host rejected: cannot find your reverse hostname, "
                                     "[{}]",
                                     ctx.client_ip)));
    }
    // RFC 7372 2: 4.7.25, reverse DNS validation failed.
    done(decide(c.client_name_status == NS::TempFail ? Decision::Kind::Defer
                                                     : Decision::Kind::Reject,
                rule_, 450, "4.7.25",
                fmt::format("Client host rejected: cannot find your hostname, [{}]",
                            ctx.client_ip)));
  }

 private:
  std::string rule_;
  bool reverse_;
};

// ---- reject_unlisted_sender / reject_unlisted_recipient -----------------------------------

class RejectUnlisted final : public Check {
 public:
  RejectUnlisted(std::string rule, bool sender) : rule_(std::move(rule)), sender_(sender) {}

  void run(const PolicyContext& ctx, Done done) const override {
    decideWithCallbacks(ctx, [this, &ctx] { return evaluate(ctx); }, std::move(done));
  }

 private:
  Decision evaluate(const PolicyContext& ctx) const {
    const std::string& address = sender_ ? ctx.sender : ctx.recipient;
    if (address.empty() || !ctx.address_listing) return dunno();
    const char* what = sender_ ? "Sender" : "Recipient";
    switch (ctx.address_listing(address)) {
      case AddressListing::Listed:
      case AddressListing::NotOurs: return dunno();
      case AddressListing::Unlisted:
        // Postfix's virtual mailbox class: local domains hold mailboxes, not Unix accounts.
        return decide(Decision::Kind::Reject, rule_, 550, sender_ ? "5.1.0" : "5.1.1",
                      fmt::format("<{}>: {} address rejected: User unknown in virtual mailbox "
                                  "table",
                                  address, what));
      case AddressListing::TempFail:
        return decide(Decision::Kind::Defer, rule_, 451, "4.3.0",
                      fmt::format("<{}>: Temporary lookup failure", address));
    }
    return dunno();
  }

  std::string rule_;
  bool sender_;
};

// ---- permit_mx_backup ---------------------------------------------------------------------

// One run of permit_mx_backup, after the MX answer: are we among the primary MX hosts (then
// the domain should be ours and is not: no permit), else among the backups (permit)?
class MxBackupRun : public std::enable_shared_from_this<MxBackupRun> {
 public:
  MxBackupRun(const PolicyContext& ctx, std::string rule, std::string address,
              std::vector<dns::MxRecord> mx, const CidrList& networks, Check::Done done)
      : ctx_(ctx),
        rule_(std::move(rule)),
        address_(std::move(address)),
        networks_(networks),
        done_(std::move(done)) {
    // Ascending preference; a "." (null MX) names no host.
    std::stable_sort(mx.begin(), mx.end(), [](const auto& a, const auto& b) {
      return a.preference < b.preference;
    });
    for (const auto& r : mx) {
      if (r.exchange == "." || r.exchange.empty()) continue;
      if (hosts_.size() == MaxMxHosts) break;
      (r.preference == mx.front().preference ? primary_ : backup_).push_back(r.exchange);
      hosts_.push_back(r.exchange);
    }
  }

  void start() {
    if (primary_.empty() && backup_.empty()) return finish(dunno());
    // Postfix's i_am_mx: names first, and only without a match the address lookups.
    if (anyNamedUs(primary_)) return finish(dunno());
    // With permit_mx_backup_networks, a backup permit also needs the primaries' addresses.
    if (anyNamedUs(backup_) && !restricted()) {
      return finish(decide(Decision::Kind::Permit, rule_));
    }
    std::vector<QueryChain::Step> steps;
    for (const auto& h : hosts_) {
      steps.push_back({h, dns::Type::A});
      steps.push_back({h, dns::Type::AAAA});
    }
    auto self = shared_from_this();
    QueryChain::start(
        *ctx_.resolver, std::move(steps),
        [self](const QueryChain::Step& step, const Answer& a) {
          // A silent server would cost a timeout per host and type: one is enough to defer.
          if (a.status == Answer::Status::TempFail) {
            self->soft_ = true;
            return false;
          }
          bool primary = std::find(self->primary_.begin(), self->primary_.end(), step.name) !=
                         self->primary_.end();
          for (const auto& ip : a.addresses) {
            if (primary && self->networks_.contains(ip)) self->primary_in_networks_ = true;
          }
          for (const auto& ip : a.addresses) {
            if (self->ctx_.is_our_address && self->ctx_.is_our_address(ip)) {
              self->ours_.push_back(step.name);
              break;
            }
          }
          return true;
        },
        [self] { self->addressesKnown(); });
  }

 private:
  bool anyNamedUs(const std::vector<std::string>& hosts) const {
    return ctx_.is_our_hostname && std::any_of(hosts.begin(), hosts.end(), [this](const auto& h) {
             return ctx_.is_our_hostname(h);
           });
  }

  bool anyOurs(const std::vector<std::string>& hosts) const {
    return std::any_of(hosts.begin(), hosts.end(), [this](const auto& h) {
      return std::find(ours_.begin(), ours_.end(), h) != ours_.end();
    });
  }

  bool restricted() const { return !networks_.blocks().empty(); }

  void addressesKnown() {
    if (anyOurs(primary_)) return finish(dunno());
    if (anyOurs(backup_) || anyNamedUs(backup_)) {
      // Postfix permit_mx_backup_networks: only for domains whose primary MX is one we know.
      if (!restricted() || primary_in_networks_) {
        return finish(decide(Decision::Kind::Permit, rule_));
      }
      if (!soft_) return finish(dunno());
      // A primary's address did not come: it might be in the networks. Fall to the defer.
    }
    if (soft_) {
      // One of the hosts could be us: a later reject (reject_unauth_destination) would be
      // permanent on a temporary failure.
      return finish(decide(Decision::Kind::Defer, rule_, 450, "4.4.4",
                           fmt::format("<{}>: Recipient address rejected: Unable to look up "
                                       "host address",
                                       address_)));
    }
    finish(dunno());
  }

  void finish(Decision d) {
    auto done = std::move(done_);
    done(std::move(d));
  }

  const PolicyContext& ctx_;
  std::string rule_;
  std::string address_;
  const CidrList& networks_;  // permit_mx_backup_networks; owned by the check
  Check::Done done_;
  std::vector<std::string> primary_, backup_, hosts_, ours_;
  bool soft_ = false;
  bool primary_in_networks_ = false;
};

class PermitMxBackup final : public Check {
 public:
  PermitMxBackup(std::string rule, CidrList networks)
      : rule_(std::move(rule)), networks_(std::move(networks)) {}

  void run(const PolicyContext& ctx, Done done) const override {
    if (ctx.recipient.empty()) return done(dunno());
    MailAddress a(ctx.recipient);
    // An address without a domain is local: Postfix permits it.
    if (!a.hasDomain()) return done(decide(Decision::Kind::Permit, rule_));
    // Sender-specified routing ("user%other@domain", "a!b@domain") is never backed up.
    std::string_view local = a.local();
    if (local.find_first_of("%!@") != std::string_view::npos) return done(dunno());
    std::string domain = a.lowerDomain();
    afterCallbacks<bool>(
        ctx,
        [&ctx, domain] { return ctx.is_our_destination && ctx.is_our_destination(domain); },
        [this, &ctx, domain, done = std::move(done)](bool ours) mutable {
          // Our own domains: as permit_auth_destination.
          if (ours) return done(decide(Decision::Kind::Permit, rule_));
          if (isAddressLiteral(domain) || ctx.resolver == nullptr) return done(dunno());
          lookUpMx(ctx, domain, std::move(done));
        });
  }

 private:
  void lookUpMx(const PolicyContext& ctx, const std::string& domain, Done done) const {
    auto answer = std::make_shared<Answer>();
    QueryChain::start(
        *ctx.resolver, {{domain, dns::Type::MX}},
        [answer](const QueryChain::Step&, const Answer& a) {
          *answer = a;
          return false;
        },
        [this, &ctx, answer, done = std::move(done)]() mutable {
          if (answer->status == Answer::Status::TempFail) {
            // Postfix adds dns_strerror(TRY_AGAIN); the resolver's own error names our
            // servers, which is nothing for the client to read.
            return done(decide(Decision::Kind::Defer, rule_, 450, "4.4.4",
                               fmt::format("<{}>: Recipient address rejected: Unable to look up "
                                           "mail exchanger information: Host not found, try "
                                           "again",
                                           ctx.recipient)));
          }
          // No MX at all: nobody is a backup.
          if (!answer->found()) return done(dunno());
          std::make_shared<MxBackupRun>(ctx, rule_, ctx.recipient, std::move(answer->mx),
                                        networks_, std::move(done))
              ->start();
        });
  }

  std::string rule_;
  CidrList networks_;  // permit_mx_backup_networks; empty: no restriction
};

}  // namespace

Result<CheckPtr> makeRejectUnknownHeloHostname(const CheckArgs& args) {
  return CheckPtr(std::make_unique<RejectUnknownHeloHostname>(std::string(args.name)));
}
Result<CheckPtr> makeRejectUnknownSenderDomain(const CheckArgs& args) {
  return CheckPtr(std::make_unique<RejectUnknownDomain>(std::string(args.name), true));
}
Result<CheckPtr> makeRejectUnknownRecipientDomain(const CheckArgs& args) {
  return CheckPtr(std::make_unique<RejectUnknownDomain>(std::string(args.name), false));
}
Result<CheckPtr> makeRejectUnknownClientHostname(const CheckArgs& args) {
  return CheckPtr(std::make_unique<RejectUnknownClient>(std::string(args.name), false));
}
Result<CheckPtr> makeRejectUnknownReverseClientHostname(const CheckArgs& args) {
  return CheckPtr(std::make_unique<RejectUnknownClient>(std::string(args.name), true));
}
Result<CheckPtr> makeRejectUnlistedSender(const CheckArgs& args) {
  return CheckPtr(std::make_unique<RejectUnlisted>(std::string(args.name), true));
}
Result<CheckPtr> makeRejectUnlistedRecipient(const CheckArgs& args) {
  return CheckPtr(std::make_unique<RejectUnlisted>(std::string(args.name), false));
}
Result<CheckPtr> makePermitMxBackup(const CheckArgs& args) {
  return CheckPtr(
      std::make_unique<PermitMxBackup>(std::string(args.name), args.env.mx_backup_networks));
}

}  // namespace petrel::policy::checks
