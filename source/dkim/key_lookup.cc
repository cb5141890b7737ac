// key_lookup.h: one TXT query per key name, in flight together; the state object holds the
// query handles, so destroying it drops every callback.
#include "petrel/dkim/key_lookup.h"

#include <string>
#include <vector>

namespace petrel::dkim {

namespace {

class Lookup final : public KeyLookup {
 public:
  Lookup(dns::Resolver& resolver, std::vector<std::string> names,
         std::function<void(const std::string&, const KeyAnswer&)> provide,
         std::function<void()> done)
      : provide_(std::move(provide)), done_(std::move(done)) {
    pending_ = names.size();
    for (const auto& name : names) {
      queries_.push_back(resolver.query(name, dns::Type::TXT, [this, name](dns::Answer a) {
        provide_(name, KeyAnswer::fromDns(a));
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

  std::function<void(const std::string&, const KeyAnswer&)> provide_;
  std::function<void()> done_;
  size_t pending_ = 0;
  std::vector<dns::QueryHandlePtr> queries_;
};

}  // namespace

KeyLookupPtr lookupKeyNames(dns::Resolver& resolver, std::vector<std::string> names,
                            std::function<void(const std::string&, const KeyAnswer&)> provide,
                            std::function<void()> done) {
  if (names.empty()) return nullptr;
  return std::make_unique<Lookup>(resolver, std::move(names), std::move(provide), std::move(done));
}

KeyLookupPtr lookupKeys(dns::Resolver& resolver, Verifier& verifier, std::function<void()> done) {
  return lookupKeyNames(
      resolver, verifier.keyNames(),
      [&verifier](const std::string& name, const KeyAnswer& a) { verifier.provideKey(name, a); },
      std::move(done));
}

}  // namespace petrel::dkim
