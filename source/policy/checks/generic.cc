// permit, reject, defer: the unconditional answers that end a list (Postfix's wording and
// codes: 554 5.7.1 Access denied, 450 4.7.1 Try again later); warn_if_reject, which makes the
// next check of its list log what it would have refused (a Warn action) and go on. Also the
// reply names the families share (clientNamaddr, stageReplyName).
#include <fmt/format.h>

#include "checks.h"

namespace petrel::policy::checks {

std::string clientNamaddr(const PolicyContext& ctx) {
  std::string name = ctx.client.client_name.empty() ? "unknown" : ctx.client.client_name;
  for (char& c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 32 || u == 127) c = '?';
  }
  return fmt::format("{}[{}]", name, ctx.client_ip);
}

std::string stageReplyName(Stage stage, const PolicyContext& ctx) {
  switch (stage) {
    case Stage::Client: return clientNamaddr(ctx);
    case Stage::Helo: return ctx.helo;
    case Stage::Sender: return ctx.sender;
    case Stage::Recipient: return ctx.recipient;
    case Stage::Data: return "DATA";
    case Stage::EndOfData: return "END-OF-MESSAGE";
  }
  return "";
}

namespace {

class Fixed final : public Check {
 public:
  explicit Fixed(Decision decision) : decision_(std::move(decision)) {}
  void run(const PolicyContext&, Done done) const override { done(decision_); }

 private:
  Decision decision_;
};

// Stands where "warn_if_reject" was written; RestrictionList::parse replaces it and the next
// check by a WarnInsteadOfRejecting. Alone (a check validated on its own) it does nothing.
class WarnIfRejectMarker final : public Check {
 public:
  void run(const PolicyContext&, Done done) const override { done(dunno()); }
};

class WarnInsteadOfRejecting final : public Check {
 public:
  explicit WarnInsteadOfRejecting(std::shared_ptr<const Check> check) : check_(std::move(check)) {}
  void run(const PolicyContext& ctx, Done done) const override {
    check_->run(ctx, [done = std::move(done)](Decision d) {
      // A pending DEFER_IF_PERMIT/REJECT is a refusal for later: warned about, not kept (as
      // Postfix's warn_if_reject does with its deferrals).
      bool pending = d.pending != Decision::Pending::None;
      if (d.kind != Decision::Kind::Reject && d.kind != Decision::Kind::Defer && !pending) {
        return done(std::move(d));
      }
      Decision go_on = dunno();
      go_on.actions = std::move(d.actions);
      go_on.actions.push_back(
          {PolicyAction::Kind::Warn, fmt::format("{} {} {}", d.code, d.enhanced, d.text)});
      go_on.rule = "warn_if_reject " + d.rule;
      done(std::move(go_on));
    });
  }
  bool blocking() const override { return check_->blocking(); }

 private:
  std::shared_ptr<const Check> check_;
};

}  // namespace

Result<CheckPtr> makeWarnIfReject(const CheckArgs&) {
  return CheckPtr(std::make_unique<WarnIfRejectMarker>());
}

bool isWarnIfReject(const Check& check) {
  return dynamic_cast<const WarnIfRejectMarker*>(&check) != nullptr;
}

CheckPtr warnInsteadOfRejecting(std::shared_ptr<const Check> check) {
  return std::make_unique<WarnInsteadOfRejecting>(std::move(check));
}

Result<CheckPtr> makePermit(const CheckArgs& args) {
  return CheckPtr(std::make_unique<Fixed>(decide(Decision::Kind::Permit, args.name)));
}

Result<CheckPtr> makeReject(const CheckArgs& args) {
  return CheckPtr(std::make_unique<Fixed>(
      decide(Decision::Kind::Reject, args.name, 554, "5.7.1", "Access denied")));
}

Result<CheckPtr> makeDefer(const CheckArgs& args) {
  return CheckPtr(std::make_unique<Fixed>(
      decide(Decision::Kind::Defer, args.name, 450, "4.7.1", "Try again later")));
}

}  // namespace petrel::policy::checks
