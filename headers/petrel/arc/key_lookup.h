// The asynchronous half of ARC validation: the key records an arc::Validator needs, looked up
// in parallel over dns::Resolver by dkim's key lookup (the same TXT records at
// s._domainkey.d, the same timeouts: `done` always comes).
#pragma once

#include <functional>

#include "petrel/arc/validator.h"
#include "petrel/dkim/key_lookup.h"
#include "petrel/dns/resolver.h"

namespace petrel::arc {

// Looks up validator.keyNames() and calls `done` once, later, on the resolver's loop; nullptr
// (and no call) when nothing needs looking up. Destroying the handle cancels the lookups.
// `validator` and `resolver` must outlive the handle or the call of `done`.
dkim::KeyLookupPtr lookupKeys(dns::Resolver& resolver, Validator& validator,
                              std::function<void()> done);

}  // namespace petrel::arc
