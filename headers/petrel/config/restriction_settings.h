// `restrictions:`, `restriction_classes:`, `greylisting:` and `policy_service:`: the checks as
// written, which policy/ interprets (read by source/config/{restrictions,greylisting,
// policy_service}.cc).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "petrel/config/table_spec.h"

namespace petrel::config {

// One check of a restriction list, kept as written: the config does not know check names.
// policy/ interprets the text; server/config_checks.cc validates it when the config loads.
struct CheckSpec {
  std::string text;    // "permit_mynetworks", "check_client_access cidr:/etc/petrel/x.cidr"
  std::string origin;  // "file:line:column" of the entry, or "(built-in)"
  // Where it sits in the file's structure, for messages: "restrictions.default.recipient[2]".
  std::string path;
  bool operator==(const CheckSpec&) const = default;
};

// Postfix-style restriction lists for one listener; check names as in Postfix.
struct RestrictionSet {
  // Per stage (Postfix smtpd_client_restrictions, smtpd_helo_restrictions, ...), in order.
  // Default: empty. An entry "NAME ARG" whose ARG resolves as a table reference (a name under
  // tables:, or "type:argument") has that table in access_tables under ARG, and its text reads
  // "NAME ARG" with single spacing; any other entry keeps its text as written.
  std::vector<CheckSpec> client, helo, sender, recipient;
  // The DATA stage (before the 354; smtpd_data_restrictions) and the end of data (after the
  // content, before the 250; smtpd_end_of_data_restrictions). Default: empty.
  std::vector<CheckSpec> data, end_of_data;
  // smtpd_delay_reject: evaluate the client, helo and sender lists at RCPT rather than at
  // their own stages. Default: true.
  bool delay_reject = true;
  std::string origin;  // "file:line:column"
  // The tables the checks' arguments name, by their reference text.
  std::map<std::string, TableSpec> access_tables;
  // Arguments that looked like a table reference but did not resolve, with the loader's text
  // for the problem ("unknown table 'x'", "'cidr:' needs a path, ..."); empty when the table
  // is declared but broken (its own error says so). Reported only by a check that takes a
  // table (the config cannot know which do): see config_checks.cc.
  std::map<std::string, std::string> table_errors;

  // The stage lists with their keys, in the order a session meets them.
  std::array<std::pair<std::string_view, const std::vector<CheckSpec>*>, 6> stages() const;
};

// Built-in greylisting for check_greylist (docs/configuration.md; postgrey's options).
struct Greylisting {
  bool enabled = false;                // Default: false (check_greylist is then an error)
  uint64_t delay = 300;                // seconds; Default: 5m (postgrey --delay)
  uint64_t max_age = 2 * 86400;        // seconds not seen before forgotten; Default: 2d
  uint32_t auto_whitelist_after = 5;   // Default: 5; 0 = off (--auto-whitelist-clients)
  uint32_t ipv4_prefix = 24;           // networks.ipv4; Default: 24 (--ipv4cidr)
  uint32_t ipv6_prefix = 64;           // networks.ipv6; Default: 64 (--ipv6cidr)
  std::string database;                // absolute; Default: <state_dir>/greylist.db
};

// restriction_classes (Postfix smtpd_restriction_classes): named lists of checks that an access
// map's value may name, run in place of the value ("from_outside: [permit_mynetworks,
// reject]"). Tables of their checks resolve as in a RestrictionSet. Default: none.
struct RestrictionClasses {
  std::map<std::string, std::vector<CheckSpec>> lists;
  std::map<std::string, std::string> origins;  // of each class name, "file:line:column"
  std::map<std::string, TableSpec> access_tables;
  std::map<std::string, std::string> table_errors;
};

// policy_service: check_policy_service's client settings where a check does not override them
// (Postfix's smtpd_policy_service_*; docs/configuration.md).
struct PolicyService {
  uint64_t timeout = 100;      // seconds, per try (connect, write, read); Default: 100s
  uint64_t max_idle = 300;     // seconds an unused connection stays open; Default: 300s
  uint64_t max_ttl = 1000;     // seconds after which a connection is not reused; Default: 1000s
  uint32_t try_limit = 2;      // tries per request; Default: 2
  uint64_t retry_delay = 1;    // seconds between tries; Default: 1s
  uint32_t request_limit = 0;  // requests per connection, 0 = no limit; Default: 0
  // The access(5) action when the service fails. Default: "451 4.3.5 Server configuration
  // problem"
  std::string default_action = "451 4.3.5 Server configuration problem";
  std::string policy_context;  // sent as the policy_context attribute; Default: empty
};

}  // namespace petrel::config
