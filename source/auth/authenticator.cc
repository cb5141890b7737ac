// The authenticator registry: maps AuthSettings::backend to the factory in backends/.
//
// Adding a backend means one file in backends/ (its class in an anonymous namespace, its
// factory outside), its declaration and one registration line below.
#include "petrel/auth/authenticator.h"

#include <fmt/format.h>

#include <string_view>

namespace petrel::auth {

// Factories, one per file in backends/.
Result<std::shared_ptr<Authenticator>> makeTableAuthenticator(const AuthSettings& settings);
Result<std::shared_ptr<Authenticator>> makeDovecotAuthenticator(const AuthSettings& settings);
Result<std::shared_ptr<Authenticator>> makeLookupAuthenticator(const AuthSettings& settings);

namespace {

using Factory = Result<std::shared_ptr<Authenticator>> (*)(const AuthSettings&);

struct Registration {
  std::string_view backend;
  Factory make;
};

constexpr Registration Backends[] = {
    {"table", &makeTableAuthenticator},
    {"dovecot", &makeDovecotAuthenticator},
    {"lookup", &makeLookupAuthenticator},
};

}  // namespace

Result<std::shared_ptr<Authenticator>> makeAuthenticator(const AuthSettings& settings) {
  for (const auto& b : Backends) {
    if (b.backend == settings.backend) return b.make(settings);
  }
  return Error::config(
      fmt::format("unknown auth backend \"{}\" (known: table, dovecot, lookup)", settings.backend));
}

}  // namespace petrel::auth
