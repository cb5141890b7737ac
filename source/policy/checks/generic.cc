// permit, reject, defer: the unconditional answers that end a list (Postfix's wording and
// codes: 554 5.7.1 Access denied, 450 4.7.1 Try again later).
#include "checks.h"

namespace petrel::policy::checks {

namespace {

class Fixed final : public Check {
 public:
  explicit Fixed(Decision decision) : decision_(std::move(decision)) {}
  void run(const PolicyContext&, Done done) const override { done(decision_); }

 private:
  Decision decision_;
};

}  // namespace

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
