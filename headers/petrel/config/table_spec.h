// A lookup table as the config declares it: the value type the config loader produces and
// lookup/'s registry consumes (lookup::makeTable).
//
// It lives apart from config.h so that lookup/ (and the areas that only hand tables around)
// can name a table without seeing the whole Config. config.h includes it; nothing here knows
// YAML or opens a table.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::config {

// A named map, declared under `tables:` or inline as "type:argument".
struct TableSpec {
  std::string name;  // key under tables:, or the inline reference text itself
  // "inline" | "file" | "regexp" | "cidr" | "sqlite" | "pgsql" | "mysql" | "ldap"
  std::string type;
  std::map<std::string, std::string> entries;  // type inline: the map itself
  std::string path;                            // types file, regexp, cidr, sqlite: absolute path
  // Types sqlite, pgsql, mysql, ldap: their settings as written (host, port, user, database,
  // query, uri, base, filter, attribute, ...; docs/lookup-tables.md), checked by the loader
  // against the type's keys. A `password_file` is read at load time into "password".
  std::map<std::string, std::string> options;
  // Any type: answers are kept this many seconds (not-found answers negative_ttl seconds);
  // 0 = no cache. Default: 0 (a remote table is asked every time).
  uint64_t cache_ttl = 0;
  uint64_t cache_negative_ttl = 0;
  std::string origin;  // "file:line:column" where the table was declared (for messages)
};

// The keys a remote table type takes under tables: (besides type and cache), and which of
// them are required. Empty for the other types.
struct RemoteTableKeys {
  std::vector<std::string_view> allowed;
  std::vector<std::string_view> required;
};
const RemoteTableKeys* remoteTableKeys(std::string_view type);

}  // namespace petrel::config
