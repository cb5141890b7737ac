// The `regexp` backend: Postfix regexp_table(5) files matched with PCRE2, reloaded when they
// change.
//
// A file is a list of rules tried in order; the first that matches gives the result:
//   /pattern/flags result      the key matches pattern
//   !/pattern/flags result     the key does not match pattern ($n not allowed)
//   /p1/flags!/p2/flags result p1 matches and p2 does not (old Postfix form)
//   if /pattern/flags ... endif, if !/pattern/flags ... endif   (nest; inner lines unindented)
// The delimiter is any character other than a letter, digit or blank ('/' by convention); a
// backslash escapes it inside the pattern. Flags toggle options: i (case-insensitive, ON by
// default as in Postfix), m (multi-line), s (dot matches newline), x (PCRE2 extended syntax:
// blanks and # comments in the pattern ignored; pcre_table(5)'s meaning, since PCRE2 has no
// POSIX basic syntax for regexp_table(5)'s x to switch to). In the result, $1..$99, ${n} and
// $(n) insert what the nth group matched (nothing for a group that did not take part), $$ is
// a dollar sign. Comments, blank lines and continuation lines follow logicalLines().
//
// Patterns are PCRE2 in byte mode (no UTF-8 decoding: '.' is one octet, case-insensitivity is
// ASCII only), which is close to POSIX extended syntax for the patterns people write in mail
// tables; PCRE2 picks the leftmost alternative where POSIX picks the longest, which only shows
// in what $n captures. Keys are matched exactly as the caller passes them; the router passes
// lower-case addresses, so a case-sensitive pattern (flag i) with upper-case letters never
// matches them.
//
// Every problem on a line is warned about with its line number and the line is skipped, as
// Postfix does ("table regexp:/etc/petrel/x: line 7: ...: skipping"); the rest of the file
// still loads. A match that PCRE2 cannot finish (its match limit, against a pathological
// pattern) makes that lookup TempFail, never a silent "not found".
#define PCRE2_CODE_UNIT_WIDTH 8

#include <fmt/format.h>
#include <pcre2.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../file_backed_table.h"
#include "petrel/core/strings.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {

