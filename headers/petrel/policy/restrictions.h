// Restriction lists (Postfix smtpd_*_restrictions): per SMTP stage, an ordered list of checks
// (policy/check.h, built by the registry); the first decisive answer wins. A recipient-stage
// list that ends without a decision falls through to reject_unauth_destination, so no
// configuration can make an open relay by omission.
//
// Evaluation is asynchronous: a check may wait for a table on the thread pool or for DNS. When
// none waits, `done` runs before evaluate() returns (no loop turn per RCPT); callers handle both.
#pragma once

#include <functional>
#include <memory>
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
  // `ctx` must stay valid until `done` has run.
  void evaluate(const PolicyContext& ctx, Done done) const;
  const std::vector<std::string>& checks() const { return checks_; }
  Stage stage() const { return stage_; }

 private:
  class Evaluation;

  Stage stage_ = Stage::Recipient;
  std::vector<std::string> checks_;
  std::vector<std::shared_ptr<const Check>> impl_;  // per check, same order
  std::shared_ptr<Mynetworks> mynetworks_ = std::make_shared<Mynetworks>();
};

// Runs `lists` in order, each deciding only its own stage (a Permit ends only its list, as in
// Postfix); stops at the first Reject or Defer. `each` sees every list's decision (for
// `petrel route`'s trace), `done` the deciding one (or Dunno when all passed) with the actions
// of every list that ran. Same timing rules as RestrictionList::evaluate.
void evaluateLists(std::vector<const RestrictionList*> lists, const PolicyContext& ctx,
                   std::function<void(const RestrictionList&, const Decision&)> each,
                   std::function<void(Decision)> done);

}  // namespace petrel::policy
