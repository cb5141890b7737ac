// The asynchronous half of DKIM verification: the key records a Verifier needs, looked up in
// parallel over dns::Resolver (TXT), each answer handed to the verifier, `done` once all have
// answered. Every lookup is bounded by the resolver's own timeout and attempts (ResolverOptions;
// 2 s x 2 rounds per server by default), so `done` always comes; a TempFail answer becomes the
// signature's temperror.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "petrel/dkim/verifier.h"
#include "petrel/dns/resolver.h"

namespace petrel::dkim {

class KeyLookup {
 public:
  virtual ~KeyLookup() = default;
};
// Destroying it cancels the lookups; `done` then never runs.
using KeyLookupPtr = std::unique_ptr<KeyLookup>;

// Looks up verifier.keyNames() and calls `done` once, later, on the resolver's loop. When
// there is nothing to look up (no signature, or none that parsed) it returns nullptr and never
// calls `done`: the results are ready at once. `verifier` and `resolver` must outlive the returned handle or
// the call of `done`, whichever comes first.
KeyLookupPtr lookupKeys(dns::Resolver& resolver, Verifier& verifier, std::function<void()> done);

// The same for any consumer of key records (arc::Validator): a TXT query per name in `names`,
// each answer handed to `provide`, then `done` once. nullptr (and no call) when `names` is
// empty. Whatever `provide` touches must outlive the handle or the call of `done`.
KeyLookupPtr lookupKeyNames(dns::Resolver& resolver, std::vector<std::string> names,
                            std::function<void(const std::string&, const KeyAnswer&)> provide,
                            std::function<void()> done);

}  // namespace petrel::dkim
