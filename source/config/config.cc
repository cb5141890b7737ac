// Loads one YAML file into the typed Config of headers/petrel/config/config.h.
//
// This file owns the walk over the YAML tree: type checks, defaults, path resolution, table
// references and the checks that span several keys. It collects every problem it finds, each
// with the 1-based file:line:column of the offending node (of the parent, for a missing key),
// sorted by position; it never stops at the first one and never throws.
//
// It deliberately does not open tables or certificate files, bind addresses or create
// directories: a config that loads can still fail to start, and the areas that own those
// resources report that. mynetworks blocks and restriction names are checked with the same
// parser (core's Cidr) and name list (policy's) the server uses, so they cannot disagree.
//
// yaml-cpp stays inside source/config/. All reading goes through Section, which checks that a
// node is a mapping and reports duplicate and unknown keys. Nothing here calls operator[] on a
// node: the node it returns for a missing key has no mark to report.
#include "petrel/config/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "petrel/core/cidr.h"
#include "petrel/core/strings.h"
#include "petrel/policy/restrictions.h"

namespace petrel::config {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view DefaultMailRoot = "/var/lib/petrel/mail";
constexpr std::string_view DefaultStateDir = "/var/lib/petrel";
constexpr uint16_t DefaultStatusPort = 8025;
constexpr uint64_t MaxWorkers = 64;
// RFC 5321 4.5.3.1.4 and 4.5.3.1.6: we may accept longer lines, never demand shorter ones.
constexpr uint64_t MinCommandLineLength = 512;
constexpr uint64_t MinTextLineLength = 1000;
constexpr std::string_view CredentialsDbName = "credentials.db";
// The origin of values the file did not write (built-in restriction sets, default mynetworks).
constexpr std::string_view BuiltIn = "(built-in)";
constexpr std::array<std::string_view, 2> KnownMechanisms{"PLAIN", "LOGIN"};

// ---- reporting -------------------------------------------------------------------------------

// A problem at a 0-based yaml-cpp position; line -1 means the file as a whole.
struct Problem {
  int line = -1;
  int column = -1;
  std::string message;
};

class Reporter {
 public:
  explicit Reporter(std::string file) : file_(std::move(file)) {}

  void add(const YAML::Mark& mark, std::string message) {
    if (mark.is_null()) {
      problems_.push_back({-1, -1, std::move(message)});
    } else {
      problems_.push_back({mark.line, mark.column, std::move(message)});
    }
  }

  // "file:line:column", 1-based, as editors and compilers print it.
  std::string where(const YAML::Mark& mark) const {
    if (mark.is_null()) {
      return file_;
    }
    return fmt::format("{}:{}:{}", file_, mark.line + 1, mark.column + 1);
  }

  bool empty() const { return problems_.empty(); }

  // Sorted by position; problems at the same place keep the order they were found in.
  std::vector<ConfigError> errors() const {
    std::vector<Problem> sorted = problems_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Problem& a, const Problem& b) {
      return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    std::vector<ConfigError> out;
    for (const Problem& p : sorted) {
      std::string where =
          p.line < 0 ? file_ : fmt::format("{}:{}:{}", file_, p.line + 1, p.column + 1);
      out.push_back({std::move(where), p.message});
    }
    return out;
  }

 private:
  std::string file_;
  std::vector<Problem> problems_;
};

// How a node reads in "expected X, got Y".
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return fmt::format("'{}'", node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

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

bool isAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool hasControlChars(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// Listener and table names appear in logs and in table references, where ':' would make
// them look like "type:argument".
bool isName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return isAsciiAlnum(c) || c == '-' || c == '_' || c == '.';
  });
}

// RFC 1035 2.3.1 preferred name syntax (letters, digits, inner hyphens; labels up to 63,
// names up to 253 octets), with digits allowed first (RFC 1123 2.1). An all-digit last label
// is refused because that is an IP address, which is not a domain.
bool looksLikeDomain(std::string_view s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  std::vector<std::string_view> labels = split(s, '.');
  for (std::string_view label : labels) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    if (!std::all_of(label.begin(), label.end(),
                     [](char c) { return isAsciiAlnum(c) || c == '-'; })) {
      return false;
    }
  }
  std::string_view last = labels.back();
  return !std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string systemHostname() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0 || name[0] == '\0') {
    return "localhost";
  }
  return std::string(name.data());
}

// Absolute and lexically normal, without a trailing '/': "var/mail/" -> "<base>/var/mail".
std::string resolvePath(const fs::path& base, std::string_view text) {
  fs::path p(text);
  fs::path resolved = (p.is_absolute() ? p : base / p).lexically_normal();
  if (!resolved.has_filename() && resolved != resolved.root_path()) {
    resolved = resolved.parent_path();
  }
  return resolved.string();
}

// The table types that read one file, named by `path:` under tables: or inline as
// "type:/path". Each is a backend in source/lookup/backends/.
constexpr std::array<std::string_view, 3> FileTableTypes = {"file", "regexp", "cidr"};

bool isFileTableType(std::string_view type) {
  return std::find(FileTableTypes.begin(), FileTableTypes.end(), type) != FileTableTypes.end();
}

std::string unknownTableType(std::string_view type) {
  return fmt::format(
      "unknown table type '{}' (known: inline, file, regexp, cidr, sqlite, pgsql, mysql, ldap)",
      type);
}

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

// "5m" rather than "300s" when the value came from a config that probably said "5m".
std::string formatDuration(uint64_t seconds) {
  constexpr std::array<std::pair<uint64_t, char>, 4> units{
      {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}};
  for (auto [size, unit] : units) {
    if (seconds != 0 && seconds % size == 0) {
      return fmt::format("{}{}", seconds / size, unit);
    }
  }
  return "0s";
}

bool isWildcard(const std::string& host) { return host == "0.0.0.0" || host == "::"; }

// Two bind addresses overlap when the kernel would refuse the second one: same port, and the
// same host or a wildcard of the same family.
bool overlaps(const Endpoint& a, const Endpoint& b) {
  if (a.port != b.port) {
    return false;
  }
  bool a_v6 = a.host.find(':') != std::string::npos;
  bool b_v6 = b.host.find(':') != std::string::npos;
  return a.host == b.host || (a_v6 == b_v6 && (isWildcard(a.host) || isWildcard(b.host)));
}

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
Field element(const Field& list, const YAML::Node& node, size_t i) {
  return Field{list.key, list.key_node, node, fmt::format("{}[{}]", list.path, i)};
}

