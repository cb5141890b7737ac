// Postfix-style restriction lists: per SMTP stage an ordered list of checks, evaluated until
// one of them decides (Permit, Reject or Defer); a check that does not apply says Dunno and
// the next one runs.
//
// Owns the order and the one safety net: a recipient-stage list that ends undecided runs
// reject_unauth_destination implicitly, so leaving it out cannot make an open relay (Postfix
// gets the same guarantee from smtpd_relay_restrictions). Each stage is evaluated on its own;
// a Permit ends only its own list, as in Postfix, and the session driver must still run the
// recipient stage after a client-stage Permit. The checks themselves live in checks/, one
// family per file, and are found through the registry. Restriction classes (RestrictionClasses)
// are lists too, run in place of an access map's value.
#include "petrel/policy/restrictions.h"

#include <fmt/format.h>

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
  result.classes_ = env.classes;
  return result;
}

bool RestrictionList::blocking() const {
  return std::any_of(impl_.begin(), impl_.end(),
                     [](const std::shared_ptr<const Check>& c) { return c->blocking(); });
}

namespace {

// A pending DEFER_IF_PERMIT / DEFER_IF_REJECT made into the deferral it stands for.
Decision deferral(Decision pending) {
  pending.kind = Decision::Kind::Defer;
  pending.pending = Decision::Pending::None;
  pending.actions.clear();
  return pending;
}

bool refuses(const Decision& d) {
  return d.kind == Decision::Kind::Reject || d.kind == Decision::Kind::Defer;
}

}  // namespace

// One run through a list. Checks that answer inside run() are taken in a loop rather than by
// recursion, so a long list of synchronous checks uses no stack per check; one that answers
// later resumes the loop from its callback.
//
// It also keeps Postfix's two pending deferrals (smtpd_check.c defer_if_permit and
// defer_if_reject): the first DEFER_IF_REJECT of the list turns a later 5xx reject of the same
// list into its 450; the first DEFER_IF_PERMIT of the stage (carried from list to list by
// evaluateLists) turns the stage's final permit, or its end without a refusal, into its 450.
class RestrictionList::Evaluation : public std::enable_shared_from_this<Evaluation> {
 public:
  enum class Mode { Alone, InStage, Nested };

  Evaluation(const RestrictionList& list, const PolicyContext& ctx, Mode mode,
             std::optional<Decision> defer_if_permit, StageDone done)
      : list_(&list),
        ctx_(&ctx),
        mode_(mode),
        defer_if_permit_(std::move(defer_if_permit)),
        done_(std::move(done)) {}

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
    if (list_->stage_ != Stage::Recipient || list_->is_class_ || implicit_done_) return finish();
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
    d.actions.clear();
    if (d.kind == Decision::Kind::Dunno && d.pending != Decision::Pending::None) {
      // Only the first of each kind counts, as in Postfix.
      std::optional<Decision>& slot =
          d.pending == Decision::Pending::DeferIfPermit ? defer_if_permit_ : defer_if_reject_;
      if (!slot) slot = std::move(d);
    } else if (d.kind != Decision::Kind::Dunno) {
      if (d.kind == Decision::Kind::Reject && defer_if_reject_) {
        d = deferral(std::move(*defer_if_reject_));
        defer_if_reject_.reset();
      }
      decision_ = std::move(d);
      decided_ = true;
    }
    if (running_) return;  // resume() goes on
    if (decided_ || implicit_done_) return finish();
    resume();
  }

  void finish() {
    std::optional<Decision> pending = std::move(defer_if_permit_);
    defer_if_permit_.reset();
    if (pending && !refuses(decision_)) {
      if (mode_ == Mode::Alone || (mode_ == Mode::Nested && decided_)) {
        decision_ = deferral(std::move(*pending));
        pending.reset();
      } else if (mode_ == Mode::Nested) {
        decision_ = std::move(*pending);  // a Dunno, still pending in the caller's list
        pending.reset();
      }
    } else if (mode_ == Mode::Nested && !decided_ && defer_if_reject_) {
      decision_ = std::move(*defer_if_reject_);  // likewise
    }
    if (refuses(decision_)) pending.reset();
    decision_.actions = std::move(actions_);
    StageDone done = std::move(done_);
    done(std::move(decision_), std::move(pending));
  }

  const RestrictionList* list_;
  const PolicyContext* ctx_;
  Mode mode_;
  std::optional<Decision> defer_if_permit_;
  std::optional<Decision> defer_if_reject_;
  StageDone done_;
  size_t next_ = 0;
  bool waiting_ = false;
  bool running_ = false;
  bool decided_ = false;
  bool implicit_done_ = false;  // the recipient list's closing reject_unauth_destination ran
  Decision decision_;
  std::vector<PolicyAction> actions_;
};

