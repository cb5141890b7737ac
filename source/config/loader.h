// The machinery the config sections share: problems with positions (Reporter), the mapping
// reader that reports duplicate and unknown keys (Section, Field), and the Loader whose value
// readers (scalar, number, size, duration, path, endpoint, table references) every section
// uses. Each section of the file has its own source file in this directory that defines its
// Loader::load* methods; load.cc drives them and runs the validators.
//
// This header is private to source/config/, the only place that includes yaml-cpp. Nothing
// here knows what a restriction check is: check names are validated by the areas that own
// them (config::Validator), so config/ includes nothing above core/.
//
// Nothing here calls operator[] on a node: the node it returns for a missing key has no mark
// to report.
#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "petrel/config/config.h"

namespace petrel::config::detail {

namespace fs = std::filesystem;

constexpr std::string_view DefaultMailRoot = "/var/lib/petrel/mail";
constexpr std::string_view DefaultStateDir = "/var/lib/petrel";
constexpr uint16_t DefaultStatusPort = 8025;
constexpr uint64_t MaxWorkers = 64;
// RFC 5321 4.5.3.1.4 and 4.5.3.1.6: we may accept longer lines, never demand shorter ones.
constexpr uint64_t MinCommandLineLength = 512;
constexpr uint64_t MinTextLineLength = 1000;
constexpr std::string_view CredentialsDbName = "credentials.db";
constexpr std::string_view GreylistDbName = "greylist.db";
// The origin of values the file did not write (built-in restriction sets, default mynetworks).
constexpr std::string_view BuiltIn = "(built-in)";

// ---- reporting -------------------------------------------------------------------------------

// A problem at a 0-based yaml-cpp position; line -1 means the file as a whole (or, with
// `where` set, a place a validator named that is not a position in this file).
struct Problem {
  int line = -1;
  int column = -1;
  std::string message;
  std::string where;  // only for line -1: printed instead of the file name when not empty
};

class Reporter {
 public:
  explicit Reporter(std::string file) : file_(std::move(file)) {}

  void add(const YAML::Mark& mark, std::string message);
  // An error a validator found; its "file:line:column" is read back into a position so that
  // it sorts in with the loader's own.
  void add(const ConfigError& error);

  // "file:line:column", 1-based, as editors and compilers print it.
  std::string where(const YAML::Mark& mark) const;

  bool empty() const { return problems_.empty(); }

  // Sorted by position; problems at the same place keep the order they were found in.
  std::vector<ConfigError> errors() const;

 private:
  std::string file_;
  std::vector<Problem> problems_;
};

// How a node reads in "expected X, got Y".
std::string describe(const YAML::Node& node);

size_t editDistance(std::string_view a, std::string_view b);

// " (did you mean 'x'?)" when one candidate is a likely typo of `word`, else "".
template <typename Candidates>
std::string suggestion(std::string_view word, const Candidates& candidates) {
  std::string_view best;
  size_t best_distance = 3;  // more than two edits away is a different word, not a typo
  for (std::string_view candidate : candidates) {
    // One edit in three letters at most: "adress" -> "address", but not "foo" -> "log".
    size_t d = editDistance(word, candidate);
    if (d < best_distance && d * 3 <= word.size()) {
      best = candidate;
      best_distance = d;
    }
  }
  return best.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", best);
}

// ---- small validators ------------------------------------------------------------------------

bool isAsciiAlnum(char c);
bool hasControlChars(std::string_view s);
// Listener, table and restriction set names appear in logs and in table references, where
// ':' would make them look like "type:argument".
bool isName(std::string_view s);
// RFC 1035 2.3.1 preferred name syntax, digits allowed first (RFC 1123 2.1); not an IP.
bool looksLikeDomain(std::string_view s);
// Absolute and lexically normal, without a trailing '/': "var/mail/" -> "<base>/var/mail".
std::string resolvePath(const fs::path& base, std::string_view text);
// "5m" rather than "300s" when the value came from a config that probably said "5m".
std::string formatDuration(uint64_t seconds);
// Two bind addresses overlap when the kernel would refuse the second one.
bool overlaps(const Endpoint& a, const Endpoint& b);

// The table types that read one file (file, regexp, cidr), named by `path:` under tables:
// or inline as "type:/path". Each is a backend in source/lookup/backends/.
bool isFileTableType(std::string_view type);
// Any type a `tables:` entry may have: inline, the file types and the remote ones.
bool isTableType(std::string_view type);
std::string unknownTableType(std::string_view type);
// An inline reference "type:argument" as in Postfix; the caller reports the error where it
// was written. `spec.origin` is left to the caller.
Result<TableSpec> inlineTableRef(std::string_view ref, const fs::path& base_dir);

// ---- reading mappings ------------------------------------------------------------------------

// One key: value pair of a mapping, with the dotted path used in messages.
struct Field {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
  std::string path;  // "limits.message_size", "listeners[0].address"