// A mapping node being read. A null node counts as an empty mapping, so a section whose keys
// are all commented out means "all defaults".
class Section {
 public:
  // `mark` is where keys missing from this section are reported (the section's own node, or
  // its key when the value is empty); `path` is "" for the top level.
  Section(Reporter& reporter, const YAML::Node& node, const YAML::Mark& mark, std::string path)
      : reporter_(reporter), mark_(mark), path_(std::move(path)) {
    if (node.IsNull()) {
      return;
    }
    if (!node.IsMap()) {
      is_mapping_ = false;
      reporter_.add(mark_, path_.empty() ? fmt::format("expected a mapping of keys to values at "
                                                       "the top level, got {}",
                                                       describe(node))
                                         : fmt::format("{}: expected a mapping, got {}", path_,
                                                       describe(node)));
      return;
    }
    std::vector<YAML::Node> merged;  // the values of "<<" keys, in order
    for (const auto& entry : node) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) {
        reporter_.add(key.Mark(),
                      fmt::format("expected a plain key{}, got {}", inPath(), describe(key)));
        continue;
      }
      if (key.Scalar() == "<<" && key.Tag() == "?") {  // a plain <<, not a quoted one
        merged.push_back(entry.second);
        continue;
      }
      if (const Field* first = find(key.Scalar())) {
        reporter_.add(key.Mark(),
                      fmt::format("duplicate key '{}'{} (first at line {})", key.Scalar(), inPath(),
                                  first->key_node.Mark().line + 1));
        continue;
      }
      fields_.push_back(Field{key.Scalar(), key, entry.second, childPath(key.Scalar())});
    }
    for (const YAML::Node& value : merged) mergeKeys(value);
  }

  Section(Reporter& reporter, const Field& field)
      : Section(reporter, field.value, field.mark(), field.path) {}

  // YAML merge keys ("<<: *defaults", "<<: [*a, *b]"), which yaml-cpp leaves to the reader:
  // the keys of the merged mappings this mapping does not set itself, the first mapping
  // winning over later ones (as the YAML 1.1 merge type says). Merges may nest, at most
  // MaxMergeDepth deep; an anchor merged into itself is an error, not an endless loop.
  // Each mapping is merged once (`merged_` by identity), so aliases repeated in lists cannot
  // multiply the work.
  static constexpr int MaxMergeDepth = 8;
  void mergeKeys(const YAML::Node& value, int depth = 1) {
    for (const YAML::Node& seen : merged_) {
      if (seen.is(value)) return;
    }
    merged_.push_back(value);
    if (depth > MaxMergeDepth) {
      reporter_.add(value.Mark(), fmt::format("{}: merges nest more than {} deep (or a mapping "
                                              "merges itself)",
                                              childPath("<<"), MaxMergeDepth));
      return;
    }
    if (value.IsSequence()) {
      for (const auto& item : value) mergeKeys(item, depth + 1);
      return;
    }
    if (!value.IsMap()) {
      reporter_.add(value.Mark(),
                    fmt::format("{}: expected a mapping (or a list of them) to merge, got {}",
                                childPath("<<"), describe(value)));
      return;
    }
    std::vector<YAML::Node> nested;
    for (const auto& entry : value) {
      const YAML::Node& key = entry.first;
      if (key.IsScalar() && key.Scalar() == "<<" && key.Tag() == "?") {
        nested.push_back(entry.second);
        continue;
      }
      if (!key.IsScalar() || find(key.Scalar()) != nullptr) continue;
      fields_.push_back(Field{key.Scalar(), key, entry.second, childPath(key.Scalar())});
    }
    for (const YAML::Node& more : nested) mergeKeys(more, depth + 1);
  }

  bool isMapping() const { return is_mapping_; }
  const YAML::Mark& mark() const { return mark_; }
  const std::vector<Field>& fields() const { return fields_; }

  const Field* find(std::string_view key) const {
    auto it =
        std::find_if(fields_.begin(), fields_.end(), [&](const Field& f) { return f.key == key; });
    return it == fields_.end() ? nullptr : &*it;
  }

  // Like find(), but a missing key is an error, reported at this section; `hint` follows it.
  const Field* require(std::string_view key, std::string_view hint = {}) const {
    const Field* f = find(key);
    if (f == nullptr && is_mapping_) {
      reporter_.add(mark_, fmt::format("missing required key '{}'{}{}{}", key, inPath(),
                                       hint.empty() ? "" : " ", hint));
    }
    return f;
  }

  // Reports every key that is not in `known`.
  void allowOnly(std::initializer_list<std::string_view> known) const {
    allowOnly(std::vector<std::string_view>(known));
  }
  void allowOnly(const std::vector<std::string_view>& known) const {
    for (const Field& f : fields_) {
      if (std::find(known.begin(), known.end(), f.key) == known.end()) {
        reporter_.add(f.key_node.Mark(), fmt::format("unknown key '{}'{}{}", f.key, inPath(),
                                                     suggestion(f.key, known)));
      }
    }
  }

 private:
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

  Config load(const YAML::Node& root, const YAML::Mark& root_mark);

 private:
  void report(const Field& f, std::string_view problem) {
    reporter_.add(f.mark(), fmt::format("{}: {}", f.path, problem));
  }

  // Value readers: each reports what is wrong and returns nullopt.
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
  std::optional<TableSpec> tableRef(const Field& f, const Config& c);
  std::optional<TableSpec> tableRefText(const Field& f, const std::string& text, const Config& c);
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

  void loadHostname(const Section& top, Config& c);
  void loadWorkers(const Section& top, Config& c);
  void loadTables(const Section& top, Config& c);
  std::optional<TableSpec> table(const Field& f);
  bool inlineMap(const Field& f, std::map<std::string, std::string>& entries);
  void loadListeners(const Section& top, Config& c);
  void loadListenerSecurity(const Section& s, Listener& listener);
  void loadDomains(const Section& top, Config& c);
  void loadMailboxes(const Section& top, Config& c);
  void loadAliases(const Section& top, Config& c);
  void loadRecipientDelimiter(const Section& top, Config& c);
  void loadLimits(const Section& top, Config& c);
  void loadTls(const Section& top, Config& c);
  void loadAuth(const Section& top, Config& c);
  void loadMechanisms(const Field& f, Auth& a);
  void loadRelay(const Section& top, Config& c);
  void loadRestrictions(const Section& top, Config& c);
  std::optional<RestrictionSet> restrictionSet(const Field& f, const Config& c);
  void checkListenerRestrictions(const Config& c);
  void loadSmtp(const Section& top, Config& c);
  void loadQueue(const Section& top, Config& c);
  void loadDelivery(const Section& top, Config& c);
  void loadDns(const Section& top, Config& c);
  void loadRelayhostAuth(const Field& f, Relay& r);
  bool remoteTable(const Section& s, const std::string& kind, TableSpec& spec);
  std::vector<std::string> domainList(const Field& f, const std::vector<std::string>& taken);
  void loadStatus(const Section& top, Config& c);
  void loadLog(const Section& top, Config& c);

  Reporter& reporter_;
  fs::path base_dir_;
  // Every name under tables:, valid or not, so that a reference to a broken table does not
  // add "unknown table" to the error already reported for it.
  std::set<std::string> declared_tables_;
  // Where each entry of Config::listeners was written, for the status address check.
  std::vector<YAML::Mark> listener_marks_;
  // Every listener's `restrictions:` field, checked once the restriction sets are known.
  std::vector<Field> restriction_refs_;
  // The fields of the domains the last domainList() call returned.
  std::vector<Field> domain_fields_;
  // Every name under restrictions:, valid or not (as declared_tables_).
  std::set<std::string> declared_restriction_sets_;
};

