// SPF (RFC 7208) in the restriction lists: reject_spf_fail, defer_spf_temperror,
// reject_spf_permerror and check_spf. Each evaluates the MAIL FROM identity with
// spf::checkHost (the HELO identity, postmaster@HELO, for the null sender) on the context's
// resolver; mynetworks clients (the address blocks, or a table that answers without blocking)
// and authenticated clients are never checked, nor is a stage without a sender or HELO name.
//
//   reject_spf_fail       fail       -> 550 5.7.23 (RFC 7372) with the domain's explanation
//   defer_spf_temperror   temperror  -> 451 4.4.3 (RFC 7208 8.6)
//   reject_spf_permerror  permerror  -> 550 5.7.24 (RFC 7372)
//   check_spf             any        -> no decision; a Received-SPF: field (RFC 7208 9.1)
// Every other result lets the next check decide. What comes from the DNS (explanation,
// reasons) is bounded and stripped of control characters before it goes into a reply or a
// header.
//
// What it does not do: remember a result across checks or recipients (each check evaluates
// again; the resolver's cache answers the repeats). Authentication-Results is written by the
// content pass (server/authentication_stage.cc) from check_spf's AuthResult action.
#include <fmt/format.h>

#include <memory>

#include "checks.h"
#include "petrel/core/strings.h"
#include "petrel/spf/auth_results.h"
#include "petrel/spf/check_host.h"

namespace petrel::policy::checks {

namespace {

constexpr size_t MaxText = 300;

enum class Kind { RejectFail, DeferTempError, RejectPermError, Record };

std::string clean(std::string_view s, size_t max = MaxText) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? ' ' : c;
  }
  if (out.size() > max) out.resize(max);
  return out;
}

class SpfCheck final : public Check {
 public:
  SpfCheck(std::string rule, Kind kind, std::shared_ptr<const Mynetworks> networks)
      : rule_(std::move(rule)), kind_(kind), networks_(std::move(networks)) {}

  void run(const PolicyContext& ctx, Done done) const override {
    if (!applies(ctx)) {
      done(dunno());
      return;
    }
    auto state = std::make_shared<State>();
    state->self = state;
    state->done = std::move(done);
    state->helo_identity = ctx.sender.empty();
    state->request = spf::mailFromRequest(ctx.client_ip, ctx.sender, ctx.helo);
    State* s = state.get();
    // The evaluation answers exactly once (every query ends within the resolver's timeouts);
    // `self` keeps the state alive until then.
    s->evaluation = spf::checkHost(*ctx.resolver, s->request,
                                   [this, s](spf::Report r) { s->finish(decision(*s, r)); });
  }

 private:
  struct State {
    Done done;
    spf::Request request;
    bool helo_identity = false;
    spf::EvaluationPtr evaluation;
    std::shared_ptr<State> self;

    void finish(Decision d) {
      std::shared_ptr<State> keep = std::move(self);
      auto answer = std::move(done);
      answer(std::move(d));
    }
  };

  bool applies(const PolicyContext& ctx) const {
    if (ctx.resolver == nullptr || !ctx.sasl_user.empty()) return false;
    if (ctx.sender.empty() && ctx.helo.empty()) return false;
    if (networks_->blocks.contains(ctx.client_ip)) return false;
    const lookup::TablePtr& table = networks_->table;
    if (table && !table->blocking() &&
        table->lookup(ctx.client_ip).status == lookup::LookupStatus::Found) {
      return false;
    }
    return true;
  }

  // "<bob@example.org>: Sender address rejected" / "<helo.example>: Helo command rejected"
  static std::string subject(const State& s) {
    return s.helo_identity
               ? fmt::format("<{}>: Helo command rejected", clean(s.request.helo, 255))
               : fmt::format("<{}>: Sender address rejected", clean(s.request.sender, 255));
  }

  Decision decision(const State& s, const spf::Report& r) const {
    switch (kind_) {
      case Kind::RejectFail:
        if (r.result != spf::Outcome::Fail) return dunno();
        return decide(Decision::Kind::Reject, rule_, 550, "5.7.23",
                      fmt::format("{}: SPF fail: {}", subject(s),
                                  r.explanation.empty()
                                      ? fmt::format("{} does not designate {} as permitted sender",
                                                    clean(s.request.domain, 255), s.request.ip)
                                      : clean(r.explanation)));
      case Kind::DeferTempError:
        if (r.result != spf::Outcome::TempError) return dunno();
        return decide(Decision::Kind::Defer, rule_, 451, "4.4.3",
                      fmt::format("{}: SPF temporary error: {}", subject(s), clean(r.problem)));
      case Kind::RejectPermError:
        if (r.result != spf::Outcome::PermError) return dunno();
        return decide(Decision::Kind::Reject, rule_, 550, "5.7.24",
                      fmt::format("{}: SPF permanent error: {}", subject(s), clean(r.problem)));
      case Kind::Record: {
        Decision d = dunno();
        d.actions.push_back({PolicyAction::Kind::AddHeader, receivedSpf(s, r)});
        d.actions.push_back({PolicyAction::Kind::AuthResult, authResult(s, r)});
        return d;
      }
    }
    return dunno();
  }

  static std::string authResult(const State& s, const spf::Report& r) {
    return spf::authResultsPart(r.result, s.helo_identity, s.request.domain);
  }

  // RFC 7208 9.1: result, a comment, then key=value pairs.
  static std::string receivedSpf(const State& s, const spf::Report& r) {
    std::string comment;
    switch (r.result) {
      case spf::Outcome::Pass:
      case spf::Outcome::Fail:
      case spf::Outcome::SoftFail:
      case spf::Outcome::Neutral:
        comment = fmt::format("domain of {} {} {} as permitted sender", s.request.domain,
                              r.result == spf::Outcome::Pass      ? "designates"
                              : r.result == spf::Outcome::Neutral ? "neither permits nor denies"
                                                                  : "does not designate",
                              s.request.ip);
        break;
      case spf::Outcome::None:
        comment = fmt::format("{}: no SPF record", s.request.domain);
        break;
      default:
        comment = r.problem;
        break;
    }
    comment = clean(comment, 200);
    for (char& c : comment) {
      if (c == '(' || c == ')' || c == '\\') c = ' ';
    }
    return fmt::format("Received-SPF: {} ({}) client-ip={}; envelope-from={}; helo={}; identity={}",
                       spf::outcomeName(r.result), comment, s.request.ip,
                       spf::headerValue(s.request.sender),
                       spf::headerValue(s.request.helo.empty() ? "unknown" : s.request.helo),
                       s.helo_identity ? "helo" : "mailfrom");
  }

  std::string rule_;
  Kind kind_;
  std::shared_ptr<const Mynetworks> networks_;
};

Result<CheckPtr> make(const CheckArgs& args, Kind kind) {
  return CheckPtr(std::make_unique<SpfCheck>(std::string(args.name), kind, args.env.mynetworks));
}

}  // namespace

Result<CheckPtr> makeRejectSpfFail(const CheckArgs& a) { return make(a, Kind::RejectFail); }
Result<CheckPtr> makeDeferSpfTempError(const CheckArgs& a) { return make(a, Kind::DeferTempError); }
Result<CheckPtr> makeRejectSpfPermError(const CheckArgs& a) {
  return make(a, Kind::RejectPermError);
}
Result<CheckPtr> makeCheckSpf(const CheckArgs& a) { return make(a, Kind::Record); }

}  // namespace petrel::policy::checks