namespace {

// Postfix's PCRE tables allow the same: $1..$99.
constexpr uint64_t MaxSubstitution = 99;

struct CodeFree {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
using Code = std::unique_ptr<pcre2_code, CodeFree>;

struct MatchDataFree {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};

std::string pcre2Message(int code) {
  PCRE2_UCHAR buffer[256];
  int n = pcre2_get_error_message(code, buffer, sizeof buffer);
  return n < 0 ? fmt::format("PCRE2 error {}", code)
               : std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

// Match data big enough for $0..$99, one per thread and reused: lookups run concurrently on
// several reactor threads, and a compiled pattern may be shared but match data may not.
pcre2_match_data* threadMatchData() {
  thread_local std::unique_ptr<pcre2_match_data, MatchDataFree> data(
      pcre2_match_data_create(MaxSubstitution + 1, nullptr));
  return data.get();
}

struct Pattern {
  Code code;
  bool positive = true;  // false: the rule applies when the pattern does not match
  uint32_t groups = 0;   // capturing groups in the pattern
};

// A piece of a result: literal text, or the text of capturing group `group` (> 0).
struct Piece {
  std::string text;
  uint32_t group = 0;
};

struct Rule {
  enum class Kind { Match, If, Endif };
  Kind kind = Kind::Match;
  size_t line = 0;
  size_t depth = 0;  // number of ifs around the rule
  Pattern first;
  std::optional<Pattern> second;  // the /p1/!/p2/ form
  std::vector<Piece> result;      // Match only
  bool substitutes = false;       // some piece is a group
};

// Did the rule's pattern apply? `error` is PCRE2's code when matching failed.
struct Test {
  bool applies = false;
  int error = 0;
};

class RegexpContents final : public TableContents {
 public:
  explicit RegexpContents(std::string description) : description_(std::move(description)) {}

  LookupResult find(std::string_view key) const override {
    pcre2_match_data* data = threadMatchData();
    Result<const Rule*> match = firstMatchingRule(rules, [&](const Rule& rule) -> Result<bool> {
      Test t = test(rule.first, key, data);
      if (t.applies && rule.second) {
        // Match data of its own: expand() still needs the first pattern's groups.
        t = test(*rule.second, key, secondMatchData());
      }
      if (t.error != 0) {
        return Error::temporary(fmt::format("table {}: line {}: cannot match \"{}\": {}",
                                            description_, rule.line, key, pcre2Message(t.error)));
      }
      return t.applies;
    });
    if (!match) return LookupResult::tempFail(match.error().message());
    if (*match == nullptr) return LookupResult::notFound();
    return LookupResult::found(expand(**match, key, data));
  }

  std::vector<Rule> rules;

 private:
  static Test test(const Pattern& p, std::string_view key, pcre2_match_data* data) {
    int rc = pcre2_match(p.code.get(), reinterpret_cast<PCRE2_SPTR>(key.data()), key.size(), 0, 0,
                         data, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) {
      return {!p.positive, 0};
    }
    if (rc < 0) {
      return {false, rc};
    }
    // rc == 0 means a match with more groups than the match data holds; $1..$99 are set.
    return {p.positive, 0};
  }

  static std::string expand(const Rule& rule, std::string_view key, pcre2_match_data* data) {
    if (!rule.substitutes) {
      return rule.result.empty() ? std::string() : rule.result.front().text;
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
    const uint32_t pairs = pcre2_get_ovector_count(data);
    std::string out;
    for (const Piece& piece : rule.result) {
      if (piece.group == 0) {
        out += piece.text;
      } else if (piece.group < pairs && ovector[2 * piece.group] != PCRE2_UNSET) {
        // A group that did not take part inserts nothing, as in Postfix.
        PCRE2_SIZE start = ovector[2 * piece.group];
        PCRE2_SIZE end = ovector[2 * piece.group + 1];
        if (end > start) {
          out.append(key.substr(start, end - start));
        }
      }
    }
    return out;
  }

  static pcre2_match_data* secondMatchData() {
    thread_local std::unique_ptr<pcre2_match_data, MatchDataFree> data(
        pcre2_match_data_create(1, nullptr));
    return data.get();
  }

  const std::string description_;
};

// A pattern as written, before compiling.
struct PatternText {
  std::string regexp;
  uint32_t options = PCRE2_CASELESS;  // Postfix: case-insensitive unless the i flag toggles it
  bool positive = true;
};

// Reads "!/regexp/flags" from the front of `p` and advances `p` past it: to the blank before
// the result, to a '!' that starts a second pattern, or to the end.
Result<PatternText> readPattern(std::string_view& p) {
  PatternText pattern;
  while (!p.empty() && p.front() == '!') {
    pattern.positive = !pattern.positive;
    p.remove_prefix(1);
  }
  p = trim(p);  // Postfix allows "! /x/"
  if (p.empty()) {
    return Error::config("no regular expression");
  }
  const char delimiter = p.front();
  size_t i = 1;
  for (; i < p.size() && p[i] != delimiter; ++i) {
    if (p[i] == '\\' && i + 1 < p.size()) {
      ++i;  // an escaped delimiter is part of the pattern (PCRE2 reads "\/" as "/")
    }
  }
  if (i >= p.size()) {
    return Error::config(
        fmt::format("no closing delimiter '{}' after the regular expression", delimiter));
  }
  pattern.regexp = std::string(p.substr(1, i - 1));
  p.remove_prefix(i + 1);
  while (!p.empty() && p.front() != ' ' && p.front() != '\t' && p.front() != '!') {
    switch (p.front()) {
      case 'i':
        pattern.options ^= PCRE2_CASELESS;
        break;
      case 'm':
        pattern.options ^= PCRE2_MULTILINE;
        break;
      case 's':
        pattern.options ^= PCRE2_DOTALL;
        break;
      case 'x':
        pattern.options ^= PCRE2_EXTENDED;
        break;
      default:
        return Error::config(fmt::format(
            "unknown flag '{}' after the regular expression (known: i, m, s, x)", p.front()));
    }
    p.remove_prefix(1);
  }
  return pattern;
}

Result<Pattern> compile(const PatternText& text) {
  int code = 0;
  PCRE2_SIZE offset = 0;
  Code compiled(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(text.regexp.data()), text.regexp.size(),
                              text.options, &code, &offset, nullptr));
  if (!compiled) {
    return Error::config(fmt::format("bad regular expression \"{}\": {} at offset {}", text.regexp,
                                     pcre2Message(code), offset));
  }
  // JIT makes matching several times faster; without JIT support PCRE2 interprets.
  (void)pcre2_jit_compile(compiled.get(), PCRE2_JIT_COMPLETE);
  Pattern pattern;
  pattern.positive = text.positive;
  pcre2_pattern_info(compiled.get(), PCRE2_INFO_CAPTURECOUNT, &pattern.groups);
  pattern.code = std::move(compiled);
  return pattern;
}

// Splits a result into literal text and $n references, as Postfix's mac_parse() does for
// regexp tables: $$ is '$'; $n, ${n} and $(n) are group n; a name runs over letters, digits
// and '_', so "$1x" names "1x" (an error: write "${1}x").
Result<std::vector<Piece>> parseResult(std::string_view text, uint32_t& max_group) {
  std::vector<Piece> pieces;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) {
      pieces.push_back({std::move(literal), 0});
      literal.clear();
    }
  };
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$') {
      literal += text[i++];
      continue;
    }
    const size_t start = i++;
    std::string_view name;
    if (i < text.size() && text[i] == '$') {
      literal += '$';
      ++i;
      continue;
    }
    if (i < text.size() && (text[i] == '{' || text[i] == '(')) {
      const char close = text[i] == '{' ? '}' : ')';
      size_t end = text.find(close, i + 1);
      if (end == std::string_view::npos) {
        return Error::config(
            fmt::format("result: no '{}' after \"{}\"", close, text.substr(start, 2)));
      }
      name = text.substr(i + 1, end - i - 1);
      i = end + 1;
    } else {
      size_t end = i;
      while (end < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_')) {
        ++end;
      }
      name = text.substr(i, end - i);
      i = end;
    }
    std::string_view written = text.substr(start, i - start);
    if (name.empty()) {
      return Error::config("result: a '$' without a group number (write $$ for a dollar sign)");
    }
    std::optional<uint64_t> n = parseUnsigned(name);
    if (!n) {
      return Error::config(fmt::format(
          "result: \"{}\" is not a group number (write ${{1}}x for group 1 followed by x)",
          written));
    }
    if (*n < 1 || *n > MaxSubstitution) {
      return Error::config(
          fmt::format("result: \"{}\": group numbers go from 1 to {}", written, MaxSubstitution));
    }
    flush();
    pieces.push_back({std::string(written), static_cast<uint32_t>(*n)});
    max_group = std::max(max_group, static_cast<uint32_t>(*n));
  }
  flush();
  return pieces;
}