std::optional<std::string> Loader::scalar(const Field& f, std::string_view expected) {
  if (!f.value.IsScalar()) {
    report(f, fmt::format("expected {}, got {}", expected, describe(f.value)));
    return std::nullopt;
  }
  return f.value.Scalar();
}

std::optional<uint64_t> Loader::number(const Field& f, uint64_t min, uint64_t max) {
  auto s = scalar(f, "a number");
  if (!s) {
    return std::nullopt;
  }
  auto v = parseUnsigned(trim(*s));
  if (!v) {
    report(f, fmt::format("expected a number, got '{}'", *s));
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    report(f, max == std::numeric_limits<uint32_t>::max() ||
                      max == std::numeric_limits<uint64_t>::max()
                  ? fmt::format("must be at least {}, got {}", min, *v)
                  : fmt::format("must be from {} to {}, got {}", min, max, *v));
    return std::nullopt;
  }
  return v;
}

// A positive quantity with an optional unit suffix; `parse` is parseSize or parseDuration.
std::optional<uint64_t> Loader::quantity(const Field& f, std::string_view expected,
                                         std::optional<uint64_t> (*parse)(std::string_view)) {
  auto s = scalar(f, expected);
  if (!s) {
    return std::nullopt;
  }
  auto v = parse(*s);
  if (!v) {
    report(f, fmt::format("expected {}, got '{}'", expected, *s));
    return std::nullopt;
  }
  if (*v == 0) {
    report(f, "must not be zero");
    return std::nullopt;
  }
  return v;
}

std::optional<uint64_t> Loader::size(const Field& f) {
  return quantity(f, "a size such as 25MB, 512k or 1000 (bytes)", &parseSize);
}

std::optional<uint64_t> Loader::duration(const Field& f) {
  return quantity(f, "a duration such as 30s, 5m, 4h, 5d or 300 (seconds)", &parseDuration);
}

std::optional<bool> Loader::boolean(const Field& f) {
  auto s = scalar(f, "true or false");
  if (!s) {
    return std::nullopt;
  }
  // The YAML 1.1 spellings too, as yaml-cpp's own as<bool>() accepts them.
  std::string word = toLower(*s);
  if (word == "true" || word == "yes" || word == "on") {
    return true;
  }
  if (word == "false" || word == "no" || word == "off") {
    return false;
  }
  report(f, fmt::format("expected true or false, got '{}'", *s));
  return std::nullopt;
}

std::optional<std::string> Loader::path(const Field& f) {
  auto s = scalar(f, "a path");
  if (!s) {
    return std::nullopt;
  }
  if (s->empty()) {
    report(f, "expected a path, got ''");
    return std::nullopt;
  }
  if (s->find('\0') != std::string::npos) {
    report(f, "a path cannot contain NUL");
    return std::nullopt;
  }
  return resolvePath(base_dir_, *s);
}

