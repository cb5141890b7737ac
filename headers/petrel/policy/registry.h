// The registry of restriction checks: Postfix check names -> factories, one family of checks per
// file under source/policy/checks/. Adding a check is a class in its family's file and one line
// in source/policy/registry.cc.
//
// What a factory may use while building is in CheckEnvironment: relay.mynetworks and the tables
// named by check arguments ("check_client_access cidr:/etc/petrel/clients"), already built,
// and the greylist store (check_greylist).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/cidr.h"
#include "petrel/core/result.h"
#include "petrel/lookup/lookup_table.h"
#include "petrel/policy/check.h"
#include "petrel/policy/policy_service.h"
#include "petrel/policy/greylist.h"

namespace petrel::policy {

class RestrictionClasses;

// relay.mynetworks: its blocks, and the table when it is written as one. Shared by every
// permit_mynetworks of the lists built from one environment.
struct Mynetworks {
  CidrList blocks;
  lookup::TablePtr table;  // or null
};

struct CheckEnvironment {
  using Tables = std::function<lookup::TablePtr(const std::string& ref)>;
  CheckEnvironment() : mynetworks(std::make_shared<Mynetworks>()) {}
  // Not explicit: RestrictionList::parse(stage, checks, networks) reads as it always did.
  CheckEnvironment(CidrList blocks, Tables tables_by_ref = {})
      : mynetworks(std::make_shared<Mynetworks>(Mynetworks{std::move(blocks), nullptr})),
        tables(std::move(tables_by_ref)) {}

  std::shared_ptr<Mynetworks> mynetworks;
  Tables tables;  // the table of a check argument by its reference text; null = unknown
  // check_policy_service's client settings where the check does not override them (the
  // config's policy_service: section, Postfix's smtpd_policy_service_*).
  PolicyServiceSettings policy_service;
  // greylisting: settings, store and counters for check_greylist; null when greylisting is
  // not enabled (then check_greylist is a config error).
  std::shared_ptr<const Greylist> greylist;
  // The restriction classes access maps may name (restrictions.h); null = none.
  std::shared_ptr<const RestrictionClasses> classes;
  // Access maps: does a parent domain key "example.com" match its subdomains (Postfix
  // parent_domain_matches_subdomains naming smtpd_access_maps; smtp.parent_domain_matches_
  // subdomains)? ".example.com" keys match them either way. Default: true, as Postfix.
  bool parent_domain_matches_subdomains = true;
  // permit_mx_backup_networks: permit_mx_backup permits only when a primary MX host of the
  // domain has an address in these networks. Empty: no such restriction (Postfix's default).
  CidrList mx_backup_networks;
  // recipient_delimiter: access maps also look up "user+foo@example.org" as "user@example.org"
  // and "user@". Default: "" (none).
  std::string recipient_delimiter;
};

// What a factory gets: the check as written, split into its name and argument.
struct CheckArgs {
  std::string_view text;      // "check_client_access cidr:/etc/petrel/clients"
  std::string_view name;      // "check_client_access"
  std::string_view argument;  // "cidr:/etc/petrel/clients", or empty
  Stage stage;
  const CheckEnvironment& env;
};

// What follows a check's name.
enum class CheckArgument : uint8_t {
  None,   // written alone: "permit_mynetworks"
  Table,  // a table reference the config resolves: "check_client_access clients"
  Text,   // anything else the check parses itself: "reject_rbl_client zen.spamhaus.org"
};

struct CheckType {
  std::string_view name;
  Result<CheckPtr> (*make)(const CheckArgs& args);
  CheckArgument argument;
};

// Every check type, in the order docs/configuration.md lists them.
const std::vector<CheckType>& checkTypes();

// Builds one check from its text. Config errors: "unknown restriction 'x' (known: ...)",
// "check_client_access: no table 'ref'".
Result<CheckPtr> makeCheck(std::string_view text, Stage stage, const CheckEnvironment& env);

// The names of the checks that take no argument, in registry order (for error messages).
const std::vector<std::string>& knownRestrictions();

// "check_client_access REF", "check_sender_access REF", ... (every check that takes a table).
bool isAccessCheck(std::string_view check);

}  // namespace petrel::policy
