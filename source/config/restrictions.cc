// The `restrictions:` section: named sets of Postfix-style restriction lists, one list per
// stage, plus delay_reject; the built-in sets `default` and `submission`; and finish(), which
// checks each listener's set name once the sets are known. Also `restriction_classes:` (Postfix
// smtpd_restriction_classes), named lists in the same form.
//
// A check is kept as its text and origin (CheckSpec); check names are not known here. The one
// thing the loader does for a check is the one it does everywhere: in an entry "NAME ARG" it
// resolves ARG as a table reference when it is one, so that relative paths are relative to
// the config file and the tables open with the rest. An ARG that does not resolve keeps its
// problem in RestrictionSet::table_errors: only the area that owns NAME knows whether NAME
// takes a table, and reports it (server/config_checks.cc).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "loader.h"
#include "petrel/core/strings.h"

namespace petrel::config {

std::array<std::pair<std::string_view, const std::vector<CheckSpec>*>, 6> RestrictionSet::stages()
    const {
  return {{{"client", &client},
           {"helo", &helo},
           {"sender", &sender},
           {"recipient", &recipient},
           {"data", &data},
           {"end_of_data", &end_of_data}}};
}

namespace detail {

namespace {

// A built-in set: its recipient list, as if written in a file of its own.
RestrictionSet builtInSet(std::string_view name, std::initializer_list<std::string_view> checks) {
  RestrictionSet set;
  size_t i = 0;
  for (std::string_view check : checks) {
    set.recipient.push_back({std::string(check), std::string(BuiltIn),
                             fmt::format("restrictions.{}.recipient[{}]", name, i++)});
  }
  set.origin = BuiltIn;
  return set;
}

}  // namespace

void Loader::loadRestrictions(const Section& top, Config& c) {
  loadRestrictionClasses(top, c);
  if (const Field* f = top.find("restrictions")) {
    Section sets(reporter_, *f);
    for (const Field& set : sets.fields()) {
      declared_restriction_sets_.insert(set.key);
      if (!isName(set.key)) {
        reporter_.add(set.key_node.Mark(),
                      fmt::format("restrictions: '{}' is not a valid restriction set name (use "
                                  "letters, digits, '-', '_' and '.')",
                                  set.key));
        continue;
      }
      if (auto rs = restrictionSet(set, c)) {
        c.restrictions.emplace(set.key, std::move(*rs));
      }
    }
  }
  // The built-in sets (config.h); a set of the same name in the file replaces one entirely.
  if (!declared_restriction_sets_.contains("default")) {
    c.restrictions.emplace("default",
                           builtInSet("default", {"permit_mynetworks", "permit_sasl_authenticated",
                                                  "reject_unauth_destination"}));
  }
  if (!declared_restriction_sets_.contains("submission")) {
    c.restrictions.emplace("submission",
                           builtInSet("submission", {"reject_sender_login_mismatch",
                                                     "permit_sasl_authenticated", "reject"}));
  }
}

// A set with problems of its own is still returned (and remembered as broken), so that the
// validators see, and report, its other checks in the same run.
std::optional<RestrictionSet> Loader::restrictionSet(const Field& f, const Config& c) {
  Section s(reporter_, f);
  if (!s.isMapping()) {
    return std::nullopt;
  }
  s.allowOnly({"client", "helo", "sender", "recipient", "data", "end_of_data", "delay_reject"});
  RestrictionSet set;
  set.origin = reporter_.where(f.key_node.Mark());
  if (const Field* d = s.find("delay_reject")) {
    if (auto v = boolean(*d)) {
      set.delay_reject = *v;
    } else {
      broken_restriction_sets_.insert(f.key);
    }
  }
  loadStages(s, f.key, c, set);
  return set;
}

void Loader::loadStages(const Section& s, const std::string& set_name, const Config& c,
                        RestrictionSet& set) {
  const std::array<std::pair<std::string_view, std::vector<CheckSpec>*>, 6> stages{{
      {"client", &set.client},
      {"helo", &set.helo},
      {"sender", &set.sender},
      {"recipient", &set.recipient},
      {"data", &set.data},
      {"end_of_data", &set.end_of_data},
  }};
  for (auto [stage, checks] : stages) {
    const Field* list = s.find(stage);
    if (list == nullptr || list->value.IsNull()) {
      continue;
    }
    if (!loadCheckList(*list, c, *checks, set.access_tables, set.table_errors)) {
      broken_restriction_sets_.insert(set_name);
    }
  }
}

// One list of checks (a stage's, a restriction class's); false when some entry was wrong.
bool Loader::loadCheckList(const Field& list, const Config& c, std::vector<CheckSpec>& checks,
                           std::map<std::string, TableSpec>& access_tables,
                           std::map<std::string, std::string>& table_errors) {
  if (!list.value.IsSequence()) {
    report(list, fmt::format("expected a list of restrictions, got {}", describe(list.value)));
    return false;
  }
  bool ok = true;
  size_t i = 0;
  for (const YAML::Node& node : list.value) {
    Field item = element(list, node, i++);
    auto entry = scalar(item, "a restriction name");
    if (!entry) {
      ok = false;
      continue;
    }
    CheckSpec check{*entry, reporter_.where(item.mark()), item.path};
    // "NAME ARG": ARG may be a table reference ("check_client_access cidr:clients.cidr").
    // An entry that starts with a space has no NAME; it stays as written, and wrong.
    size_t space = entry->find(' ');
    std::string ref =
        space == std::string::npos || space == 0 ? "" : std::string(trim(entry->substr(space)));
    if (!ref.empty()) {
      Result<TableSpec> table = tableRefQuiet(ref, item, c);
      if (table) {
        check.text = fmt::format("{} {}", entry->substr(0, space), ref);
        access_tables.emplace(ref, std::move(*table));
      } else {
        table_errors.emplace(ref, table.error().message());
      }
    }
    checks.push_back(std::move(check));
  }
  return ok;
}

// restriction_classes: NAME: [CHECK, ...] (Postfix smtpd_restriction_classes). Names are
// checked by policy when the classes are built (they may not be check names or action words).
void Loader::loadRestrictionClasses(const Section& top, Config& c) {
  const Field* f = top.find("restriction_classes");
  if (f == nullptr || f->value.IsNull()) {
    return;
  }
  Section classes(reporter_, *f);
  for (const Field& cls : classes.fields()) {
    if (!isName(cls.key)) {
      reporter_.add(cls.key_node.Mark(),
                    fmt::format("restriction_classes: '{}' is not a valid class name (use "
                                "letters, digits, '-', '_' and '.')",
                                cls.key));
      continue;
    }
    RestrictionClasses& rc = c.restriction_classes;
    rc.origins[cls.key] = reporter_.where(cls.key_node.Mark());
    loadCheckList(cls, c, rc.lists[cls.key], rc.access_tables, rc.table_errors);
  }
}

// A listener's restrictions: must name a set; checked after all sets, built-ins included, are
// known, and after the validators: a set they found a wrong check in is not listed as known
// (it did not load), though naming it is no error of its own (the set's errors say what is
// wrong). A set that was declared but is broken has its own errors already.
void Loader::finish(const Config& c, const std::vector<ConfigError>& found) {
  std::set<std::string> broken = broken_restriction_sets_;
  std::set<std::string> failed_checks;  // the origins validators reported at
  for (const ConfigError& e : found) {
    failed_checks.insert(e.where);
  }
  for (const auto& [name, set] : c.restrictions) {
    for (auto [stage, checks] : set.stages()) {
      for (const CheckSpec& check : *checks) {
        if (failed_checks.contains(check.origin)) {
          broken.insert(name);
        }
      }
    }
  }
  for (const Field& ref : restriction_refs_) {
    const std::string& name = ref.value.Scalar();
    if (c.restrictions.contains(name) || declared_restriction_sets_.contains(name)) {
      continue;
    }
    std::vector<std::string> known;
    for (const auto& entry : c.restrictions) {
      if (!broken.contains(entry.first)) {
        known.push_back(entry.first);
      }
    }
    report(ref,
           fmt::format("unknown restriction set '{}' (known: {})", name, fmt::join(known, ", ")));
  }
}

}  // namespace detail
}  // namespace petrel::config