std::optional<Endpoint> Loader::endpoint(const Field& f) {
  auto s = scalar(f, "an address such as 127.0.0.1:25 or [::1]:25");
  if (!s) {
    return std::nullopt;
  }
  Result<Endpoint> r = parseEndpoint(*s);
  if (!r) {
    report(f, r.error().message());
    return std::nullopt;
  }
  return *r;
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
std::optional<TableSpec> Loader::tableRefText(const Field& f, const std::string& text,
                                              const Config& c) {
  constexpr std::string_view Expected = "a table name or type:argument";
  const std::string* ref = &text;
  if (ref->empty()) {
    report(f, fmt::format("expected {}, got ''", Expected));
    return std::nullopt;
  }
  size_t colon = ref->find(':');
  if (colon == std::string::npos) {
    if (auto it = c.tables.find(*ref); it != c.tables.end()) {
      return it->second;
    }
    if (!declared_tables_.contains(*ref)) {
      report(f, fmt::format("unknown table '{}'{}", *ref, suggestion(*ref, declared_tables_)));
    }
    return std::nullopt;
  }
  Result<TableSpec> spec = inlineTableRef(*ref, base_dir_);
  if (!spec) {
    report(f, spec.error().message());
    return std::nullopt;
  }
  spec->origin = reporter_.where(f.mark());
  return std::move(*spec);
}

Config Loader::load(const YAML::Node& root, const YAML::Mark& root_mark) {
  Config c;
  c.mail_root = DefaultMailRoot;
  c.state_dir = DefaultStateDir;
  c.status.address = Endpoint{"127.0.0.1", DefaultStatusPort};

  Section top(reporter_, root, root_mark, "");
  if (!top.isMapping()) {
    return c;
  }
  top.allowOnly({"hostname", "mail_root", "state_dir", "workers", "listeners",
                 "domains",  "tables",    "mailboxes", "aliases", "recipient_delimiter", "canonical",
                 "limits",   "tls",       "auth",      "relay",   "restrictions",
                 "smtp",     "queue",     "delivery",  "dns",     "status",  "log"});
  loadHostname(top, c);
  setPath(top, "mail_root", c.mail_root);
  setPath(top, "state_dir", c.state_dir);
  loadWorkers(top, c);
  loadTables(top, c);  // before anything that refers to a table
  loadListeners(top, c);
  loadDomains(top, c);
  loadMailboxes(top, c);
  loadAliases(top, c);
  loadRecipientDelimiter(top, c);
  if (const Field* f = top.find("canonical"); f != nullptr && !f->value.IsNull()) {
    Section cs(reporter_, *f);
    cs.allowOnly({"sender", "recipient", "headers"});
    if (const Field* t = cs.find("sender"); t != nullptr && !t->value.IsNull()) {
      c.canonical_sender = tableRef(*t, c);
    }
    if (const Field* t = cs.find("recipient"); t != nullptr && !t->value.IsNull()) {
      c.canonical_recipient = tableRef(*t, c);
    }
    if (const Field* h = cs.find("headers")) {
      using Clients = Config::HeaderRewriteClients;
      if (auto v = oneOf<Clients>(
              *h, {{"local", Clients::Local}, {"all", Clients::All}, {"none", Clients::None}})) {
        c.canonical_headers = *v;
      }
    }
  }
  loadLimits(top, c);
  loadTls(top, c);
  loadAuth(top, c);  // after state_dir and tables
  loadRelay(top, c);
  loadRestrictions(top, c);
  checkListenerRestrictions(c);
  loadSmtp(top, c);
  loadQueue(top, c);
  loadDelivery(top, c);
  loadDns(top, c);
  loadStatus(top, c);
  loadLog(top, c);
  if (c.smtp.banner.empty()) {
    c.smtp.banner = fmt::format("{} ESMTP Petrel", c.hostname);
  }
  return c;
}

void Loader::loadHostname(const Section& top, Config& c) {
  c.hostname = systemHostname();
  const Field* f = top.find("hostname");
  if (f == nullptr) {
    return;
  }
  if (auto v = text(*f)) {
    if (looksLikeDomain(*v)) {
      c.hostname = *v;
    } else {
      report(*f, fmt::format("'{}' is not a valid host name", *v));
    }
  }
}

void Loader::loadWorkers(const Section& top, Config& c) {
  const Field* f = top.find("workers");
  if (f == nullptr) {
    return;
  }
  constexpr std::string_view Expected = "'auto' or a number from 1 to 64";
  auto s = scalar(*f, Expected);
  if (!s) {
    return;
  }
  if (iequals(*s, "auto")) {
    c.workers = 0;
    return;
  }
  auto n = parseUnsigned(*s);
  if (!n || *n < 1 || *n > MaxWorkers) {
    report(*f, fmt::format("expected {}, got '{}'", Expected, *s));
    return;
  }
  c.workers = static_cast<uint32_t>(*n);
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

void Loader::loadListeners(const Section& top, Config& c) {
  const Field* f = top.require("listeners");
  if (f == nullptr) {
    return;
  }
  if (!f->value.IsSequence()) {
    report(*f, fmt::format("expected a list of listeners, got {}", describe(f->value)));
    return;
  }
  if (f->value.size() == 0) {
    report(*f, "at least one listener is required");
    return;
  }
  std::map<std::string, int> names;  // name -> 0-based line of its first use
  size_t i = 0;
  for (const YAML::Node& node : f->value) {
    Field entry = element(*f, node, i++);
    Section s(reporter_, entry);
    s.allowOnly({"name", "address", "tls", "auth", "auth_plaintext", "restrictions"});
    const Field* name_field = s.require("name");
    const Field* address_field = s.require("address");
    Listener listener;
    listener.origin = reporter_.where(entry.mark());
    bool ok = name_field != nullptr && address_field != nullptr;
    if (name_field != nullptr) {
      if (auto name = text(*name_field)) {
        if (!isName(*name)) {
          report(*name_field, fmt::format("'{}' is not a valid listener name (use letters, "
                                          "digits, '-', '_' and '.')",
                                          *name));
          ok = false;
        } else if (auto [it, fresh] = names.emplace(*name, name_field->mark().line); !fresh) {
          report(*name_field, fmt::format("duplicate listener name '{}' (first at line {})", *name,
                                          it->second + 1));
          ok = false;
        }
        listener.name = *name;
      } else {
        ok = false;
      }
    }
    if (address_field != nullptr) {
      if (auto address = endpoint(*address_field)) {
        listener.address = *address;
        for (const Listener& other : c.listeners) {
          if (overlaps(*address, other.address)) {
            report(*address_field,
                   fmt::format("{} overlaps listener '{}' ({})", address->toString(), other.name,
                               other.address.toString()));
            ok = false;
            break;
          }
        }
      } else {
        ok = false;
      }
    }
    loadListenerSecurity(s, listener);
    if (const Field* r = s.find("restrictions")) {
      if (auto set = text(*r)) {
        listener.restrictions = *set;
        restriction_refs_.push_back(*r);  // checked when the sets are known
      }
    }
    if (ok) {
      c.listeners.push_back(std::move(listener));
      listener_marks_.push_back(address_field->mark());
    }
  }
}

// tls, auth and auth_plaintext of one listener, and the one combination that cannot work.
void Loader::loadListenerSecurity(const Section& s, Listener& listener) {
  const Field* tls = s.find("tls");
  const Field* auth = s.find("auth");
  std::optional<TlsMode> tls_mode = listener.tls;
  std::optional<AuthMode> auth_mode = listener.auth;
  if (tls != nullptr) {
    tls_mode = oneOf<TlsMode>(*tls, {{"none", TlsMode::None},
                                     {"optional", TlsMode::Optional},
                                     {"required", TlsMode::Required},
                                     {"implicit", TlsMode::Implicit}});
  }
  if (auth != nullptr) {
    auth_mode = oneOf<AuthMode>(*auth, {{"none", AuthMode::None},
                                        {"optional", AuthMode::Optional},
                                        {"required", AuthMode::Required}});
  }
  std::optional<bool> plaintext = listener.auth_plaintext;
  if (const Field* p = s.find("auth_plaintext")) {
    plaintext = boolean(*p);
  }
  listener.tls = tls_mode.value_or(listener.tls);
  listener.auth = auth_mode.value_or(listener.auth);
  listener.auth_plaintext = plaintext.value_or(listener.auth_plaintext);
  // The session offers AUTH only over TLS unless auth_plaintext says otherwise (RFC 4954 4:
  // PLAIN and LOGIN send the password in the clear). Without either there is no TLS to wait
  // for, so AUTH would never appear in EHLO and auth: required would refuse every MAIL.
  if (tls_mode && auth_mode && plaintext && *auth_mode != AuthMode::None &&
      *tls_mode == TlsMode::None && !*plaintext) {
    report(*auth, "AUTH would never be offered: set tls or auth_plaintext");
  }
}

void Loader::loadDomains(const Section& top, Config& c) {
  constexpr std::string_view Hint = "(an empty list, local: [], means no local mailboxes)";
  const Field* f = top.require("domains", Hint);
  if (f == nullptr) {
    return;
  }
  Section domains(reporter_, *f);
  domains.allowOnly({"local", "relay"});
  if (const Field* local = domains.require("local", Hint)) {
    if (local->value.IsScalar()) {
      c.local_domains_table = tableRef(*local, c);
    } else {
      c.local_domains = domainList(*local, {});
      for (const Field& item : domain_fields_) {
        c.local_domain_origins.push_back(reporter_.where(item.mark()));
      }
    }
  }
  if (const Field* relay = domains.find("relay"); relay != nullptr && !relay->value.IsNull()) {
    if (relay->value.IsScalar()) {
      c.relay_domains_table = tableRef(*relay, c);
    } else {
      c.relay_domains = domainList(*relay, c.local_domains);
    }
  }
}

// A list of domains, lower-cased; duplicates and domains already in `taken` are errors.
// domain_fields_ gets the field of each domain returned.
std::vector<std::string> Loader::domainList(const Field& f, const std::vector<std::string>& taken) {
  std::vector<std::string> out;
  domain_fields_.clear();
  if (!f.value.IsSequence()) {
    report(f, fmt::format("expected a list of domains, got {}", describe(f.value)));
    return out;
  }
  size_t i = 0;
  for (const YAML::Node& node : f.value) {
    Field item = element(f, node, i++);
    auto name = scalar(item, "a domain");
    if (!name) {
      continue;
    }
    std::string domain = toLower(*name);
    if (!looksLikeDomain(domain)) {
      report(item, fmt::format("'{}' is not a valid domain name", *name));
    } else if (std::find(out.begin(), out.end(), domain) != out.end()) {
      report(item, fmt::format("duplicate domain '{}'", domain));
    } else if (std::find(taken.begin(), taken.end(), domain) != taken.end()) {
      report(item, fmt::format("'{}' is a local domain; a domain is either local or relayed",
                               domain));
    } else {
      out.push_back(std::move(domain));
      domain_fields_.push_back(item);
    }
  }
  return out;
}

void Loader::loadMailboxes(const Section& top, Config& c) {
  const Field* f = top.find("mailboxes");
  if (f != nullptr && !f->value.IsNull()) {
    c.mailboxes = tableRef(*f, c);
  } else if (!c.local_domains.empty() || c.local_domains_table) {
    reporter_.add(top.mark(),
                  "missing required key 'mailboxes' (domains.local is not empty, "
                  "so local mail needs a mailbox table)");
  }
}

void Loader::loadAliases(const Section& top, Config& c) {
  const Field* f = top.find("aliases");
  if (f == nullptr || f->value.IsNull()) {
    return;
  }
  if (f->value.IsScalar()) {
    if (auto spec = tableRef(*f, c)) {
      c.aliases.push_back(std::move(*spec));
    }
    return;
  }
  if (!f->value.IsSequence()) {
    report(*f,
           fmt::format("expected a table reference or a list of them, got {}", describe(f->value)));
    return;
  }
  size_t i = 0;
  for (const YAML::Node& node : f->value) {
    if (auto spec = tableRef(element(*f, node, i++), c)) {
      c.aliases.push_back(std::move(*spec));
    }
  }
}

void Loader::loadRecipientDelimiter(const Section& top, Config& c) {
  const Field* f = top.find("recipient_delimiter");
  if (f == nullptr) {
    return;
  }
  auto s = text(*f);
  if (!s) {
    return;
  }
  if (s->size() > 1 || (s->size() == 1 && static_cast<unsigned char>((*s)[0]) >= 0x80)) {
    report(*f, fmt::format("must be a single ASCII character or empty, got '{}'", *s));
  } else if (*s == "@" || *s == " " || hasControlChars(*s)) {
    report(*f, fmt::format("'{}' cannot separate an address extension", *s));
  } else {
    c.recipient_delimiter = *s;
  }
}

void Loader::loadLimits(const Section& top, Config& c) {
  const Field* f = top.find("limits");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"message_size", "recipients_per_message", "connections", "connections_per_client",
               "command_line_length", "text_line_length", "errors_per_session", "idle_timeout",
               "data_timeout", "session_timeout", "auth_failures_per_client"});
  Limits& l = c.limits;
  setSize(s, "message_size", l.message_size);
  setNumber(s, "recipients_per_message", l.recipients_per_message, 1);
  setNumber(s, "connections", l.connections, 1);
  setNumber(s, "connections_per_client", l.connections_per_client, 1);
  setNumber(s, "command_line_length", l.command_line_length, MinCommandLineLength);
  setNumber(s, "text_line_length", l.text_line_length, MinTextLineLength);
  setNumber(s, "errors_per_session", l.errors_per_session, 1);
  setDuration(s, "idle_timeout", l.idle_timeout);
  setDuration(s, "data_timeout", l.data_timeout);
  setDuration(s, "session_timeout", l.session_timeout);
  setNumber(s, "auth_failures_per_client", l.auth_failures_per_client, 1);
}

