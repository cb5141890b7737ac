// The `cidr` backend: Postfix cidr_table(5) files, reloaded when they change.
//
// A file is a list of rules tried in file order; the first that matches the key (an IPv4 or
// IPv6 address literal) gives the result:
//   192.0.2.0/24 result     the key is in the block; a bare address is /32 or /128
//   !192.0.2.0/24 result    the key is of the block's family and not in it
//   if 192.0.2.0/24 ... endif, if !192.0.2.0/24 ... endif   (nest; inner lines unindented)
// Blocks use inet_pton spellings (core/cidr.h); "[2001:db8::]/32", "[192.0.2.1]" and
// "[192.0.2.0/24]" are accepted too, as Postfix does. A block with non-zero host bits
// ("192.0.2.1/24") is refused with Postfix's hint, as is a rule without a result. A key that
// is not an address matches nothing. Comments, blank lines and continuation lines follow
// logicalLines().
//
// Unlike Postfix, an IPv4-mapped IPv6 key (::ffff:192.0.2.7) is matched as the IPv4 address
// it carries, like mynetworks: that is how a dual-stack listener reports IPv4 peers.
//
// Every problem on a line is warned about with its line number and the line is skipped, as
// Postfix does ("table cidr:/etc/petrel/clients: line 7: ...: skipping"). Like Postfix, a
// skipped `if` leaves its block's rules unconditional and its `endif` unmatched (warned too).
#include "petrel/core/cidr.h"

#include <fmt/format.h>

#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "../file_backed_table.h"
#include "petrel/core/strings.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {

namespace {

struct Rule {
  enum class Kind { Match, If, Endif };
  Kind kind = Kind::Match;
  size_t depth = 0;  // number of ifs around the rule
  Cidr block;
  bool negated = false;
  std::string result;  // Match only
};

class CidrContents final : public TableContents {
 public:
  LookupResult find(std::string_view key) const override {
    std::optional<IpAddress> address = IpAddress::parse(key);
    if (!address) {
      return LookupResult::notFound();
    }
    // A negated block applies only within its own family, as in Postfix: "!10.0.0.0/8"
    // says nothing about IPv6 keys.
    Result<const Rule*> match = firstMatchingRule(rules, [&](const Rule& rule) -> Result<bool> {
      return rule.block.sameFamily(*address) && rule.block.contains(*address) != rule.negated;
    });
    if (*match == nullptr) return LookupResult::notFound();
    return LookupResult::found((*match)->result);
  }

  std::vector<Rule> rules;
};

// "!192.0.2.0/24" -> the block and whether it is negated. Brackets as Postfix takes them:
// "[addr]", "[addr]/len" and "[addr/len]".
Result<Rule> parsePattern(std::string_view pattern) {
  Rule rule;
  while (!pattern.empty() && pattern.front() == '!') {
    rule.negated = !rule.negated;
    pattern.remove_prefix(1);
  }
  pattern = trim(pattern);  // Postfix allows "! 192.0.2.0/24"
  if (pattern.empty()) {
    return Error::config("no address pattern");
  }
  std::string text(pattern);
  if (pattern.front() == '[') {
    size_t close = pattern.find(']');
    if (close == std::string_view::npos) {
      return Error::config(fmt::format("missing ']' in \"{}\"", pattern));
    }
    std::string_view after = pattern.substr(close + 1);
    if (!after.empty() && after.front() != '/') {
      return Error::config(fmt::format("text after ']' in \"{}\"", pattern));
    }
    text = fmt::format("{}{}", pattern.substr(1, close - 1), after);
  }
  Result<Cidr> block = Cidr::parse(text);
  if (!block) {
    return block.error();
  }
  rule.block = *block;
  return rule;
}

// Is `p` the keyword `word` (any case) followed by a non-alphanumeric or the end?
bool isKeyword(std::string_view p, std::string_view word) {
  return istartsWith(p, word) &&
         (p.size() == word.size() || !std::isalnum(static_cast<unsigned char>(p[word.size()])));
}

class CidrTable final : public FileBackedTable {
 public:
  CidrTable(std::string path, Warn warn)
      : FileBackedTable("cidr", std::move(path), std::move(warn)) {
    refresh();
  }

 private:
  ContentsPtr parse(std::string_view text) const override {
    auto contents = std::make_shared<CidrContents>();
    contents->rules = parseRuleLines<Rule>(
        text, [](const LogicalLine& line, size_t depth) { return parseRule(line.text, depth); },
        [this](size_t n, std::string_view what) { warnLine(n, what); });
    return contents;
  }

  static Result<Rule> parseRule(std::string_view line, size_t depth) {
    if (isKeyword(line, "endif")) {
      if (depth == 0) {
        return Error::config("endif without if");
      }
      if (!trim(line.substr(5)).empty()) {
        return Error::config("text after endif");
      }
      Rule rule;
      rule.kind = Rule::Kind::Endif;
      rule.depth = depth;
      return rule;
    }
    if (isKeyword(line, "if")) {
      // The rest of the line is the pattern: "if 10.0.0.0/8 x" is an error, not a result.
      std::string_view pattern = trim(line.substr(2));
      size_t block = pattern.find_first_not_of("! \t");  // "if ! 10.0.0.0/8" is fine
      if (block != std::string_view::npos &&
          pattern.find_first_of(" \t", block) != std::string_view::npos) {
        return Error::config(fmt::format(
            "text after the if pattern in \"{}\" (lines inside if..endif must not start with a "
            "blank)",
            pattern));
      }
      Result<Rule> rule = parsePattern(pattern);
      if (rule) {
        rule->kind = Rule::Kind::If;
        rule->depth = depth;
      }
      return rule;
    }
    // "!" may be followed by blanks before the block, so the result starts after the first
    // blank that follows the block itself.
    size_t start = line.find_first_not_of("! \t");
    size_t blank =
        start == std::string_view::npos ? std::string_view::npos : line.find_first_of(" \t", start);
    std::string_view pattern = line.substr(0, blank);
    std::string_view result =
        blank == std::string_view::npos ? std::string_view{} : trim(line.substr(blank));
    Result<Rule> rule = parsePattern(pattern);
    if (!rule) {
      return rule;
    }
    if (result.empty()) {
      return Error::config(fmt::format("no result after \"{}\"", pattern));
    }
    rule->depth = depth;
    rule->result = std::string(result);
    return rule;
  }
};

}  // namespace

TablePtr makeCidrTable(const config::TableSpec& spec, const Warn& warn) {
  return std::make_shared<CidrTable>(spec.path, warn);
}

}  // namespace petrel::lookup
