// The commands and tests the interpreter knows, their arguments and the capability each needs,
// and the classification of a node's arguments against them (tagged arguments by name,
// comparator, match type, address part; positional arguments in order). Shared by compile()
// (which reports what does not fit) and run() (which trusts a compiled script). Private to
// source/sieve/.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "petrel/sieve/script.h"

namespace petrel::sieve {

enum class ArgKind { None, String, StringList, Number };

struct Parsed {
  std::string comparator = "i;ascii-casemap";
  std::string match = "is";  // is, contains, matches, count, value
  std::string relation;      // count/value: gt ge lt le eq ne
  std::string part = "all";  // all, localpart, domain, user, detail
  std::map<std::string, const Argument*> tags;  // every tag given; its value or nullptr
  std::vector<const Argument*> positional;

  bool has(const std::string& tag) const { return tags.count(tag) != 0; }
  const std::vector<std::string>* strings(const std::string& tag) const;
};

// The capabilities require accepts.
bool knownCapability(std::string_view name);

// Classifies a command's (is_test false) or test's arguments; `required` are the
// capabilities required so far. On failure: the error with its position.
std::variant<Parsed, SyntaxError> classify(std::string_view name, bool is_test, Position at,
                                           const std::vector<ArgumentAt>& arguments,
                                           const std::set<std::string>& required);

// The test count a command or test takes: 0, 1, or -1 for a test list (allof, anyof).
int testsTaken(std::string_view name, bool is_test);

const std::vector<std::string>& stringsOf(const Argument& a);

}  // namespace petrel::sieve