void Loader::loadTls(const Section& top, Config& c) {
  const Field* f = top.find("tls");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"certificates", "min_version"});
  if (const Field* certs = s.find("certificates"); certs != nullptr && !certs->value.IsNull()) {
    if (!certs->value.IsSequence()) {
      report(*certs, fmt::format("expected a list of {{cert, key}} entries, got {}",
                                 describe(certs->value)));
    } else {
      size_t i = 0;
      for (const YAML::Node& node : certs->value) {
        Section entry(reporter_, element(*certs, node, i++));
        if (!entry.isMapping()) {
          continue;
        }
        entry.allowOnly({"cert", "key"});
        // Only resolved here: the TLS area reports files it cannot read when it starts.
        const Field* cert = entry.require("cert");
        const Field* key = entry.require("key");
        std::optional<std::string> cert_path = cert ? path(*cert) : std::nullopt;
        std::optional<std::string> key_path = key ? path(*key) : std::nullopt;
        if (cert_path && key_path) {
          c.tls.certificates.push_back({*cert_path, *key_path});
        }
      }
    }
  }
  if (const Field* v = s.find("min_version")) {
    // Quoted or not: YAML reads 1.2 as the scalar "1.2" either way.
    if (auto version = oneOf<std::string_view>(*v, {{"1.2", "1.2"}, {"1.3", "1.3"}})) {
      c.tls.min_version = *version;
    }
  }
}

void Loader::loadAuth(const Section& top, Config& c) {
  Auth& a = c.auth;
  a.credentials_db = resolvePath(c.state_dir, CredentialsDbName);
  const Field* f = top.find("auth");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"backend", "credentials_db", "dovecot_socket", "credentials", "mechanisms",
               "sender_login"});
  std::optional<std::string_view> backend = a.backend;
  if (const Field* b = s.find("backend")) {
    backend = oneOf<std::string_view>(
        *b, {{"table", "table"}, {"dovecot", "dovecot"}, {"lookup", "lookup"}});
    if (backend) {
      a.backend = *backend;
    }
  }
  const Field* db = s.find("credentials_db");
  if (db != nullptr) {
    setPath(s, "credentials_db", a.credentials_db);
  }
  const Field* socket = s.find("dovecot_socket");
  if (socket != nullptr) {
    setPath(s, "dovecot_socket", a.dovecot_socket);
  }
  // Each backend has its own key; the other one's would be silently ignored, so it is refused.
  if (backend == "dovecot") {
    s.require("dovecot_socket",
              "(backend dovecot needs Dovecot's auth-client socket, e.g. "
              "/run/dovecot/auth-client)");
    if (db != nullptr) {
      report(*db, "is used only by backend table, and backend is dovecot");
    }
  } else if (backend == "table" && socket != nullptr) {
    report(*socket, "is used only by backend dovecot, and backend is table");
  }
  const Field* creds = s.find("credentials");
  if (backend == "lookup") {
    if (const Field* t = s.require("credentials", "(a table: user name -> crypt(3) hash)")) {
      a.credentials = tableRef(*t, c);
    }
  } else if (creds != nullptr && backend) {
    report(*creds, fmt::format("is used only by backend lookup, and backend is {}", *backend));
  }
  if (const Field* m = s.find("mechanisms")) {
    loadMechanisms(*m, a);
  }
  if (const Field* sl = s.find("sender_login"); sl != nullptr && !sl->value.IsNull()) {
    a.sender_login = tableRef(*sl, c);
  }
}