  // Where problems with the value are reported. An empty value ("key:" and nothing) carries
  // the mark of whatever follows it, often the next line, so those point at the key instead.
  YAML::Mark mark() const { return value.IsNull() ? key_node.Mark() : value.Mark(); }
};

// The i-th element of a list field, as a field of its own ("aliases[1]").
Field element(const Field& list, const YAML::Node& node, size_t i);

// A mapping node being read. A null node counts as an empty mapping, so a section whose keys
// are all commented out means "all defaults".
class Section {
 public:
  // `mark` is where keys missing from this section are reported (the section's own node, or
  // its key when the value is empty); `path` is "" for the top level.
  Section(Reporter& reporter, const YAML::Node& node, const YAML::Mark& mark, std::string path);
  Section(Reporter& reporter, const Field& field)
      : Section(reporter, field.value, field.mark(), field.path) {}

  bool isMapping() const { return is_mapping_; }
  const YAML::Mark& mark() const { return mark_; }
  const std::vector<Field>& fields() const { return fields_; }

  const Field* find(std::string_view key) const;
  // Like find(), but a missing key is an error, reported at this section; `hint` follows it.
  const Field* require(std::string_view key, std::string_view hint = {}) const;
  // Reports every key that is not in `known`.
  void allowOnly(std::initializer_list<std::string_view> known) const {
    allowOnly(std::vector<std::string_view>(known));
  }
  void allowOnly(const std::vector<std::string_view>& known) const;

 private:
  // YAML merge keys ("<<: *defaults"), which yaml-cpp leaves to the reader (loader.cc).
  static constexpr int MaxMergeDepth = 8;
  void mergeKeys(const YAML::Node& value, int depth = 1);
  std::string inPath() const { return path_.empty() ? std::string() : " in " + path_; }
  std::string childPath(const std::string& key) const {
    return path_.empty() ? key : fmt::format("{}.{}", path_, key);
  }

  Reporter& reporter_;
  YAML::Mark mark_;
  std::string path_;
  bool is_mapping_ = true;
  std::vector<YAML::Node> merged_;  // mappings merged in by "<<" keys
  std::vector<Field> fields_;
};

// ---- the loader ------------------------------------------------------------------------------

class Loader {
 public:
  Loader(Reporter& reporter, fs::path base_dir)
      : reporter_(reporter), base_dir_(std::move(base_dir)) {}

  // Every section; everything but the listeners' restriction set names (finish()).
  Config load(const YAML::Node& root, const YAML::Mark& root_mark);
  // Once the validators have run (`found` is what they reported): each listener's
  // `restrictions:` must name a set that loaded. restrictions.cc.
  void finish(const Config& c, const std::vector<ConfigError>& found);

 private:
  void report(const Field& f, std::string_view problem) {
    reporter_.add(f.mark(), fmt::format("{}: {}", f.path, problem));
  }

