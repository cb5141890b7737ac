// A Sieve script (RFC 5228) as its syntax tree: the lexer and parser of section 8 (strings,
// quoted and multi-line "text:", numbers with K/M/G, string lists, tagged arguments, tests,
// blocks, hash and bracket comments), with errors at line:column and limits on script size,
// nesting and the number of commands.
//
// Only the grammar is checked here: which commands exist, their arguments and the require'd
// capabilities are the interpreter's (sieve/interpreter.h compile()). Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::sieve {

struct Position {
  uint32_t line = 1;
  uint32_t column = 1;
};

struct Tag {
  std::string name;  // without the colon, lower case: "contains"
};

struct StringList {
  std::vector<std::string> values;
  bool bracketed = false;  // written as ["..."], not a single string
};

using Argument = std::variant<Tag, uint64_t, StringList>;

struct ArgumentAt {
  Argument value;
  Position at;
};

struct Test {
  std::string name;  // lower case
  Position at;
  std::vector<ArgumentAt> arguments;
  std::vector<Test> tests;  // a test-list, or the single test of "not"
};

struct Command {
  std::string name;  // lower case
  Position at;
  std::vector<ArgumentAt> arguments;
  std::vector<Test> tests;  // the test of if/elsif, at most one
  bool has_block = false;
  std::vector<Command> block;
};

struct Script {
  std::vector<Command> commands;
};

struct Limits {
  size_t max_script_bytes = 1 << 20;
  size_t max_nesting = 32;  // blocks and tests inside each other
  size_t max_commands = 10000;  // commands and tests in all
};

// A syntax error: "line:column: what" in message(); the position separately.
struct SyntaxError {
  Position at;
  std::string what;
  std::string message() const;
};

// Parses the whole script. The error, when there is one, is the first found.
std::variant<Script, SyntaxError> parseScript(std::string_view text, const Limits& limits = {});

}  // namespace petrel::sieve