// auth.mechanisms: names are case-insensitive (RFC 4422 3.1 defines them upper-case) and
// stored upper-cased; Petrel implements PLAIN and LOGIN only.
void Loader::loadMechanisms(const Field& f, Auth& a) {
  if (!f.value.IsSequence()) {
    report(f, fmt::format("expected a list of SASL mechanisms such as [PLAIN, LOGIN], got {}",
                          describe(f.value)));
    return;
  }
  if (f.value.size() == 0) {
    report(f,
           "at least one mechanism is required (to turn AUTH off, set auth: none on the "
           "listener)");
    return;
  }
  std::vector<std::string> mechanisms;
  bool ok = true;
  size_t i = 0;
  for (const YAML::Node& node : f.value) {
    Field item = element(f, node, i++);
    auto name = scalar(item, "a SASL mechanism name");
    if (!name) {
      ok = false;
      continue;
    }
    std::string upper = *name;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](char ch) {
      return ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 32) : ch;
    });
    if (std::find(KnownMechanisms.begin(), KnownMechanisms.end(), upper) == KnownMechanisms.end()) {
      report(item, fmt::format("unknown mechanism '{}' (known: PLAIN, LOGIN)", *name));
      ok = false;
    } else if (std::find(mechanisms.begin(), mechanisms.end(), upper) != mechanisms.end()) {
      report(item, fmt::format("duplicate mechanism '{}'", upper));
      ok = false;
    } else {
      mechanisms.push_back(std::move(upper));
    }
  }
  if (ok) {
    a.mechanisms = std::move(mechanisms);
  }
}

void Loader::loadRelay(const Section& top, Config& c) {
  c.relay.mynetworks_origin = BuiltIn;
  const Field* f = top.find("relay");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"mynetworks", "relayhost", "relayhost_auth", "transport", "tls", "tls_policy",
               "tls_ca_file", "destination_concurrency", "connection_cache_time", "timeouts"});
  Relay& r = c.relay;
  if (const Field* h = s.find("relayhost"); h != nullptr && !h->value.IsNull()) {
    if (auto v = scalar(*h, "a next hop such as [smtp.example.net]:587 or example.net")) {
      if (auto hop = parseNextHop(*v)) {
        r.relayhost = *hop;
      } else {
        report(*h, hop.error().message());
      }
    }
  }
  if (const Field* a = s.find("relayhost_auth"); a != nullptr && !a->value.IsNull()) {
    loadRelayhostAuth(*a, r);
    if (!r.relayhost) {
      report(*a, "is used only with relay.relayhost, which is not set");
    }
  }
  if (const Field* t = s.find("transport"); t != nullptr && !t->value.IsNull()) {
    r.transport = tableRef(*t, c);
  }
  if (const Field* t = s.find("tls")) {
    if (auto p = oneOf<TlsPolicy>(*t, {{"none", TlsPolicy::None},
                                       {"may", TlsPolicy::May},
                                       {"encrypt", TlsPolicy::Encrypt},
                                       {"verify", TlsPolicy::Verify}})) {
      r.tls = *p;
    }
  }
  if (const Field* t = s.find("tls_policy"); t != nullptr && !t->value.IsNull()) {
    r.tls_policy = tableRef(*t, c);
  }
  setPath(s, "tls_ca_file", r.tls_ca_file);
  setNumber(s, "destination_concurrency", r.destination_concurrency, 1);
  setDuration(s, "connection_cache_time", r.connection_cache_time);
  if (const Field* t = s.find("timeouts")) {
    Section ts(reporter_, *t);
    ts.allowOnly({"connect", "greeting", "command", "data_init", "data_block", "data_done"});
    setDuration(ts, "connect", r.timeouts.connect);
    setDuration(ts, "greeting", r.timeouts.greeting);
    setDuration(ts, "command", r.timeouts.command);
    setDuration(ts, "data_init", r.timeouts.data_init);
    setDuration(ts, "data_block", r.timeouts.data_block);
    setDuration(ts, "data_done", r.timeouts.data_done);
  }
  const Field* m = s.find("mynetworks");
  if (m == nullptr) {
    return;
  }
  // A table reference; a lone network is a forgotten list, not a table name.
  if (m->value.IsScalar() && !Cidr::parse(m->value.Scalar()).ok()) {
    c.relay.mynetworks_table = tableRef(*m, c);
    c.relay.mynetworks.clear();
    c.relay.mynetworks_origin = reporter_.where(m->mark());
    return;
  }
  // null is refused rather than guessed: "nobody" and "the default" are both plausible readings.
  if (!m->value.IsSequence()) {
    report(*m, fmt::format("expected a list of networks such as [127.0.0.1/32, \"::1/128\"] "
                           "([] for none) or a table reference, got {}",
                           describe(m->value)));
    return;
  }
  std::vector<std::string> blocks;
  size_t i = 0;
  for (const YAML::Node& node : m->value) {
    Field item = element(*m, node, i++);
    auto text = scalar(item, "a network such as 192.0.2.0/24");
    if (!text) {
      continue;
    }
    Result<Cidr> cidr = Cidr::parse(*text);
    if (!cidr) {
      report(item, cidr.error().message());
      continue;
    }
    blocks.push_back(cidr->toString());  // canonical: "127.0.0.1" -> "127.0.0.1/32"
  }
  c.relay.mynetworks = std::move(blocks);
  c.relay.mynetworks_origin = reporter_.where(m->mark());
}

// relay.relayhost_auth: the password comes from a file (first line), never from the YAML,
// so the config can be world-readable while the password file is not.
void Loader::loadRelayhostAuth(const Field& f, Relay& r) {
  Section s(reporter_, f);
  if (!s.isMapping()) {
    return;
  }
  s.allowOnly({"user", "password_file", "plaintext"});
  Relay::Credentials cred;
  if (const Field* u = s.require("user", "(the SASL user name for the relayhost)")) {
    if (auto v = text(*u)) {
      if (v->empty() || hasControlChars(*v)) {
        report(*u, "must be a non-empty name without control characters");
      } else {
        cred.user = *v;
      }
    }
  }
  const Field* pf = s.require("password_file", "(a file whose first line is the password)");
  if (pf != nullptr) {
    if (auto p = path(*pf)) {
      cred.password_file = *p;
      std::ifstream in(*p);
      std::string line;
      if (!in || !std::getline(in, line)) {
        report(*pf, fmt::format("cannot read {}: {}", *p, strerror(errno)));
      } else {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) {
          report(*pf, fmt::format("{}: the first line (the password) is empty", *p));
        }
        cred.password = std::move(line);
      }
    }
  }
  setBool(s, "plaintext", cred.plaintext);
  if (!cred.user.empty() && !cred.password.empty()) {
    r.relayhost_auth = std::move(cred);
  }
}

void Loader::loadRestrictions(const Section& top, Config& c) {
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
    RestrictionSet set;
    set.recipient = {{"permit_mynetworks", std::string(BuiltIn)},
                     {"permit_sasl_authenticated", std::string(BuiltIn)},
                     {"reject_unauth_destination", std::string(BuiltIn)}};
    set.origin = BuiltIn;
    c.restrictions.emplace("default", std::move(set));
  }
  if (!declared_restriction_sets_.contains("submission")) {
    RestrictionSet set;
    set.recipient = {{"reject_sender_login_mismatch", std::string(BuiltIn)},
                     {"permit_sasl_authenticated", std::string(BuiltIn)},
                     {"reject", std::string(BuiltIn)}};
    set.origin = BuiltIn;
    c.restrictions.emplace("submission", std::move(set));
  }
}

