// key_lookup.h: dkim::lookupKeyNames with the Validator as the consumer of the answers.
#include "petrel/arc/key_lookup.h"

namespace petrel::arc {

dkim::KeyLookupPtr lookupKeys(dns::Resolver& resolver, Validator& validator,
                              std::function<void()> done) {
  return dkim::lookupKeyNames(
      resolver, validator.keyNames(),
      [&validator](const std::string& name, const dkim::KeyAnswer& a) {
        validator.provideKey(name, a);
      },
      std::move(done));
}

}  // namespace petrel::arc