class RegexpTable final : public FileBackedTable {
 public:
  RegexpTable(std::string path, Warn warn)
      : FileBackedTable("regexp", std::move(path), std::move(warn)) {
    refresh();
  }

 private:
  ContentsPtr parse(std::string_view text) const override {
    auto contents = std::make_shared<RegexpContents>(describe());
    contents->rules = parseRuleLines<Rule>(
        text, [this](const LogicalLine& line, size_t depth) { return parseRule(line, depth); },
        [this](size_t n, std::string_view what) { warnLine(n, what); });
    return contents;
  }

  Result<Rule> parseRule(const LogicalLine& line, size_t depth) const {
    std::string_view p = line.text;
    Rule rule;
    rule.line = line.number;
    rule.depth = depth;
    if (!std::isalnum(static_cast<unsigned char>(p.front()))) {
      return parseMatch(p, std::move(rule));
    }
    if (isKeyword(p, "if")) {
      p = trim(p.substr(2));
      Result<PatternText> text = readPattern(p);
      if (!text) {
        return text.error();
      }
      if (!trim(p).empty()) {
        // Postfix keeps the rule; usually an indented line meant to be inside the block.
        warnLine(line.number, fmt::format("ignoring text after the if pattern: \"{}\" (lines "
                                          "inside if..endif must not start with a blank)",
                                          trim(p)));
      }
      Result<Pattern> pattern = compile(*text);
      if (!pattern) {
        return pattern.error();
      }
      rule.kind = Rule::Kind::If;
      rule.first = std::move(*pattern);
      return rule;
    }
    if (isKeyword(p, "endif")) {
      if (depth == 0) {
        return Error::config("endif without if");
      }
      if (std::string_view rest = trim(p.substr(5)); !rest.empty()) {
        warnLine(line.number, fmt::format("ignoring text after endif: \"{}\"", rest));
      }
      rule.kind = Rule::Kind::Endif;
      return rule;
    }
    return Error::config("expected /pattern/ result, if or endif");
  }

  Result<Rule> parseMatch(std::string_view p, Rule rule) const {
    Result<PatternText> first = readPattern(p);
    if (!first) {
      return first.error();
    }
    std::optional<PatternText> second;
    if (!p.empty() && p.front() == '!') {
      Result<PatternText> text = readPattern(p);
      if (!text) {
        return text.error();
      }
      second = std::move(*text);
    }
    std::string_view result = trim(p);
    if (result.empty()) {
      warnLine(rule.line, "no result: using an empty string");
    }
    uint32_t max_group = 0;
    Result<std::vector<Piece>> pieces = parseResult(result, max_group);
    if (!pieces) {
      return pieces.error();
    }
    if (max_group > 0 && !first->positive) {
      return Error::config("result: $n after a negated pattern (it matched nothing to insert)");
    }
    Result<Pattern> compiled = compile(*first);
    if (!compiled) {
      return compiled.error();
    }
    if (max_group > compiled->groups) {
      return Error::config(fmt::format("result: ${} but the pattern has {} group{}", max_group,
                                       compiled->groups, compiled->groups == 1 ? "" : "s"));
    }
    rule.first = std::move(*compiled);
    if (second) {
      Result<Pattern> other = compile(*second);
      if (!other) {
        return other.error();
      }
      rule.second = std::move(*other);
    }
    rule.result = std::move(*pieces);
    rule.substitutes = max_group > 0;
    return rule;
  }

  // Is `p` the keyword `word` (any case) followed by a non-alphanumeric or the end?
  static bool isKeyword(std::string_view p, std::string_view word) {
    return istartsWith(p, word) &&
           (p.size() == word.size() || !std::isalnum(static_cast<unsigned char>(p[word.size()])));
  }
};

}  // namespace

TablePtr makeRegexpTable(const config::TableSpec& spec, const Warn& warn) {
  return std::make_shared<RegexpTable>(spec.path, warn);
}

}  // namespace petrel::lookup