std::optional<RestrictionSet> Loader::restrictionSet(const Field& f, const Config& c) {
  Section s(reporter_, f);
  if (!s.isMapping()) {
    return std::nullopt;
  }
  s.allowOnly({"client", "helo", "sender", "recipient"});
  RestrictionSet set;
  set.origin = reporter_.where(f.key_node.Mark());
  const std::vector<std::string>& known = policy::knownRestrictions();
  bool ok = true;
  const std::array<std::pair<std::string_view, std::vector<CheckSpec>*>, 4> stages{{
      {"client", &set.client},
      {"helo", &set.helo},
      {"sender", &set.sender},
      {"recipient", &set.recipient},
  }};
  for (auto [stage, checks] : stages) {
    const Field* list = s.find(stage);
    if (list == nullptr || list->value.IsNull()) {
      continue;
    }
    if (!list->value.IsSequence()) {
      report(*list, fmt::format("expected a list of restrictions, got {}", describe(list->value)));
      ok = false;
      continue;
    }
    size_t i = 0;
    for (const YAML::Node& node : list->value) {
      Field item = element(*list, node, i++);
      auto name = scalar(item, "a restriction name");
      if (name && policy::isAccessCheck(*name)) {
        // "check_client_access REF": REF is a table reference like any other.
        std::string_view text = trim(*name);
        size_t space = text.find(' ');
        std::string ref(space == std::string_view::npos ? "" : trim(text.substr(space + 1)));
        if (ref.empty()) {
          report(item, fmt::format("{} needs a table, e.g. \"{} clients\"",
                                   text.substr(0, space), text.substr(0, space)));
          ok = false;
          continue;
        }
        if (auto spec = tableRefText(item, ref, c)) {
          set.access_tables.emplace(ref, std::move(*spec));
          checks->push_back({fmt::format("{} {}", text.substr(0, space), ref), reporter_.where(item.value.Mark())});
        } else {
          ok = false;
        }
      } else if (!name) {
        ok = false;
      } else if (std::find(known.begin(), known.end(), *name) == known.end()) {
        report(item,
               fmt::format("unknown restriction '{}' (known: {})", *name, fmt::join(known, ", ")));
        ok = false;
      } else {
        checks->push_back({*name, reporter_.where(item.value.Mark())});
      }
    }
  }
  if (!ok) {
    return std::nullopt;
  }
  return set;
}

// A listener's restrictions: must name a set; checked after all sets, built-ins included, are
// known. A set that was declared but is broken has its own errors already.
void Loader::checkListenerRestrictions(const Config& c) {
  for (const Field& ref : restriction_refs_) {
    const std::string& name = ref.value.Scalar();
    if (c.restrictions.contains(name) || declared_restriction_sets_.contains(name)) {
      continue;
    }
    std::vector<std::string> known;
    for (const auto& entry : c.restrictions) {
      known.push_back(entry.first);
    }
    report(ref,
           fmt::format("unknown restriction set '{}' (known: {})", name, fmt::join(known, ", ")));
  }
}

void Loader::loadSmtp(const Section& top, Config& c) {
  const Field* f = top.find("smtp");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"bare_line_endings", "vrfy", "banner"});
  if (const Field* b = s.find("bare_line_endings")) {
    constexpr std::string_view Expected = "reject or normalize";
    if (auto v = scalar(*b, Expected)) {
      if (*v == "reject") {
        c.smtp.bare_line_endings = BareLineEnding::Reject;
      } else if (*v == "normalize") {
        c.smtp.bare_line_endings = BareLineEnding::Normalize;
      } else {
        report(*b, fmt::format("expected {}, got '{}'", Expected, *v));
      }
    }
  }
  setBool(s, "vrfy", c.smtp.vrfy);
  if (const Field* b = s.find("banner")) {
    if (auto v = text(*b)) {
      // It goes on the wire after "220 "; a CR or LF would inject a line.
      if (v->empty()) {
        report(*b, "must not be empty (leave it out for the default)");
      } else if (hasControlChars(*v)) {
        report(*b, "must not contain control characters");
      } else {
        c.smtp.banner = *v;
      }
    }
  }
}

void Loader::loadQueue(const Section& top, Config& c) {
  const Field* f = top.find("queue");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"max_lifetime", "min_backoff", "max_backoff", "delivery_concurrency",
               "delay_warning"});
  if (const Field* w = s.find("delay_warning")) {
    // 0 (or off) turns the warning off; any other value is a duration.
    if (w->value.IsScalar() && (w->value.Scalar() == "0" || w->value.Scalar() == "off")) {
      c.queue.delay_warning = 0;
    } else {
      setDuration(s, "delay_warning", c.queue.delay_warning);
    }
  }
  setDuration(s, "max_lifetime", c.queue.max_lifetime);
  setDuration(s, "min_backoff", c.queue.min_backoff);
  setDuration(s, "max_backoff", c.queue.max_backoff);
  setNumber(s, "delivery_concurrency", c.queue.delivery_concurrency, 0);
  if (c.queue.min_backoff > c.queue.max_backoff) {
    // One of them was set, or the defaults would be wrong; point at the one that was.
    const Field* at = s.find("min_backoff") ? s.find("min_backoff") : s.find("max_backoff");
    reporter_.add(
        at ? at->mark() : s.mark(),
        fmt::format("queue.min_backoff ({}) must not exceed queue.max_backoff ({})",
                    formatDuration(c.queue.min_backoff), formatDuration(c.queue.max_backoff)));
  }
}

void Loader::loadDelivery(const Section& top, Config& c) {
  const Field* f = top.find("delivery");
  if (f == nullptr) {
    return;
  }
  Section delivery(reporter_, *f);
  delivery.allowOnly({"maildir"});
  if (const Field* m = delivery.find("maildir")) {
    Section maildir(reporter_, *m);
    maildir.allowOnly({"fsync"});
    setBool(maildir, "fsync", c.delivery.maildir_fsync);
  }
}

void Loader::loadDns(const Section& top, Config& c) {
  const Field* f = top.find("dns");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"servers"});
  const Field* servers = s.find("servers");
  if (servers == nullptr || servers->value.IsNull()) {
    return;
  }
  if (!servers->value.IsSequence()) {
    report(*servers, fmt::format("expected a list such as [\"127.0.0.1:53\"], got {}",
                                 describe(servers->value)));
    return;
  }
  size_t i = 0;
  for (const YAML::Node& node : servers->value) {
    Field item = element(*servers, node, i++);
    auto v = scalar(item, "a server address such as 192.0.2.53 or 127.0.0.1:5353");
    if (!v) {
      continue;
    }
    // "ip", "ip:port", "v6", "[v6]:port": an endpoint, or an address given without a port.
    bool ok = parseEndpoint(*v).ok() || parseEndpoint(*v + ":53").ok() ||
              parseEndpoint("[" + *v + "]:53").ok();
    if (!ok) {
      report(item, fmt::format("'{}' is not a server address (ip, ip:port or [ipv6]:port; "
                               "names are not resolved)", *v));
      continue;
    }
    c.dns.servers.push_back(*v);
  }
}

