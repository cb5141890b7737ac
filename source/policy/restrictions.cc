// Postfix-style restriction lists: per SMTP stage an ordered list of checks, evaluated until
// one of them decides (Permit, Reject or Defer); a check that does not apply says Dunno and
// the next one runs.
//
// Owns the order and the one safety net: a recipient-stage list that ends undecided runs
// reject_unauth_destination implicitly, so leaving it out cannot make an open relay (Postfix
// gets the same guarantee from smtpd_relay_restrictions). Each stage is evaluated on its own;
// a Permit ends only its own list, as in Postfix, and the session driver must still run the
// recipient stage after a client-stage Permit. The checks themselves live in checks/, one
// family per file, and are found through the registry.
#include "petrel/policy/restrictions.h"

#include <algorithm>

#include "checks/checks.h"

namespace petrel::policy {

Result<RestrictionList> RestrictionList::parse(Stage stage, const std::vector<std::string>& checks,
                                               CheckEnvironment env) {
  RestrictionList result;
  bool warn_next = false;  // "warn_if_reject" came before this check
  for (const std::string& text : checks) {
    auto check = makeCheck(text, stage, env);
    if (!check) return check.error();
    std::shared_ptr<const Check> made(std::move(check.value()));
    if (checks::isWarnIfReject(*made)) {
      if (warn_next) return Error::config("warn_if_reject twice in a row");
      warn_next = true;
      continue;
    }
    if (warn_next) made = checks::warnInsteadOfRejecting(std::move(made));
    warn_next = false;
    result.impl_.push_back(std::move(made));
  }
  if (warn_next) return Error::config("warn_if_reject must be followed by a check");
  result.stage_ = stage;
  result.checks_ = checks;
  result.mynetworks_ = env.mynetworks;
  return result;
}

bool RestrictionList::blocking() const {
  return std::any_of(impl_.begin(), impl_.end(),
                     [](const std::shared_ptr<const Check>& c) { return c->blocking(); });
}

// One run through a list. Checks that answer inside run() are taken in a loop rather than by
// recursion, so a long list of synchronous checks uses no stack per check; one that answers
// later resumes the loop from its callback.
class RestrictionList::Evaluation : public std::enable_shared_from_this<Evaluation> {
 public:
  Evaluation(const RestrictionList& list, const PolicyContext& ctx, Done done)
      : list_(&list), ctx_(&ctx), done_(std::move(done)) {}

  void resume() {
    while (next_ < list_->impl_.size()) {
      const Check& check = *list_->impl_[next_++];
      waiting_ = true;
      running_ = true;
      check.run(*ctx_, [self = shared_from_this()](Decision d) { self->answered(std::move(d)); });
      running_ = false;
      if (waiting_) return;  // answers later, through answered()
      if (decided_) return finish();
    }
    if (list_->stage_ != Stage::Recipient || implicit_done_) return finish();
    implicit_done_ = true;
    waiting_ = true;
    running_ = true;
    checks::decideWithCallbacks(
        *ctx_,
        [ctx = ctx_] {
          return checks::unauthDestination(*ctx, "(implicit) reject_unauth_destination");
        },
        [self = shared_from_this()](Decision d) { self->answered(std::move(d)); });
    running_ = false;
    if (!waiting_) finish();
  }

 private:
  void answered(Decision d) {
    waiting_ = false;
    for (PolicyAction& a : d.actions) actions_.push_back(std::move(a));
    if (d.kind != Decision::Kind::Dunno) {
      decision_ = std::move(d);
      decided_ = true;
    }
    if (running_) return;  // resume() goes on
    if (decided_ || implicit_done_) return finish();
    resume();
  }

  void finish() {
    decision_.actions = std::move(actions_);
    Done done = std::move(done_);
    done(std::move(decision_));
  }

  const RestrictionList* list_;
  const PolicyContext* ctx_;
  Done done_;
  size_t next_ = 0;
  bool waiting_ = false;
  bool running_ = false;
  bool decided_ = false;
  bool implicit_done_ = false;  // the recipient list's closing reject_unauth_destination ran
  Decision decision_;
  std::vector<PolicyAction> actions_;
};

void RestrictionList::evaluate(const PolicyContext& ctx, Done done) const {
  std::make_shared<Evaluation>(*this, ctx, std::move(done))->resume();
}

namespace {

struct ListsRun : std::enable_shared_from_this<ListsRun> {
  std::vector<const RestrictionList*> lists;
  const PolicyContext* ctx = nullptr;
  std::function<void(const RestrictionList&, const Decision&)> each;
  std::function<void(Decision)> done;
  size_t next = 0;
  std::vector<PolicyAction> actions;

  // At most one frame per list (a handful): plain recursion is fine here.
  void step() {
    if (next == lists.size()) {
      Decision pass;
      pass.actions = std::move(actions);
      return done(std::move(pass));
    }
    const RestrictionList* list = lists[next++];
    list->evaluate(*ctx, [self = shared_from_this(), list](Decision d) {
      if (self->each) self->each(*list, d);
      for (PolicyAction& a : d.actions) self->actions.push_back(std::move(a));
      if (d.kind == Decision::Kind::Reject || d.kind == Decision::Kind::Defer) {
        d.actions = std::move(self->actions);
        return self->done(std::move(d));
      }
      self->step();
    });
  }
};

}  // namespace

void evaluateLists(std::vector<const RestrictionList*> lists, const PolicyContext& ctx,
                   std::function<void(const RestrictionList&, const Decision&)> each,
                   std::function<void(Decision)> done) {
  auto run = std::make_shared<ListsRun>();
  run->lists = std::move(lists);
  run->ctx = &ctx;
  run->each = std::move(each);
  run->done = std::move(done);
  run->step();
}

}  // namespace petrel::policy
