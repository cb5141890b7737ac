// The `tables:` section and every table reference: declared tables (inline, file, regexp,
// cidr, and the remote types with their keys), inline "type:argument" references, and
// resolveTableReference() for `petrel table query`. Opening a table is lookup/'s business;
// here a table is only a TableSpec.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "loader.h"
#include "petrel/core/strings.h"

namespace petrel::config {
namespace detail {

namespace {

// The table types that read one file, named by `path:` under tables: or inline as
// "type:/path". Each is a backend in source/lookup/backends/.
constexpr std::array<std::string_view, 4> FileTableTypes = {"file", "regexp", "pcre", "cidr"};

}  // namespace

bool isFileTableType(std::string_view type) {
  return std::find(FileTableTypes.begin(), FileTableTypes.end(), type) != FileTableTypes.end();
}

bool isTableType(std::string_view type) {
  return type == "inline" || isFileTableType(type) || remoteTableKeys(type) != nullptr;
}

std::string unknownTableType(std::string_view type) {
  return fmt::format(
      "unknown table type '{}' (known: inline, file, regexp, pcre, cidr, sqlite, pgsql, mysql, "
      "ldap)",
      type);
}

namespace {

// A query or filter template: %s (the key), %u (its local part), %d (its domain), %% (a
// percent sign); the backends bind the values as parameters, never paste them.
std::optional<std::string> checkTemplate(std::string_view text) {
  bool has_key = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (i + 1 == text.size()) return "ends with a lone '%'";
    char c = text[++i];
    if (c == 's' || c == 'u' || c == 'd') {
      has_key = true;
    } else if (c != '%') {
      return fmt::format("unknown expansion '%{}' (known: %s, %u, %d, %%)", c);
    }
  }
  if (!has_key) return "never uses the key (%s, %u or %d)";
  return std::nullopt;
}

}  // namespace

// An inline reference "type:argument" as in Postfix; the caller reports the error where it
// was written. `spec.origin` is left to the caller.
Result<TableSpec> inlineTableRef(std::string_view ref, const fs::path& base_dir) {
  size_t colon = ref.find(':');
  std::string_view type = ref.substr(0, colon);
  std::string_view argument = colon == std::string_view::npos ? "" : ref.substr(colon + 1);
  if (type == "inline") {
    return Error::config(
        "an inline table cannot be written as a reference; declare it under tables:");
  }
  if (remoteTableKeys(type) != nullptr) {
    return Error::config(fmt::format(
        "a {} table needs its settings under tables:; refer to it by its name there", type));
  }
  if (!isFileTableType(type)) {
    return Error::config(unknownTableType(type));
  }
  if (argument.empty()) {
    std::string_view example = type == "file"     ? "/etc/petrel/aliases"
                               : type == "regexp" ? "/etc/petrel/aliases.regexp"
                                                  : "/etc/petrel/clients.cidr";
    return Error::config(fmt::format("'{}:' needs a path, e.g. {}:{}", type, type, example));
  }
  TableSpec spec;
  spec.name = std::string(ref);
  spec.type = std::string(type);
  spec.path = resolvePath(base_dir, argument);
  return spec;
}

// A table reference: the name of an entry under tables:, or "type:argument" as in Postfix.
std::optional<TableSpec> Loader::tableRef(const Field& f, const Config& c) {
  constexpr std::string_view Expected = "a table name or type:argument";
  auto ref = scalar(f, Expected);
  if (!ref) {
    return std::nullopt;
  }
  return tableRefText(f, *ref, c);
}

// A table reference written as text inside `f` (on its own, or after a check name).

// A table reference written as text inside `f` (on its own, or after a check name).
std::optional<TableSpec> Loader::tableRefText(const Field& f, const std::string& text,
                                              const Config& c) {
  Result<TableSpec> spec = tableRefQuiet(text, f, c);
  if (!spec) {
    if (!spec.error().message().empty()) {
      report(f, spec.error().message());
    }
    return std::nullopt;
  }
  return std::move(*spec);
}

Result<TableSpec> Loader::tableRefQuiet(const std::string& ref, const Field& f, const Config& c) {
  if (ref.empty()) {
    return Error::config("expected a table name or type:argument, got ''");
  }
  if (ref.find(':') == std::string::npos) {
    if (auto it = c.tables.find(ref); it != c.tables.end()) {
      return it->second;
    }
    if (declared_tables_.contains(ref)) {
      return Error::config("");  // broken where it was declared, and reported there
    }
    return Error::config(
        fmt::format("unknown table '{}'{}", ref, suggestion(ref, declared_tables_)));
  }
  Result<TableSpec> spec = inlineTableRef(ref, base_dir_);
  if (spec) {
    spec->origin = reporter_.where(f.mark());
  }
  return spec;
}

void Loader::loadTables(const Section& top, Config& c) {
  const Field* f = top.find("tables");
  if (f == nullptr) {
    return;
  }
  Section tables(reporter_, *f);
  for (const Field& t : tables.fields()) {
    declared_tables_.insert(t.key);
    if (!isName(t.key)) {
      reporter_.add(t.key_node.Mark(),
                    fmt::format("tables: '{}' is not a valid table name (use letters, digits, "
                                "'-', '_' and '.')",
                                t.key));
      continue;
    }
    if (auto spec = table(t)) {
      c.tables.emplace(t.key, std::move(*spec));
    }
  }
}

std::optional<TableSpec> Loader::table(const Field& f) {
  Section s(reporter_, f);
  if (!s.isMapping()) {
    return std::nullopt;
  }
  TableSpec spec;
  spec.name = f.key;
  spec.origin = reporter_.where(f.key_node.Mark());
  const Field* type = s.require("type");
  std::optional<std::string> kind = type ? text(*type) : std::nullopt;
  if (kind == "inline") {
    s.allowOnly({"type", "map"});
    const Field* map = s.require("map");
    if (map == nullptr || !inlineMap(*map, spec.entries)) {
      return std::nullopt;
    }
  } else if (kind && remoteTableKeys(*kind) != nullptr) {
    if (!remoteTable(s, *kind, spec)) {
      return std::nullopt;
    }
  } else if (kind && isFileTableType(*kind)) {
    s.allowOnly({"type", "path", "cache"});
    const Field* p = s.require("path");
    std::optional<std::string> resolved = p ? path(*p) : std::nullopt;
    if (!resolved) {
      return std::nullopt;
    }
    spec.path = *resolved;
  } else {
    s.allowOnly({"type", "map", "path", "cache"});
    if (kind) {
      report(*type, unknownTableType(*kind));
    }
    return std::nullopt;
  }
  if (const Field* cache = s.find("cache"); cache != nullptr && !cache->value.IsNull()) {
    Section cs(reporter_, *cache);
    cs.allowOnly({"ttl", "negative_ttl"});
    setDuration(cs, "ttl", spec.cache_ttl);
    setDuration(cs, "negative_ttl", spec.cache_negative_ttl);
    if (spec.cache_ttl == 0) {
      cs.require("ttl", "(how long an answer is kept, e.g. 60s)");
    }
  }
  spec.type = *kind;
  return spec;
}

// tables: entries of types sqlite, pgsql, mysql, ldap.
bool Loader::remoteTable(const Section& s, const std::string& kind, TableSpec& spec) {
  const RemoteTableKeys& keys = *remoteTableKeys(kind);
  std::vector<std::string_view> allowed = {"type", "cache"};
  allowed.insert(allowed.end(), keys.allowed.begin(), keys.allowed.end());
  s.allowOnly(allowed);
  bool ok = true;
  for (std::string_view key : keys.required) {
    ok = s.require(key) != nullptr && ok;
  }
  for (const Field& f : s.fields()) {
    if (f.key == "type" || f.key == "cache") continue;
    if (std::find(keys.allowed.begin(), keys.allowed.end(), f.key) == keys.allowed.end()) continue;
    auto v = scalar(f, "a string");
    if (!v) {
      ok = false;
      continue;
    }
    if (f.key == "start_tls" || f.key == "tls" || f.key == "tls_require_cert") {
      auto b = boolean(f);
      if (!b) {
        ok = false;
        continue;
      }
      spec.options[f.key] = *b ? "yes" : "no";
      continue;
    }
    if (f.key == "tls_ca_file" || f.key == "sslrootcert") {
      auto p = path(f);
      if (!p) {
        ok = false;
        continue;
      }
      spec.options[f.key] = *p;
      continue;
    }
    if (f.key == "path" || f.key == "password_file" || f.key == "bind_password_file") {
      auto p = path(f);
      if (!p) {
        ok = false;
        continue;
      }
      if (f.key == "path") {
        spec.path = *p;
        continue;
      }
      std::ifstream in(*p);
      std::string line;
      if (!in || !std::getline(in, line)) {
        report(f, fmt::format("cannot read {}: {}", *p, strerror(errno)));
        ok = false;
        continue;
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      spec.options[f.key == "password_file" ? "password" : "bind_password"] = line;
      continue;
    }
    if (f.key == "query" || f.key == "filter") {
      if (auto why = checkTemplate(*v)) {
        report(f, *why);
        ok = false;
        continue;
      }
    }
    if (f.key == "port" || f.key == "timeout") {
      auto n = f.key == "port" ? number(f, 1, 65535) : duration(f);
      if (!n) {
        ok = false;
        continue;
      }
      spec.options[f.key] = std::to_string(*n);
      continue;
    }
    if (f.key == "scope" && *v != "sub" && *v != "one" && *v != "base") {
      report(f, fmt::format("expected sub, one or base, got '{}'", *v));
      ok = false;
      continue;
    }
    static constexpr std::array<std::string_view, 6> SslModes{
        "disable", "allow", "prefer", "require", "verify-ca", "verify-full"};
    if (f.key == "sslmode" && std::find(SslModes.begin(), SslModes.end(), *v) == SslModes.end()) {
      report(f, fmt::format("expected disable, allow, prefer, require, verify-ca or verify-full, "
                            "got '{}'",
                            *v));
      ok = false;
      continue;
    }
    spec.options[f.key] = *v;
  }
  return ok;
}

// Keys are lower-cased because lookups are case-insensitive (the router lower-cases what it
// looks up); values are kept as written.
bool Loader::inlineMap(const Field& f, std::map<std::string, std::string>& entries) {
  Section map(reporter_, f);
  if (!map.isMapping()) {
    return false;
  }
  bool ok = true;
  for (const Field& entry : map.fields()) {
    std::string key = toLower(entry.key);
    auto value = text(entry);
    if (!value) {
      ok = false;
      continue;
    }
    if (!entries.emplace(key, *value).second) {
      reporter_.add(
          entry.key_node.Mark(),
          fmt::format("duplicate key '{}' in {} (keys are case-insensitive)", entry.key, f.path));
      ok = false;
    }
  }
  return ok;
}

}  // namespace detail

using namespace detail;

Result<TableSpec> resolveTableReference(const Config& c, std::string_view ref) {
  if (ref.empty()) {
    return Error::config("expected a table name or type:argument, got ''");
  }
  if (ref.find(':') == std::string_view::npos) {
    if (auto it = c.tables.find(std::string(ref)); it != c.tables.end()) {
      return it->second;
    }
    std::string known;
    for (const auto& [name, spec] : c.tables) {
      known += known.empty() ? name : ", " + name;
    }
    return Error::config(
        fmt::format("unknown table '{}' ({})", ref,
                    known.empty() ? "no tables declared under tables:" : "declared: " + known));
  }
  Result<TableSpec> spec = inlineTableRef(ref, fs::path(c.source_file).parent_path());
  if (spec) {
    spec->origin = "command line";
  }
  return spec;
}

const RemoteTableKeys* remoteTableKeys(std::string_view type) {
  static const RemoteTableKeys sqlite{{"path", "query", "timeout"}, {"path", "query"}};
  static const RemoteTableKeys pgsql{{"host", "port", "user", "password", "password_file",
                                      "database", "query", "timeout", "sslmode", "sslrootcert"},
                                     {"database", "query"}};
  static const RemoteTableKeys mysql{
      {"host", "port", "socket", "user", "password", "password_file", "database", "query",
       "timeout", "tls", "tls_ca_file", "tls_require_cert"},
      {"database", "query"}};
  static const RemoteTableKeys ldap{
      {"uri", "base", "scope", "filter", "attribute", "bind_dn", "bind_password",
       "bind_password_file", "timeout", "start_tls", "tls_ca_file", "tls_require_cert"},
      {"uri", "base", "attribute"}};
  if (type == "sqlite") return &sqlite;
  if (type == "pgsql") return &pgsql;
  if (type == "mysql") return &mysql;
  if (type == "ldap") return &ldap;
  return nullptr;
}

}  // namespace petrel::config
