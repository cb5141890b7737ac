// The typed, validated configuration of a Petrel instance.
//
// loadConfig() turns one YAML file into a Config, or into a list of errors, each naming
// `file:line:column`. Unknown keys are errors. Relative paths are resolved against the
// directory of the config file, so a config and the state it writes can move together.
// Only source/config/ includes yaml-cpp; every other area sees these plain structs.
// config/ knows no name an area above it defines (restriction checks): it keeps them as
// written, with their file:line:column, and the areas check them through Validators
// (server/config_checks.h) that loadConfig runs.
// The settings of each section live in their own header (config/*_settings.h, endpoints.h,
// listener.h); this one assembles them into Config and declares the loader.
// docs/configuration.md documents every key; keep both in step.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/content_settings.h"
#include "petrel/config/delivery_settings.h"
#include "petrel/config/endpoints.h"
#include "petrel/config/listener.h"
#include "petrel/config/relay_settings.h"
#include "petrel/config/restriction_settings.h"
#include "petrel/config/sender_auth_settings.h"
#include "petrel/config/service_settings.h"
#include "petrel/config/session_settings.h"
#include "petrel/config/table_spec.h"
#include "petrel/config/transport_settings.h"
#include "petrel/core/result.h"

namespace petrel::config {

struct Config {
  std::string source_file;  // absolute path of the YAML file
  std::string hostname;     // Default: the system host name
  std::string mail_root;    // absolute; Default: /var/lib/petrel/mail
  std::string state_dir;    // absolute; Default: /var/lib/petrel
  uint32_t workers = 0;     // reactor threads; Default: auto (0 = number of cores)
  std::vector<Listener> listeners;
  std::vector<std::string> local_domains;  // lower-cased
  std::vector<std::string> local_domain_origins;  // "file:line:column" of each, same order
  std::vector<std::string> relay_domains;  // domains.relay, lower-cased; Default: none
  // domains.local / domains.relay written as a table reference instead of a list: a domain is
  // a member when the table finds it (PostfixAdmin's domain table).
  std::optional<TableSpec> local_domains_table;
  std::optional<TableSpec> relay_domains_table;
  std::map<std::string, TableSpec> tables;
  std::optional<TableSpec> mailboxes;  // address -> Maildir path below mail_root
  std::vector<TableSpec> aliases;      // searched in order
  std::string recipient_delimiter;     // Default: "" (none); e.g. "+"
  // canonical.sender / canonical.recipient: address rewriting of the envelope and, for the
  // clients canonical.headers names, of header fields (Postfix canonical_maps;
  // docs/configuration.md). Default: none.
  std::optional<TableSpec> canonical_sender;
  std::optional<TableSpec> canonical_recipient;
  // local: mail from relay.mynetworks or an authenticated client (Postfix
  // local_header_rewrite_clients = permit_mynetworks, permit_sasl_authenticated); all; none.
  enum class HeaderRewriteClients { Local, All, None };
  HeaderRewriteClients canonical_headers = HeaderRewriteClients::Local;
  Limits limits;
  Tls tls;
  Auth auth;
  Relay relay;
  // Named restriction sets; listeners pick one by name. Defaults (always present unless the
  // config defines a set of the same name):
  //   default:    recipient: [permit_mynetworks, permit_sasl_authenticated,
  //                           reject_unauth_destination]
  //   submission: recipient: [reject_sender_login_mismatch, permit_sasl_authenticated, reject]
  std::map<std::string, RestrictionSet> restrictions;
  RestrictionClasses restriction_classes;
  Smtp smtp;
  Queue queue;
  Delivery delivery;
  // transports: the named transports besides the built-in ones (TransportConfig), in config
  // order; findTransport() also knows the built-in ones.
  std::vector<TransportConfig> transports;
  // findTransport() and transportRef() over these.
  std::optional<TransportConfig> findTransport(std::string_view name) const {
    return config::findTransport(transports, name);
  }
  std::optional<TransportRef> transportRef(std::string_view text) const {
    return config::transportRef(transports, text);
  }
  Dns dns;
  Status status;
  Log log;
  PolicyService policy_service;
  Greylisting greylisting;
  Dkim dkim;
  Arc arc;
  Dmarc dmarc;
  Checks checks;
  Filters filters;
  Srs srs;
  Doctor doctor;
};

// The milters of a listener's sessions: its own list, or filters.milters.
inline const std::vector<MilterEndpoint>& listenerMilters(const Config& c, const Listener& l) {
  if (l.receive_override.no_milters) {
    static const std::vector<MilterEndpoint> none;
    return none;
  }
  return l.milters ? *l.milters : c.filters.milters;
}

// The after-queue content filter of mail received on `l`: its own, or filters.content_filter.
inline std::optional<TransportRef> listenerContentFilter(const Config& c, const Listener& l) {
  if (l.content_filter) {
    if (l.content_filter->name.empty()) return std::nullopt;
    return l.content_filter;
  }
  return c.filters.content_filter;
}

// One problem found in the file; `where` is "file:line:column".
struct ConfigError {
  std::string where;
  std::string message;
  std::string toString() const { return where + ": " + message; }
};

struct LoadResult {
  std::optional<Config> config;       // set only when errors is empty
  std::vector<ConfigError> errors;    // all of them, sorted by line and column
};

// A table reference as the config's keys take it, for `petrel table query`: the name of an
// entry under `c.tables`, or an inline "type:path" of a file-based type (file, regexp, cidr),
// a relative path being relative to the directory of c.source_file. Config errors name the
// problem the way the loader would ("unknown table type 'x' (known: ...)").
Result<TableSpec> resolveTableReference(const Config& c, std::string_view ref);

// A check that an area runs over a parsed Config, adding what it finds wrong (`where` as
// "file:line:column", usually a CheckSpec's origin). Validators run whenever the YAML could be
// read, also when the loader found problems (so that one run names every error); they must not
// assume that references resolve. Their errors are sorted in with the loader's. An error at
// the origin of a check in a restriction set marks that set broken: a listener naming it gets
// no second "unknown restriction set" error, and the set is not listed as known.
using Validator = std::function<void(const Config&, std::vector<ConfigError>&)>;

// Reads and validates the YAML file at `path`. Never throws (nor may the validators).
LoadResult loadConfig(const std::string& path, const std::vector<Validator>& validators = {});
// Same, from text (tests); `name` plays the file name in messages and becomes
// Config::source_file; relative paths resolve against `base_dir` (made absolute first).
LoadResult loadConfigFromString(const std::string& yaml, const std::string& name,
                                const std::string& base_dir,
                                const std::vector<Validator>& validators = {});

}  // namespace petrel::config
