// The table registry: maps a TableSpec's `type:` word to the backend factory that builds it.
//
// Adding a backend means adding one file in backends/ (its class in an anonymous namespace,
// its factory outside) plus its declaration and one registration line below. A backend that
// reads one file derives from FileBackedTable (../file_backed_table.h) and only parses. The
// config loader validates type words too (FileTableTypes in source/config/config.cc), so a
// new type needs a line there as well. The registry owns nothing after construction and does
// not cache tables: the caller (Router, policy, `petrel table query`) holds the TablePtr.
#include <fmt/format.h>

#include <string_view>
#include <utility>

#include "cached_table.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {

// Factories, one per file in backends/.
TablePtr makeInlineTable(const config::TableSpec& spec, const Warn& warn);
TablePtr makeFileTable(const config::TableSpec& spec, const Warn& warn);
TablePtr makeRegexpTable(const config::TableSpec& spec, const Warn& warn);
TablePtr makeCidrTable(const config::TableSpec& spec, const Warn& warn);
TablePtr makeSqliteTable(const config::TableSpec& spec, const Warn& warn);
TablePtr makeLdapTable(const config::TableSpec& spec, const Warn& warn);
TablePtr makePgsqlTable(const config::TableSpec& spec, const Warn& warn);
TablePtr makeMysqlTable(const config::TableSpec& spec, const Warn& warn);

namespace {

using Factory = TablePtr (*)(const config::TableSpec&, const Warn&);

struct Registration {
  std::string_view type;
  Factory make;
};

constexpr Registration Backends[] = {
    {"inline", &makeInlineTable},
    {"file", &makeFileTable},
    {"regexp", &makeRegexpTable},
    {"pcre", &makeRegexpTable},  // Postfix pcre_table(5): the same syntax through PCRE2
    {"cidr", &makeCidrTable},
    {"sqlite", &makeSqliteTable},
    {"ldap", &makeLdapTable},
    {"pgsql", &makePgsqlTable},
    {"mysql", &makeMysqlTable},
};

// Stands in for a table whose type no backend knows: config validation should have caught
// it, so every lookup reports a config error instead of guessing an answer.
class UnknownTypeTable final : public LookupTable {
 public:
  UnknownTypeTable(std::string description, std::string error)
      : description_(std::move(description)), error_(std::move(error)) {}

  LookupResult lookup(std::string_view) const override { return LookupResult::configError(error_); }
  std::string describe() const override { return description_; }

 private:
  const std::string description_;
  const std::string error_;
};

}  // namespace

TablePtr makeTable(const config::TableSpec& spec, Warn warn) {
  for (const auto& backend : Backends) {
    if (backend.type == spec.type) {
      TablePtr table = backend.make(spec, warn);
      if (spec.cache_ttl > 0) {
        table = withCache(std::move(table), spec.cache_ttl, spec.cache_negative_ttl);
      }
      return table;
    }
  }
  std::string description = fmt::format("{}:{}", spec.type, spec.name);
  std::string error = fmt::format("table {}: unknown table type \"{}\"", description, spec.type);
  if (!spec.origin.empty()) {
    error = fmt::format("{} (declared at {})", error, spec.origin);
  }
  if (warn) {
    warn(error);
  }
  return std::make_shared<UnknownTypeTable>(std::move(description), std::move(error));
}

}  // namespace petrel::lookup