void RestrictionList::evaluate(const PolicyContext& ctx, Done done) const {
  std::make_shared<Evaluation>(
      *this, ctx, Evaluation::Mode::Alone, std::nullopt,
      [done = std::move(done)](Decision d, std::optional<Decision>) { done(std::move(d)); })
      ->resume();
}

void RestrictionList::evaluate(const PolicyContext& ctx, std::optional<Decision> defer_if_permit,
                               StageDone done) const {
  std::make_shared<Evaluation>(*this, ctx, Evaluation::Mode::InStage, std::move(defer_if_permit),
                               std::move(done))
      ->resume();
}

void RestrictionList::evaluateNested(const PolicyContext& ctx, Done done) const {
  std::make_shared<Evaluation>(
      *this, ctx, Evaluation::Mode::Nested, std::nullopt,
      [done = std::move(done)](Decision d, std::optional<Decision>) { done(std::move(d)); })
      ->resume();
}

Result<std::shared_ptr<const RestrictionClasses>> RestrictionClasses::build(const Spec& classes,
                                                                            CheckEnvironment env) {
  auto out = std::make_shared<RestrictionClasses>();
  env.classes = out;
  for (const auto& [name, checks] : classes) {
    if (auto problem = nameProblem(name)) {
      return Error::config(fmt::format("restriction class '{}': {}", name, *problem));
    }
    auto list = RestrictionList::parse(Stage::Recipient, checks, env);
    if (!list) {
      return Error::config(fmt::format("restriction class '{}': {}", name, list.error().message()));
    }
    list->is_class_ = true;
    list->classes_.reset();  // its checks see the classes weakly; `out` owns the lists
    out->lists_.emplace(name, std::move(list.value()));
  }
  return std::shared_ptr<const RestrictionClasses>(std::move(out));
}

std::optional<std::string> RestrictionClasses::nameProblem(std::string_view name) {
  if (name.empty() || name.find_first_of(" \t,:") != std::string_view::npos) {
    return "not a valid class name";
  }
  // A table value is read as an action first, and a class named like a check would be
  // confusing at best.
  if (std::any_of(checkTypes().begin(), checkTypes().end(),
                  [name](const CheckType& t) { return t.name == name; }) ||
      checks::isAccessActionWord(name)) {
    return "the name is a restriction or an access(5) action";
  }
  return std::nullopt;
}

const RestrictionList* RestrictionClasses::find(std::string_view name) const {
  auto it = lists_.find(name);
  return it == lists_.end() ? nullptr : &it->second;
}

namespace {

struct ListsRun : std::enable_shared_from_this<ListsRun> {
  std::vector<const RestrictionList*> lists;
  const PolicyContext* ctx = nullptr;
  std::function<void(const RestrictionList&, const Decision&)> each;
  RestrictionList::StageDone done;
  bool apply_pending = true;
  size_t next = 0;
  std::vector<PolicyAction> actions;
  std::optional<Decision> defer_if_permit;  // the stage's first DEFER_IF_PERMIT

  // At most one frame per list (a handful): plain recursion is fine here.
  void step() {
    if (next == lists.size()) {
      Decision pass;
      if (defer_if_permit && apply_pending) {
        pass = deferral(std::move(*defer_if_permit));
        defer_if_permit.reset();
      }
      pass.actions = std::move(actions);
      return done(std::move(pass), std::move(defer_if_permit));
    }
    const RestrictionList* list = lists[next++];
    list->evaluate(*ctx, std::move(defer_if_permit),
                   [self = shared_from_this(), list](Decision d, std::optional<Decision> pending) {
                     self->defer_if_permit = std::move(pending);
                     if (self->each) self->each(*list, d);
                     for (PolicyAction& a : d.actions) self->actions.push_back(std::move(a));
                     if (refuses(d)) {
                       d.actions = std::move(self->actions);
                       return self->done(std::move(d), std::nullopt);
                     }
                     self->step();
                   });
  }
};

}  // namespace

void evaluateLists(std::vector<const RestrictionList*> lists, const PolicyContext& ctx,
                   std::function<void(const RestrictionList&, const Decision&)> each,
                   std::function<void(Decision)> done) {
  evaluateLists(std::move(lists), ctx, std::nullopt, true, std::move(each),
                [done = std::move(done)](Decision d, std::optional<Decision>) {
                  done(std::move(d));
                });
}

void evaluateLists(std::vector<const RestrictionList*> lists, const PolicyContext& ctx,
                   std::optional<Decision> carried, bool apply_pending,
                   std::function<void(const RestrictionList&, const Decision&)> each,
                   RestrictionList::StageDone done) {
  auto run = std::make_shared<ListsRun>();
  run->lists = std::move(lists);
  run->ctx = &ctx;
  run->each = std::move(each);
  run->done = std::move(done);
  run->apply_pending = apply_pending;
  run->defer_if_permit = std::move(carried);
  run->step();
}

}  // namespace petrel::policy
