// The registry of restriction checks: Postfix check names -> factories, one family of checks per
// file under source/policy/checks/. Adding a check is a class in its family's file and one line
// in source/policy/registry.cc.
//
// What a factory may use while building is in CheckEnvironment: relay.mynetworks and the tables
// named by check arguments ("check_client_access cidr:/etc/petrel/clients"), already built.
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
  // The restriction classes access maps may name (restrictions.h); null = none.
  std::shared_ptr<const RestrictionClasses> classes;
};

// What a factory gets: the check as written, split into its name and argument.
struct CheckArgs {
  std::string_view text;      // "check_client_access cidr:/etc/petrel/clients"
  std::string_view name;      // "check_client_access"
  std::string_view argument;  // "cidr:/etc/petrel/clients", or empty
  Stage stage;
  const CheckEnvironment& env;
};

struct CheckType {
  std::string_view name;
  Result<CheckPtr> (*make)(const CheckArgs& args);
  bool takes_table;  // the argument is a table reference the config resolves
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