  // Value readers: each reports what is wrong and returns nullopt. loader.cc.
  std::optional<std::string> scalar(const Field& f, std::string_view expected);
  std::optional<std::string> text(const Field& f) { return scalar(f, "a string"); }
  std::optional<uint64_t> number(const Field& f, uint64_t min, uint64_t max);
  std::optional<uint64_t> size(const Field& f);
  std::optional<uint64_t> duration(const Field& f);
  std::optional<uint64_t> quantity(const Field& f, std::string_view expected,
                                   std::optional<uint64_t> (*parse)(std::string_view));
  std::optional<bool> boolean(const Field& f);
  std::optional<std::string> path(const Field& f);
  std::optional<Endpoint> endpoint(const Field& f);
  // Table references (tables.cc).
  std::optional<TableSpec> tableRef(const Field& f, const Config& c);
  std::optional<TableSpec> tableRefText(const Field& f, const std::string& text, const Config& c);
  // The same, reporting nothing: the problem's text, "" for a declared table that is broken.
  Result<TableSpec> tableRefQuiet(const std::string& ref, const Field& f, const Config& c);
  // One of `options`, spelled exactly; otherwise "expected a, b or c, got 'x'".
  template <typename T>
  std::optional<T> oneOf(const Field& f,
                         std::initializer_list<std::pair<std::string_view, T>> options) {
    std::string expected;
    size_t i = 0;
    for (const auto& option : options) {
      if (i > 0) {
        expected += i + 1 == options.size() ? " or " : ", ";
      }
      expected += option.first;
      ++i;
    }
    auto v = scalar(f, expected);
    if (!v) {
      return std::nullopt;
    }
    for (const auto& [word, value] : options) {
      if (*v == word) {
        return value;
      }
    }
    report(f, fmt::format("expected {}, got '{}'", expected, *v));
    return std::nullopt;
  }

  // Setters: leave `out` (the default) alone when the key is absent or wrong.
  template <typename T>
  void setNumber(const Section& s, std::string_view key, T& out, uint64_t min) {
    if (const Field* f = s.find(key)) {
      if (auto v = number(*f, min, std::numeric_limits<T>::max())) {
        out = static_cast<T>(*v);
      }
    }
  }
  void setSize(const Section& s, std::string_view key, uint64_t& out) {
    if (const Field* f = s.find(key)) {
      out = size(*f).value_or(out);
    }
  }
  void setDuration(const Section& s, std::string_view key, uint64_t& out) {
    if (const Field* f = s.find(key)) {
      out = duration(*f).value_or(out);
    }
  }
  void setBool(const Section& s, std::string_view key, bool& out) {
    if (const Field* f = s.find(key)) {
      out = boolean(*f).value_or(out);
    }
  }
  void setPath(const Section& s, std::string_view key, std::string& out) {
    if (const Field* f = s.find(key)) {
      out = path(*f).value_or(out);
    }
  }

