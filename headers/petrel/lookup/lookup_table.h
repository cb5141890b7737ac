// Lookup tables: the key -> value maps behind domains, mailboxes, aliases, transports, TLS
// policies, sender logins and (later) access maps.
//
// A LookupTable answers one key at a time with one of four outcomes: found, not found,
// temporary failure, config error. Backends are reached only through makeTable(), a registry
// keyed by the config's `type:` word; each backend lives in one file in
// source/lookup/backends/ and exposes nothing but its factory: inline, file, regexp (Postfix
// regexp_table syntax, PCRE2), cidr (Postfix cidr_table), and the remote ones that block
// (sqlite, pgsql, mysql, ldap; see blocking()). This area owns loading,
// reloading and matching; it knows nothing of addresses or SMTP (the Router in delivery/ builds
// the keys). A table that cannot load never throws and never crashes the daemon: it warns and
// answers TempFail until it can load. docs/lookup-tables.md describes backends and file format.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "petrel/config/table_spec.h"

namespace petrel::lookup {

enum class LookupStatus { Found, NotFound, TempFail, ConfigError };

struct LookupResult {
  LookupStatus status = LookupStatus::NotFound;
  std::string value;  // set when Found
  std::string error;  // set when TempFail or ConfigError; names the table

  static LookupResult found(std::string value) {
    return {LookupStatus::Found, std::move(value), {}};
  }
  static LookupResult notFound() { return {LookupStatus::NotFound, {}, {}}; }
  static LookupResult tempFail(std::string error) {
    return {LookupStatus::TempFail, {}, std::move(error)};
  }
  static LookupResult configError(std::string error) {
    return {LookupStatus::ConfigError, {}, std::move(error)};
  }
};

// Receives one warning line without the "warning: " prefix, e.g.
// "table file:/etc/petrel/aliases: line 7: missing value: skipping".
using Warn = std::function<void(const std::string&)>;

class LookupTable {
 public:
  virtual ~LookupTable() = default;

  // Thread-safe; called concurrently from several reactor threads. Callers pass lower-case
  // keys (addresses) or address literals (cidr). inline and file match case-insensitively
  // (they lower-case their keys on load); regexp matches the key as given, its patterns being
  // case-insensitive unless a rule's `i` flag says otherwise. Never blocks on I/O for the
  // in-memory backends (inline, file, regexp, cidr: their files are read by refresh()).
  virtual LookupResult lookup(std::string_view key) const = 0;

  // Called periodically (about once a second) from the main thread only. Backends backed by a
  // file reload it here when it changed; concurrent lookup() calls see either the old or the
  // new contents, never a mix.
  virtual void refresh() {}

  // "inline:mailboxes", "file:/etc/petrel/aliases"; used in every message about the table.
  virtual std::string describe() const = 0;

  // True when lookup() may wait on a server or a disk (sqlite, pgsql, mysql, ldap): a caller on
  // a reactor loop runs it on the thread pool instead (Dispatcher::offload), so that no loop
  // ever waits for a database. Such backends bound every wait with their `timeout`.
  virtual bool blocking() const { return false; }
};

using TablePtr = std::shared_ptr<LookupTable>;

// Builds the table `spec` describes, wrapped in a cache when spec.cache_ttl is set (found
// answers kept cache_ttl seconds, not-found ones cache_negative_ttl; failures never). Never
// fails: an unknown type gives a table that answers
// ConfigError to every lookup (and warns once); a file that cannot be read gives a table that
// answers TempFail until refresh() can load it. `warn` may be called from the constructor and
// from refresh(), i.e. from the main thread only, never from lookup().
TablePtr makeTable(const config::TableSpec& spec, Warn warn);

// An exact-match map with case-insensitive (ASCII) keys, shared by the in-memory backends.
// Immutable after loading, so concurrent find() calls need no lock.
class KeyValueMap {
 public:
  // Lower-cases `key`. Returns false (and keeps the existing value) for a duplicate key.
  bool insert(std::string_view key, std::string value);
  // `key` need not be lower-case. Returns nullptr when absent.
  const std::string* find(std::string_view key) const;
  size_t size() const { return map_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::string, Hash, std::equal_to<>> map_;
};

}  // namespace petrel::lookup