void Loader::loadStatus(const Section& top, Config& c) {
  std::optional<YAML::Mark> address_mark;  // set when status.address was written
  if (const Field* f = top.find("status")) {
    if (f->value.IsNull()) {
      c.status.address.reset();  // "status: null" reads as "no status endpoint"
      return;
    }
    Section s(reporter_, *f);
    s.allowOnly({"address"});
    if (const Field* address = s.find("address")) {
      address_mark = address->mark();
      c.status.address.reset();
      if (!address->value.IsNull()) {
        c.status.address = endpoint(*address);
      }
    }
  }
  if (!c.status.address) {
    return;
  }
  for (size_t i = 0; i < c.listeners.size(); ++i) {
    const Listener& l = c.listeners[i];
    if (overlaps(*c.status.address, l.address)) {
      reporter_.add(address_mark.value_or(listener_marks_[i]),
                    fmt::format("the status endpoint {} overlaps listener '{}' ({})",
                                c.status.address->toString(), l.name, l.address.toString()));
    }
  }
}

void Loader::loadLog(const Section& top, Config& c) {
  const Field* f = top.find("log");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"file", "syslog_name", "debug"});
  if (const Field* file = s.find("file"); file != nullptr && !file->value.IsNull()) {
    c.log.file = path(*file);
  }
  if (const Field* name = s.find("syslog_name")) {
    if (auto v = text(*name)) {
      if (v->empty() || hasControlChars(*v) || v->find(' ') != std::string::npos) {
        report(*name, fmt::format("expected a name without spaces, got '{}'", *v));
      } else {
        c.log.syslog_name = *v;
      }
    }
  }
  setBool(s, "debug", c.log.debug);
}

// Sees only where documents start; the parse that builds nodes is YAML::Load's.
class DocumentProbe : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  std::vector<YAML::Mark> starts;
};

// YAML::Load() parses the first document and silently drops whatever follows it, and
// YAML::LoadAll() loops forever on some broken input (a stray ',' at the top level yields an
// empty document without being consumed). So we look for a second document ourselves, and
// never ask for a third. Returns false when the text cannot be read as YAML at all.
bool checkSingleDocument(const std::string& yaml, Reporter& reporter) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  DocumentProbe probe;
  if (!parser.HandleNextDocument(probe) || !parser.HandleNextDocument(probe) ||
      probe.starts.size() < 2) {
    return true;
  }
  const YAML::Mark& first = probe.starts[0];
  const YAML::Mark& second = probe.starts[1];
  if (second.pos == first.pos) {  // the parser is stuck: nothing was consumed
    size_t pos = static_cast<size_t>(std::max(second.pos, 0));
    reporter.add(second, pos < yaml.size() ? fmt::format("syntax error: unexpected '{}'", yaml[pos])
                                           : std::string("syntax error"));
    return false;
  }
  reporter.add(second, "a second YAML document starts here; only one is allowed per file");
  return true;
}

// Reads a whole file; the error text is strerror's.
std::optional<std::string> readFile(const std::string& path, std::string& error) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  std::array<char, 8192> chunk{};
  size_t n = 0;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), file)) > 0) {
    text.append(chunk.data(), n);
  }
  bool failed = std::ferror(file) != 0;
  int saved = errno;
  std::fclose(file);
  if (failed) {
    error = std::strerror(saved);
    return std::nullopt;
  }
  return text;
}

}  // namespace

LoadResult loadConfigFromString(const std::string& yaml, const std::string& name,
                                const std::string& base_dir) {
  Reporter reporter(name);
  std::optional<Config> config;
  try {
    YAML::Node root = YAML::Load(yaml);
    if (!checkSingleDocument(yaml, reporter)) {
      return LoadResult{std::nullopt, reporter.errors()};
    }
    // An empty file has no document and its null node no mark; report missing keys at 1:1.
    YAML::Mark root_mark = root.Mark().is_null() ? YAML::Mark() : root.Mark();
    std::error_code ec;
    fs::path base = fs::absolute(base_dir, ec);
    Loader loader(reporter, ec ? fs::path(base_dir) : base.lexically_normal());
    config = loader.load(root, root_mark);
    config->source_file = name;
  } catch (const YAML::DeepRecursion& e) {
    reporter.add(e.mark, "syntax error: nested too deeply");  // its own msg says "bad file"
  } catch (const YAML::ParserException& e) {
    reporter.add(e.mark, fmt::format("syntax error: {}", e.msg));
  } catch (const YAML::Exception& e) {
    reporter.add(e.mark, e.msg);
  } catch (const std::exception& e) {
    reporter.add(YAML::Mark::null_mark(), fmt::format("cannot load: {}", e.what()));
  } catch (...) {
    reporter.add(YAML::Mark::null_mark(), "cannot load: unknown error");
  }
  if (!reporter.empty()) {
    return LoadResult{std::nullopt, reporter.errors()};
  }
  return LoadResult{std::move(config), {}};
}

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

LoadResult loadConfig(const std::string& path) {
  try {
    std::string error;
    std::optional<std::string> text = readFile(path, error);
    if (!text) {
      return LoadResult{std::nullopt, {{path, fmt::format("cannot read: {}", error)}}};
    }
    std::error_code ec;
    fs::path absolute = fs::absolute(path, ec).lexically_normal();
    if (ec) {
      return LoadResult{std::nullopt, {{path, fmt::format("cannot read: {}", ec.message())}}};
    }
    LoadResult result = loadConfigFromString(*text, path, absolute.parent_path().string());
    if (result.config) {
      result.config->source_file = absolute.string();
    }
    return result;
  } catch (const std::exception& e) {
    return LoadResult{std::nullopt, {{path, fmt::format("cannot load: {}", e.what())}}};
  }
}

const RemoteTableKeys* remoteTableKeys(std::string_view type) {
  static const RemoteTableKeys sqlite{{"path", "query", "timeout"}, {"path", "query"}};
  static const RemoteTableKeys pgsql{{"host", "port", "user", "password", "password_file",
                                      "database", "query", "timeout", "sslmode", "sslrootcert"},
                                     {"database", "query"}};
  static const RemoteTableKeys mysql{{"host", "port", "socket", "user", "password",
                                      "password_file", "database", "query", "timeout", "tls",
                                      "tls_ca_file", "tls_require_cert"},
                                     {"database", "query"}};
  static const RemoteTableKeys ldap{{"uri", "base", "scope", "filter", "attribute", "bind_dn",
                                     "bind_password", "bind_password_file", "timeout",
                                     "start_tls", "tls_ca_file", "tls_require_cert"},
                                    {"uri", "base", "attribute"}};
  if (type == "sqlite") return &sqlite;
  if (type == "pgsql") return &pgsql;
  if (type == "mysql") return &mysql;
  if (type == "ldap") return &ldap;
  return nullptr;
}

}  // namespace petrel::config
