// The standard config validators (config_checks.h). Each check of each restriction list is
// parsed on its own by policy's own parser, so the loader and the server cannot disagree on
// what a check is; its error is reported at the check's origin, prefixed with its path
// ("restrictions.default.recipient[2]: unknown restriction 'x' (known: ...)").
//
// Tables are not opened here (a config that loads may still fail to start, as everywhere in
// the loader): a check's table reference is answered with a stand-in table when the config
// resolved it, and with the loader's text for the problem when it did not.
#include "petrel/server/config_checks.h"

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "petrel/core/strings.h"
#include "petrel/delivery/sieve_filter.h"
#include "petrel/dkim/signer.h"
#include "petrel/lookup/lookup_table.h"
#include "petrel/policy/restrictions.h"
#include "petrel/tls/crypto.h"

namespace petrel::server {

namespace {

// Stands in for a table the config resolved; never asked during a parse.
class UnopenedTable final : public lookup::LookupTable {
 public:
  lookup::LookupResult lookup(std::string_view) const override {
    return lookup::LookupResult::tempFail("table not opened (config check only)");
  }
  std::string describe() const override { return "(config check)"; }
};

// What is wrong with one check of `set`, or nullopt. The only call into policy/.
std::optional<std::string> checkProblem(const config::CheckSpec& check,
                                        const config::RestrictionSet& set,
                                        const config::Config& c) {
  std::string_view text = trim(check.text);
  size_t space = text.find(' ');
  if (space == std::string_view::npos && policy::isAccessCheck(check.text)) {
    // Policy's own "no table ''" would not say what to write.
    std::string_view name = text.substr(0, space);
    return fmt::format("{} needs a table, e.g. \"{} clients\"", name, name);
  }
  static const lookup::TablePtr stand_in = std::make_shared<UnopenedTable>();
  std::optional<std::string> unresolved;  // a reference the check wanted, and the config lacks
  auto tables = [&](const std::string& ref) -> lookup::TablePtr {
    if (set.access_tables.contains(ref)) {
      return stand_in;
    }
    unresolved = ref;
    return nullptr;
  };
  policy::CheckEnvironment env({}, tables);
  if (c.greylisting.enabled) {
    // Stands in for the store the server opens; never asked during a parse.
    static const auto greylist = std::make_shared<const policy::Greylist>();
    env.greylist = greylist;
  }
  // The stage does not change what parses.
  Result<policy::CheckPtr> parsed = policy::makeCheck(check.text, policy::Stage::Recipient, env);
  if (parsed) {
    return std::nullopt;
  }
  if (unresolved) {
    if (auto it = set.table_errors.find(*unresolved); it != set.table_errors.end()) {
      if (it->second.empty()) {
        return std::nullopt;  // a broken table, reported where it was declared
      }
      return it->second;
    }
  }
  return parsed.error().message();
}

void checkRestrictions(const config::Config& c, std::vector<config::ConfigError>& errors) {
  // restriction_classes: each check as in a set (their tables resolve the same way).
  config::RestrictionSet class_tables;
  class_tables.access_tables = c.restriction_classes.access_tables;
  class_tables.table_errors = c.restriction_classes.table_errors;
  for (const auto& [name, checks] : c.restriction_classes.lists) {
    if (auto problem = policy::RestrictionClasses::nameProblem(name)) {
      auto origin = c.restriction_classes.origins.find(name);
      errors.push_back({origin == c.restriction_classes.origins.end() ? "" : origin->second,
                        fmt::format("restriction_classes.{}: {}", name, *problem)});
    }
    for (const config::CheckSpec& check : checks) {
      if (auto problem = checkProblem(check, class_tables, c)) {
        errors.push_back({check.origin, fmt::format("{}: {}", check.path, *problem)});
      }
    }
  }
  for (const auto& [name, set] : c.restrictions) {
    for (auto [stage, checks] : set.stages()) {
      bool warn_pending = false;  // a "warn_if_reject" entry waits for its check
      for (const config::CheckSpec& check : *checks) {
        bool marker = trim(check.text) == "warn_if_reject";
        if (marker && warn_pending) {
          errors.push_back({check.origin, fmt::format("{}: warn_if_reject twice in a row",
                                                      check.path)});
        } else if (auto problem = checkProblem(check, set, c)) {
          errors.push_back({check.origin, fmt::format("{}: {}", check.path, *problem)});
        }
        warn_pending = marker;
      }
      if (warn_pending) {
        const config::CheckSpec& last = checks->back();
        errors.push_back({last.origin, fmt::format("{}: warn_if_reject must be followed by a "
                                                   "check", last.path)});
      }
    }
  }
}

// dkim.sign and arc.seal: each key file must read as a PEM key of the entry's algorithm (RSA >=
// 1024 bits, RFC 8301), so that a broken key is a load error, not a signing failure on the
// first message.
void checkSigningKey(const config::Dkim::SignEntry& entry, std::string_view section,
                     std::vector<config::ConfigError>& errors) {
  auto key = tls::PrivateKey::fromPemFile(entry.key);
  if (!key) {
    errors.push_back({entry.key_origin, fmt::format("{}: {}", section, key.error().message())});
    return;
  }
  auto alg = dkim::parseAlgorithm(entry.algorithm);
  std::string problem = alg ? dkim::keyProblem(*key, *alg) : "unknown algorithm";
  if (!problem.empty()) {
    errors.push_back({entry.key_origin, fmt::format("{}: {}: {}", section, entry.key, problem)});
  }
}

void checkDkimKeys(const config::Config& c, std::vector<config::ConfigError>& errors) {
  for (const auto& entry : c.dkim.sign) checkSigningKey(entry, "dkim.sign", errors);
  if (c.arc.sealing()) checkSigningKey(c.arc.seal, "arc.seal", errors);
}

// delivery.sieve: the global scripts compile (their own errors name the script's file, line
// and column, after the section's position).
void checkSieveScripts(const config::Config& c, std::vector<config::ConfigError>& errors) {
  auto scripts = delivery::loadSieveScripts(c);
  if (!scripts) errors.push_back({c.delivery.sieve.origin, scripts.error().message()});
}

}  // namespace

std::vector<config::Validator> standardValidators() {
  return {&checkRestrictions, &checkDkimKeys, &checkSieveScripts};
}

}  // namespace petrel::server
