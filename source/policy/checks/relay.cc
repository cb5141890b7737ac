// Who may relay and who may send as whom: permit_mynetworks, permit_sasl_authenticated,
// reject_unauth_destination, reject_sender_login_mismatch (Postfix postconf(5) semantics and
// replies). Domains and sender owners come through PolicyContext's callbacks; the only lookup
// here is a mynetworks table, on the pool when it may block.
#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "checks.h"
#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"

namespace petrel::policy::checks {

namespace {

// The domain of an address as the destination check sees it: after the last '@', lower-cased
// (local domains are stored lower-case). nullopt for an address without a domain, which
// Postfix treats as local (it would append $myorigin).
std::optional<std::string> domainOf(std::string_view address) {
  MailAddress a(address);
  if (!a.hasDomain()) return std::nullopt;
  return a.lowerDomain();
}

class PermitMynetworks final : public Check {
 public:
  PermitMynetworks(std::string rule, Stage stage, std::shared_ptr<const Mynetworks> networks)
      : rule_(std::move(rule)), stage_(stage), networks_(std::move(networks)) {}

  void run(const PolicyContext& ctx, Done done) const override {
    if (networks_->blocks.contains(ctx.client_ip)) {
      done(decide(Decision::Kind::Permit, rule_));
      return;
    }
    const lookup::TablePtr& table = networks_->table;
    if (!table) {
      done(dunno());
      return;
    }
    if (!table->blocking() || !ctx.offload) {
      done(fromTable(table->lookup(ctx.client_ip), stageReplyName(stage_, ctx)));
      return;
    }
    auto answer = std::make_shared<lookup::LookupResult>();
    ctx.offload([table, answer, ip = ctx.client_ip] { *answer = table->lookup(ip); },
                [this, answer, name = stageReplyName(stage_, ctx), done = std::move(done)] {
                  done(fromTable(*answer, name));
                });
  }
  bool blocking() const override { return networks_->table && networks_->table->blocking(); }

 private:
  // Postfix reject_dict_retry: "<reply name of the list>: Temporary lookup failure".
  Decision fromTable(const lookup::LookupResult& r, const std::string& reply_name) const {
    if (r.status == lookup::LookupStatus::Found) return decide(Decision::Kind::Permit, rule_);
    if (r.status == lookup::LookupStatus::NotFound) return dunno();
    return decide(Decision::Kind::Defer, rule_, 451, "4.3.0",
                  fmt::format("<{}>: Temporary lookup failure", reply_name));
  }

  std::string rule_;
  Stage stage_;
  std::shared_ptr<const Mynetworks> networks_;
};

class PermitSaslAuthenticated final : public Check {
 public:
  explicit PermitSaslAuthenticated(std::string rule) : rule_(std::move(rule)) {}
  void run(const PolicyContext& ctx, Done done) const override {
    done(ctx.sasl_user.empty() ? dunno() : decide(Decision::Kind::Permit, rule_));
  }

 private:
  std::string rule_;
};

class RejectUnauthDestination final : public Check {
 public:
  explicit RejectUnauthDestination(std::string rule) : rule_(std::move(rule)) {}
  // With smtpd_delay_reject every list runs at RCPT, so the destination is known in all of
  // them; at an earlier stage there is no recipient and the check does not apply.
  void run(const PolicyContext& ctx, Done done) const override {
    decideWithCallbacks(ctx, [this, &ctx] { return unauthDestination(ctx, rule_); },
                        std::move(done));
  }

 private:
  std::string rule_;
};

// Postfix smtpd_sender_login_maps semantics.
class RejectSenderLoginMismatch final : public Check {
 public:
  explicit RejectSenderLoginMismatch(std::string rule) : rule_(std::move(rule)) {}
  void run(const PolicyContext& ctx, Done done) const override {
    decideWithCallbacks(ctx, [this, &ctx] { return evaluate(ctx); }, std::move(done));
  }

 private:
  Decision evaluate(const PolicyContext& ctx) const {
    if (ctx.sender.empty()) {
      return dunno();  // the null sender belongs to nobody (bounces, RFC 5321 4.5.5)
    }
    std::vector<std::string> owners;
    if (ctx.sender_owners) {
      owners = ctx.sender_owners(ctx.sender);
    }
    if (ctx.sasl_user.empty()) {
      if (owners.empty()) {
        return dunno();
      }
      return decide(Decision::Kind::Reject, rule_, 553, "5.7.1",
                    fmt::format("<{}>: Sender address rejected: not logged in", ctx.sender));
    }
    // Login names compare without case, as Postfix does.
    bool owned = std::any_of(owners.begin(), owners.end(), [&](const std::string& owner) {
      return iequals(trim(owner), ctx.sasl_user);
    });
    if (owned) {
      return dunno();
    }
    return decide(Decision::Kind::Reject, rule_, 553, "5.7.1",
                  fmt::format("<{}>: Sender address rejected: not owned by user {}", ctx.sender,
                              ctx.sasl_user));
  }

  std::string rule_;
};

}  // namespace

Decision unauthDestination(const PolicyContext& ctx, std::string_view rule) {
  std::optional<std::string> domain = domainOf(ctx.recipient);
  if (!domain) {
    return dunno();
  }
  // No callback means nothing is ours: refusing is the safe mistake.
  if (ctx.is_our_destination && ctx.is_our_destination(*domain)) {
    return dunno();
  }
  return decide(Decision::Kind::Reject, rule, 554, "5.7.1",
                fmt::format("<{}>: Relay access denied", ctx.recipient));
}

Result<CheckPtr> makePermitMynetworks(const CheckArgs& args) {
  return CheckPtr(
      std::make_unique<PermitMynetworks>(std::string(args.name), args.stage, args.env.mynetworks));
}

Result<CheckPtr> makePermitSaslAuthenticated(const CheckArgs& args) {
  return CheckPtr(std::make_unique<PermitSaslAuthenticated>(std::string(args.name)));
}

Result<CheckPtr> makeRejectUnauthDestination(const CheckArgs& args) {
  return CheckPtr(std::make_unique<RejectUnauthDestination>(std::string(args.name)));
}

Result<CheckPtr> makeRejectSenderLoginMismatch(const CheckArgs& args) {
  return CheckPtr(std::make_unique<RejectSenderLoginMismatch>(std::string(args.name)));
}

}  // namespace petrel::policy::checks
