// The shared reading machinery of the config loader (loader.h): positions and their sorting,
// the mapping reader with YAML merge keys, the small validators and the value readers every
// section uses. Sections live in their own files; this one knows no key of any of them.
#include "loader.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/strings.h"

namespace petrel::config::detail {

// ---- reporting -------------------------------------------------------------------------------

void Reporter::add(const YAML::Mark& mark, std::string message) {
  if (mark.is_null()) {
    problems_.push_back({-1, -1, std::move(message), {}});
  } else {
    problems_.push_back({mark.line, mark.column, std::move(message), {}});
  }
}

namespace {

// "<file>:12:5" -> (11, 4); nullopt when `where` is not a position in `file`.
std::optional<std::pair<int, int>> positionIn(std::string_view where, std::string_view file) {
  if (where.size() <= file.size() + 1 || where.substr(0, file.size()) != file ||
      where[file.size()] != ':') {
    return std::nullopt;
  }
  std::string_view rest = where.substr(file.size() + 1);
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  int line = 0;
  int column = 0;
  std::string_view l = rest.substr(0, colon);
  std::string_view c = rest.substr(colon + 1);
  auto [lp, le] = std::from_chars(l.data(), l.data() + l.size(), line);
  auto [cp, ce] = std::from_chars(c.data(), c.data() + c.size(), column);
  if (le != std::errc() || ce != std::errc() || lp != l.data() + l.size() ||
      cp != c.data() + c.size() || line < 1 || column < 1) {
    return std::nullopt;
  }
  return std::pair(line - 1, column - 1);
}

}  // namespace

void Reporter::add(const ConfigError& error) {
  if (auto pos = positionIn(error.where, file_)) {
    problems_.push_back({pos->first, pos->second, error.message, {}});
  } else {
    problems_.push_back({-1, -1, error.message, error.where == file_ ? "" : error.where});
  }
}

std::string Reporter::where(const YAML::Mark& mark) const {
  if (mark.is_null()) {
    return file_;
  }
  return fmt::format("{}:{}:{}", file_, mark.line + 1, mark.column + 1);
}

std::vector<ConfigError> Reporter::errors() const {
  std::vector<Problem> sorted = problems_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Problem& a, const Problem& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  std::vector<ConfigError> out;
  for (const Problem& p : sorted) {
    std::string where = p.line >= 0       ? fmt::format("{}:{}:{}", file_, p.line + 1, p.column + 1)
                        : p.where.empty() ? file_
                                          : p.where;
    out.push_back({std::move(where), p.message});
  }
  return out;
}

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

// Absolute and lexically normal, without a trailing '/': "var/mail/" -> "<base>/var/mail".
std::string resolvePath(const fs::path& base, std::string_view text) {
  fs::path p(text);
  fs::path resolved = (p.is_absolute() ? p : base / p).lexically_normal();
  if (!resolved.has_filename() && resolved != resolved.root_path()) {
    resolved = resolved.parent_path();
  }
  return resolved.string();
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

namespace {

bool isWildcard(const std::string& host) { return host == "0.0.0.0" || host == "::"; }

}  // namespace

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

// The i-th element of a list field, as a field of its own ("aliases[1]").
Field element(const Field& list, const YAML::Node& node, size_t i) {
  return Field{list.key, list.key_node, node, fmt::format("{}[{}]", list.path, i)};
}

// A mapping node being read. A null node counts as an empty mapping, so a section whose keys
Section::Section(Reporter& reporter, const YAML::Node& node, const YAML::Mark& mark,
                 std::string path)
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
      reporter_.add(key.Mark(), fmt::format("duplicate key '{}'{} (first at line {})", key.Scalar(),
                                            inPath(), first->key_node.Mark().line + 1));
      continue;
    }
    fields_.push_back(Field{key.Scalar(), key, entry.second, childPath(key.Scalar())});
  }
  for (const YAML::Node& value : merged) mergeKeys(value);
}

// YAML merge keys ("<<: *defaults", "<<: [*a, *b]"), which yaml-cpp leaves to the reader:
// the keys of the merged mappings this mapping does not set itself, the first mapping
// winning over later ones (as the YAML 1.1 merge type says). Merges may nest, at most
// MaxMergeDepth deep; an anchor merged into itself is an error, not an endless loop.
// Each mapping is merged once (`merged_` by identity), so aliases repeated in lists cannot
// multiply the work.
void Section::mergeKeys(const YAML::Node& value, int depth) {
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

const Field* Section::find(std::string_view key) const {
  auto it =
      std::find_if(fields_.begin(), fields_.end(), [&](const Field& f) { return f.key == key; });
  return it == fields_.end() ? nullptr : &*it;
}

const Field* Section::require(std::string_view key, std::string_view hint) const {
  const Field* f = find(key);
  if (f == nullptr && is_mapping_) {
    reporter_.add(mark_, fmt::format("missing required key '{}'{}{}{}", key, inPath(),
                                     hint.empty() ? "" : " ", hint));
  }
  return f;
}

void Section::allowOnly(const std::vector<std::string_view>& known) const {
  for (const Field& f : fields_) {
    if (std::find(known.begin(), known.end(), f.key) == known.end()) {
      reporter_.add(f.key_node.Mark(),
                    fmt::format("unknown key '{}'{}{}", f.key, inPath(), suggestion(f.key, known)));
    }
  }
}

// ---- value readers -------------------------------------------------------------------------

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

}  // namespace petrel::config::detail
