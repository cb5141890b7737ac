// Restriction lists (Postfix smtpd_*_restrictions): per SMTP stage, an ordered list of checks
// (policy/check.h, built by the registry); the first decisive answer wins. A recipient-stage
// list that ends without a decision falls through to reject_unauth_destination, so no
// configuration can make an open relay by omission.
//
// Evaluation is asynchronous: a check may wait for a table on the thread pool or for DNS. When
// none waits, `done` runs before evaluate() returns (no loop turn per RCPT); callers handle both.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/cidr.h"
#include "petrel/core/result.h"
#include "petrel/lookup/lookup_table.h"
#include "petrel/policy/check.h"
#include "petrel/policy/registry.h"

namespace petrel::policy {

class RestrictionList {
 public:
  using Done = std::function<void(Decision)>;

  // Builds each check through the registry (Postfix spelling); unknown names and access
  // checks without a table are Config errors.
  static Result<RestrictionList> parse(Stage stage, const std::vector<std::string>& checks,
                                       CheckEnvironment env = {});
  static Result<RestrictionList> parse(Stage stage, const std::vector<std::string>& checks,
                                       CidrList mynetworks, CheckEnvironment::Tables tables) {
    return parse(stage, checks, CheckEnvironment(std::move(mynetworks), std::move(tables)));
  }
  // relay.mynetworks as a table (cidr, SQL, ...): permit_mynetworks also permits a client the
  // table finds; a failing table defers (451 4.3.0). Shared with the lists of the same
  // environment.
  void setMynetworksTable(lookup::TablePtr table) { mynetworks_->table = std::move(table); }
  // Some check may wait on a server (Check::blocking).
  bool blocking() const;
  // `ctx` must stay valid until `done` has run. A DEFER_IF_PERMIT still pending at the end
  // turns a permit (or the end of the list) into its deferral.
  void evaluate(const PolicyContext& ctx, Done done) const;
  // The same as one list of a stage's evaluation (evaluateLists): `defer_if_permit` is the one
  // an earlier list of the stage left (or none); the one pending at the end comes back with
  // the decision instead of being applied.
  using StageDone = std::function<void(Decision, std::optional<Decision> defer_if_permit)>;
  void evaluate(const PolicyContext& ctx, std::optional<Decision> defer_if_permit,
                StageDone done) const;
  // As a restriction class run in place of an access map's value: no implicit
  // reject_unauth_destination; a DEFER_IF_PERMIT/REJECT still pending comes back as a Dunno
  // with Decision::pending set (a permit it would defer is deferred here).
  void evaluateNested(const PolicyContext& ctx, Done done) const;
  const std::vector<std::string>& checks() const { return checks_; }
  Stage stage() const { return stage_; }

 private:
  class Evaluation;
  friend class RestrictionClasses;

  Stage stage_ = Stage::Recipient;
  bool is_class_ = false;  // a restriction class: no implicit reject_unauth_destination
  std::vector<std::string> checks_;
  std::vector<std::shared_ptr<const Check>> impl_;  // per check, same order
  std::shared_ptr<Mynetworks> mynetworks_ = std::make_shared<Mynetworks>();
  // The restriction classes its access maps may name (checks hold them weakly).
  std::shared_ptr<const RestrictionClasses> classes_;
};

// Postfix smtpd_restriction_classes: named lists that an access map's value may name, run in
// place of the value ("from_outside" -> [reject_unauth_destination, ...]). Built once per
// config snapshot; the lists built with an environment holding them keep them alive (their
// checks refer to them weakly, so a class naming a class makes no ownership cycle).
class RestrictionClasses {
 public:
  // A class may be nested at most this deep (a table that names its own class again loops).
  static constexpr int MaxDepth = 8;
  using Spec = std::map<std::string, std::vector<std::string>, std::less<>>;
  // Builds every class through the registry with `env` (tables, mynetworks); errors name the
  // class: "restriction class 'from_outside': unknown restriction 'x' (known: ...)". A class
  // named like a check or an access(5) action word is an error too.
  static Result<std::shared_ptr<const RestrictionClasses>> build(const Spec& classes,
                                                                 CheckEnvironment env);
  const RestrictionList* find(std::string_view name) const;
  bool empty() const { return lists_.empty(); }
  // Why `name` cannot name a class ("the name is a restriction or an access(5) action"), or
  // nullopt when it can.
  static std::optional<std::string> nameProblem(std::string_view name);

 private:
  std::map<std::string, RestrictionList, std::less<>> lists_;
};

// Runs `lists` in order, each deciding only its own stage (a Permit ends only its list, as in
// Postfix); stops at the first Reject or Defer. `each` sees every list's decision (for
// `petrel route`'s trace), `done` the deciding one (or Dunno when all passed) with the actions
// of every list that ran. Same timing rules as RestrictionList::evaluate.
void evaluateLists(std::vector<const RestrictionList*> lists, const PolicyContext& ctx,
                   std::function<void(const RestrictionList&, const Decision&)> each,
                   std::function<void(Decision)> done);

// The same for one SMTP stage of a session whose client, helo and sender lists answer at their
// own command (delay_reject off), carrying Postfix's defer_if_permit from stage to stage as
// smtpd_check.c does: `carried` is the DEFER_IF_PERMIT an earlier stage left pending (the
// first one is kept). With `apply_pending` (RCPT, VRFY) a DEFER_IF_PERMIT still pending turns
// the stage's pass into its deferral; without it (CONNECT, HELO, MAIL) the pass stays a pass
// and `done` gets the pending one back for the next stage. A refusal comes without one.
void evaluateLists(std::vector<const RestrictionList*> lists, const PolicyContext& ctx,
                   std::optional<Decision> carried, bool apply_pending,
                   std::function<void(const RestrictionList&, const Decision&)> each,
                   RestrictionList::StageDone done);

}  // namespace petrel::policy
