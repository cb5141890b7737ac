// check_greylist: built-in greylisting (postgrey's algorithm, policy/greylist.h) as a check of
// its own, so that its place in a restriction list is the admin's (usually after
// reject_unauth_destination and the DNS lists, which makes it Postfix+postgrey's
// DEFER_IF_PERMIT in effect).
//
// Answers: 450 4.2.0 "<rcpt>: Recipient address rejected: Greylisted, try again in N seconds"
// for a new or too early triplet (4.2.0 as postgrey sends it to Postfix >= 2.3); dunno once the
// triplet passed or its network is auto-whitelisted; 451 4.3.0 when the store or a mynetworks
// table fails (never a silent permit). relay.mynetworks clients and authenticated clients are
// never greylisted, wherever the check stands. Without a recipient (the data lists) there is no
// triplet, and the check answers dunno.
//
// The store blocks (SQLite), so its work always goes through PolicyContext::offload; the
// Greylist (settings, store, clock, counters) is shared with the snapshot that built the check.
#include <fmt/format.h>

#include "checks.h"

namespace petrel::policy::checks {

namespace {

class CheckGreylist final : public Check {
 public:
  CheckGreylist(std::string rule, std::shared_ptr<const Greylist> greylist,
                std::shared_ptr<const Mynetworks> networks)
      : rule_(std::move(rule)), greylist_(std::move(greylist)), networks_(std::move(networks)) {}

  void run(const PolicyContext& ctx, Done done) const override {
    if (ctx.recipient.empty()) {
      done(dunno());
      return;
    }
    if (!ctx.sasl_user.empty() || networks_->blocks.contains(ctx.client_ip)) {
      greylist_->counters->skipped++;
      done(dunno());
      return;
    }
    std::optional<Triplet> triplet =
        makeTriplet(ctx.client_ip, ctx.sender, ctx.recipient, greylist_->settings);
    if (!triplet) {  // not an address (a tool's made-up client): nothing to key on
      done(dunno());
      return;
    }
    auto state = std::make_shared<Visit>();
    state->triplet = std::move(*triplet);
    state->client_ip = ctx.client_ip;
    state->recipient = ctx.recipient;
    // A known correspondent: answered here from the store's cache, without a pool hop.
    if (quickVisit(*greylist_, *networks_, *state)) {
      done(decision(*state));
      return;
    }
    auto work = [greylist = greylist_, networks = networks_, state] {
      state->outcome = visit(*greylist, *networks, *state);
    };
    if (!ctx.offload) {
      work();
      done(decision(*state));
      return;
    }
    ctx.offload(std::move(work), [this, state, done = std::move(done)] { done(decision(*state)); });
  }
  bool blocking() const override { return true; }

 private:
  enum class Outcome { Skipped, Answered, MynetworksFailed, StoreFailed };
  struct Visit {
    Triplet triplet;
    std::string client_ip;
    std::string recipient;  // as written, for the reply text
    Outcome outcome = Outcome::Skipped;
    GreylistAnswer answer;
  };

  // On the loop: decides when nothing may block (no mynetworks table, or one in memory) and
  // the store's cache knows the triplet passed; false: visit() on the pool.
  static bool quickVisit(const Greylist& greylist, const Mynetworks& networks, Visit& v) {
    if (networks.table && networks.table->blocking()) return false;
    if (networks.table) {
      lookup::LookupResult r = networks.table->lookup(v.client_ip);
      if (r.status == lookup::LookupStatus::Found) {
        greylist.counters->skipped++;
        v.outcome = Outcome::Skipped;
        return true;
      }
      if (r.status != lookup::LookupStatus::NotFound) {
        v.outcome = Outcome::MynetworksFailed;
        return true;
      }
    }
    std::optional<GreylistAnswer> answer =
        greylist.store->visitCached(v.triplet, greylist.settings, greylist.clock());
    if (!answer) return false;
    v.answer = *answer;
    v.outcome = Outcome::Answered;
    greylist.counters->cached++;
    count(*greylist.counters, answer->kind);
    return true;
  }

  static void count(GreylistCounters& c, GreylistAnswer::Kind kind) {
    switch (kind) {
      case GreylistAnswer::Kind::DeferNew: c.defer_new++; break;
      case GreylistAnswer::Kind::DeferEarly: c.defer_early++; break;
      case GreylistAnswer::Kind::Pass: c.pass++; break;
      case GreylistAnswer::Kind::Whitelisted: c.whitelisted++; break;
    }
  }

  // On the pool: the mynetworks table (when relay.mynetworks is one), then the store.
  static Outcome visit(const Greylist& greylist, const Mynetworks& networks, Visit& v) {
    if (networks.table) {
      lookup::LookupResult r = networks.table->lookup(v.client_ip);
      if (r.status == lookup::LookupStatus::Found) {
        greylist.counters->skipped++;
        return Outcome::Skipped;
      }
      if (r.status != lookup::LookupStatus::NotFound) return Outcome::MynetworksFailed;
    }
    auto answer =
        greylist.store->visit(v.triplet, greylist.settings, greylist.clock(), greylist.record);
    if (!answer) {
      greylist.counters->errors++;
      return Outcome::StoreFailed;
    }
    v.answer = *answer;
    count(*greylist.counters, answer->kind);
    return Outcome::Answered;
  }

  Decision decision(const Visit& v) const {
    switch (v.outcome) {
      case Outcome::Skipped: return dunno();
      case Outcome::MynetworksFailed:
      case Outcome::StoreFailed:
        // Postfix reject_dict_retry names what the list checks: here the recipient.
        return decide(Decision::Kind::Defer, rule_, 451, "4.3.0",
                      fmt::format("<{}>: Temporary lookup failure", v.recipient));
      case Outcome::Answered: break;
    }
    if (!v.answer.deferred()) return dunno();
    return decide(Decision::Kind::Defer, rule_, 450, "4.2.0",
                  fmt::format("<{}>: Recipient address rejected: Greylisted, try again in {} "
                              "second{}",
                              v.recipient, v.answer.wait, v.answer.wait == 1 ? "" : "s"));
  }

  std::string rule_;
  std::shared_ptr<const Greylist> greylist_;
  std::shared_ptr<const Mynetworks> networks_;
};

}  // namespace

Result<CheckPtr> makeCheckGreylist(const CheckArgs& args) {
  if (!args.env.greylist) {
    return Error::config(
        "check_greylist: greylisting is not enabled (set greylisting.enabled: true)");
  }
  return CheckPtr(std::make_unique<CheckGreylist>(std::string(args.name), args.env.greylist,
                                                  args.env.mynetworks));
}

}  // namespace petrel::policy::checks
