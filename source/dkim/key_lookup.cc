// key_lookup.h: one TXT query per key name, in flight together; the state object holds the
// query handles, so destroying it drops every callback.
#include "petrel/dkim/key_lookup.h"

#include <string>
#include <vector>

namespace petrel::dkim {

namespace {

class Lookup final : public KeyLookup {
 public:
  Lookup(dns::Resolver& resolver, Verifier& verifier, std::function<void()> done)
      : verifier_(verifier), done_(std::move(done)) {
    auto names = verifier_.keyNames();
    pending_ = names.size();
    for (const auto& name : names) {
      queries_.push_back(resolver.query(name, dns::Type::TXT, [this, name](dns::Answer a) {
        verifier_.provideKey(name, KeyAnswer::fromDns(a));
        finishOne();
      }));
    }
  }

 private:
  void finishOne() {
    if (--pending_ == 0) {
      auto done = std::move(done_);
      done();  // may destroy this object
    }
  }

  Verifier& verifier_;
  std::function<void()> done_;
  size_t pending_ = 0;
  std::vector<dns::QueryHandlePtr> queries_;
};

}  // namespace

KeyLookupPtr lookupKeys(dns::Resolver& resolver, Verifier& verifier, std::function<void()> done) {
  if (verifier.keyNames().empty()) return nullptr;
  return std::make_unique<Lookup>(resolver, verifier, std::move(done));
}

}  // namespace petrel::dkim