  // The sections, each in the file of its name.
  void loadHostname(const Section& top, Config& c);  // load.cc
  void loadWorkers(const Section& top, Config& c);   // load.cc
  void loadTables(const Section& top, Config& c);    // tables.cc
  std::optional<TableSpec> table(const Field& f);
  bool inlineMap(const Field& f, std::map<std::string, std::string>& entries);
  bool remoteTable(const Section& s, const std::string& kind, TableSpec& spec);
  void loadListeners(const Section& top, Config& c);  // listeners.cc
  void loadListenerSecurity(const Section& s, Listener& listener);
  void loadProxyFilter(const Section& s, Listener& listener);
  void loadDomains(const Section& top, Config& c);  // domains.cc
  std::vector<std::string> domainList(const Field& f, const std::vector<std::string>& taken);
  void loadMailboxes(const Section& top, Config& c);
  void loadAliases(const Section& top, Config& c);
  void loadRecipientDelimiter(const Section& top, Config& c);
  void loadCanonical(const Section& top, Config& c);
  void loadLimits(const Section& top, Config& c);  // limits.cc
  void loadRateLimits(const Field& f, RateLimits& r);
  void loadTls(const Section& top, Config& c);     // tls.cc
  void loadAuth(const Section& top, Config& c);    // auth.cc
  void loadMechanisms(const Field& f, Auth& a);
  void loadRelay(const Section& top, Config& c);  // relay.cc
  void loadRelayhostAuth(const Field& f, Relay& r);
  void loadMynetworks(const Field& m, Config& c);
  void loadRestrictions(const Section& top, Config& c);  // restrictions.cc
  std::optional<RestrictionSet> restrictionSet(const Field& f, const Config& c);
  void loadRestrictionClasses(const Section& top, Config& c);
  bool loadCheckList(const Field& list, const Config& c, std::vector<CheckSpec>& checks,
                     std::map<std::string, TableSpec>& access_tables,
                     std::map<std::string, std::string>& table_errors);
  void loadStages(const Section& s, const std::string& set_name, const Config& c,
                  RestrictionSet& set);
  void loadSmtp(const Section& top, Config& c);      // smtp.cc
  std::optional<uint64_t> greetPause(const Field& f);
  void loadParentDomainFeatures(const Field& f, Smtp& smtp);
  void loadQueue(const Section& top, Config& c);     // queue.cc
  void loadDelivery(const Section& top, Config& c);  // delivery.cc
  void loadTransports(const Section& top, Config& c);  // transports.cc
  void loadDeliveryTransport(const Field& f, Config& c);
  void loadSmtpTransport(const Section& s, SmtpTransportSettings& out);
  void loadLmtpTransport(const Section& s, LmtpTransportSettings& out);
  void loadPipeTransport(const Section& s, PipeTransportSettings& out);
  void loadDns(const Section& top, Config& c);       // dns.cc
  void loadStatus(const Section& top, Config& c);    // status.cc
  void loadLog(const Section& top, Config& c);       // log.cc
  void loadPolicyService(const Section& top, Config& c);  // policy_service.cc
  void loadGreylisting(const Section& top, Config& c);  // greylisting.cc
  void loadDkim(const Section& top, Config& c);         // dkim.cc
  bool loadSigningEntry(const Field& entry, Dkim::SignEntry& out, bool for_arc);  // dkim.cc
  void loadArc(const Section& top, Config& c);          // arc.cc
  void loadDmarc(const Section& top, Config& c);        // dmarc.cc
  void loadChecks(const Section& top, Config& c);       // checks.cc
  void loadSrs(const Section& top, Config& c);          // srs.cc
  void loadDoctor(const Section& top, Config& c);       // doctor.cc
  void loadFilters(const Section& top, Config& c);      // filters.cc
  // A list of milters (filters.milters, listeners[].milters); nullopt when it is not a list.
  std::optional<std::vector<MilterEndpoint>> milterList(const Field& f);  // filters.cc
  // An after-queue content filter: "transport:nexthop", or false for none (an empty name).
  std::optional<TransportRef> contentFilterRef(const Field& f, const Config& c);  // filters.cc
  void loadReceiveOverrides(const Field& f, ReceiveOverrides& out);              // filters.cc

  Reporter& reporter_;
  fs::path base_dir_;
  // Every name under tables:, valid or not, so that a reference to a broken table does not
  // add "unknown table" to the error already reported for it.
  std::set<std::string> declared_tables_;
  // Where each entry of Config::listeners was written, for the status address check.
  std::vector<YAML::Mark> listener_marks_;
  // Every listener's `restrictions:` field, checked by finish() once the sets are known.
  std::vector<Field> restriction_refs_;
  // Listeners' content_filter fields (index into Config::listeners), read by loadFilters once
  // the transports are known.
  std::vector<std::pair<size_t, Field>> listener_filters_;
  // The fields of the domains the last domainList() call returned.
  std::vector<Field> domain_fields_;
  // Every name under restrictions:, valid or not (as declared_tables_).
  std::set<std::string> declared_restriction_sets_;
  // The sets in Config::restrictions with a problem of their own (a stage that is not a
  // list, an entry that is not a string): kept so that validators see their other checks.
  std::set<std::string> broken_restriction_sets_;
};

}  // namespace petrel::config::detail
