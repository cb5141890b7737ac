// The Sieve parser (sieve/script.h): the RFC 5228 section 8 grammar, errors at line:column,
// the limits; and compile()'s checks of commands, tags and require.
#include "petrel/sieve/script.h"

#include <gtest/gtest.h>

#include "petrel/sieve/interpreter.h"

namespace petrel::sieve {
namespace {

Script parsed(std::string_view text) {
  auto r = parseScript(text);
  if (auto* e = std::get_if<SyntaxError>(&r)) {
    ADD_FAILURE() << e->message();
    return {};
  }
  return std::get<Script>(r);
}

std::string error(std::string_view text, const Limits& limits = {}) {
  auto r = parseScript(text, limits);
  auto* e = std::get_if<SyntaxError>(&r);
  return e == nullptr ? "no error" : e->message();
}

std::string compileError(std::string_view text) {
  auto r = compile(text);
  auto* e = std::get_if<SyntaxError>(&r);
  return e == nullptr ? "no error" : e->message();
}

TEST(SieveScript, CommandsArgumentsTestsAndBlocks) {
  Script s = parsed(
      "require [\"fileinto\", \"copy\"];\r\n"
      "# a comment\n"
      "if anyof (header :contains \"Subject\" \"x\", /* inline */ size :over 1K) {\n"
      "  fileinto :copy \"a\"; stop;\n"
      "} else { keep; }\n");
  ASSERT_EQ(s.commands.size(), 3u);
  EXPECT_EQ(s.commands[0].name, "require");
  const auto& list = std::get<StringList>(s.commands[0].arguments[0].value);
  EXPECT_TRUE(list.bracketed);
  EXPECT_EQ(list.values, (std::vector<std::string>{"fileinto", "copy"}));
  const Command& c = s.commands[1];
  EXPECT_EQ(c.name, "if");
  EXPECT_EQ(c.at.line, 3u);
  ASSERT_EQ(c.tests.size(), 1u);
  EXPECT_EQ(c.tests[0].name, "anyof");
  ASSERT_EQ(c.tests[0].tests.size(), 2u);
  EXPECT_EQ(std::get<uint64_t>(c.tests[0].tests[1].arguments[1].value), 1024u);
  EXPECT_EQ(std::get<Tag>(c.tests[0].tests[0].arguments[0].value).name, "contains");
  ASSERT_EQ(c.block.size(), 2u);
  EXPECT_TRUE(s.commands[2].has_block);
}

TEST(SieveScript, StringsNumbersAndMultiLine) {
  Script s = parsed("x \"a\\\"b\\\\c\\d\" 2M 3g 10 text: # comment\n.. dot\nline\n.\n;");
  const auto& a = s.commands[0].arguments;
  EXPECT_EQ(std::get<StringList>(a[0].value).values[0], "a\"b\\cd");
  EXPECT_EQ(std::get<uint64_t>(a[1].value), 2u << 20);
  EXPECT_EQ(std::get<uint64_t>(a[2].value), 3ull << 30);
  EXPECT_EQ(std::get<uint64_t>(a[3].value), 10u);
  EXPECT_EQ(std::get<StringList>(a[4].value).values[0], ". dot\r\nline\r\n");
}

TEST(SieveScript, ErrorsNameLineAndColumn) {
  EXPECT_EQ(error("keep"), "1:5: expected ';' or a block after command 'keep', found end of script");
  EXPECT_EQ(error("if true {\n keep;\n"), "3:1: expected '}' to end the block, found end of script");
  EXPECT_EQ(error("keep;\n  \"x\";"), "2:3: expected a command, found string");
  EXPECT_EQ(error("x \"abc"), "1:3: unterminated string");
  EXPECT_EQ(error("x text:\nabc\n"), "1:3: unterminated multi-line string (no line with a single '.')");
  EXPECT_EQ(error("/* open"), "1:1: unterminated bracket comment");
  EXPECT_EQ(error("x 99999999999999999999;"), "1:3: number too large");
  EXPECT_EQ(error("x 17179869184G;"), "1:3: number too large");
  EXPECT_EQ(error("x [\"a\" \"b\"];"), "1:8: expected ',' or ']' in a string list, found string");
  EXPECT_EQ(error("x : ;"), "1:3: a tag needs a name after ':'");
  EXPECT_EQ(error("}"), "1:1: '}' without a block to close");
  EXPECT_EQ(error("x \x01;"), "1:3: unexpected character '\\x01'");
  EXPECT_EQ(error("if anyof (true; false) {}"), "1:15: expected ',' or ')' in a test list, found ';'");
}

TEST(SieveScript, Limits) {
  Limits l;
  l.max_script_bytes = 10;
  EXPECT_EQ(error("keep; keep; keep;", l), "1:1: script larger than 10 bytes");
  l = {};
  l.max_nesting = 3;
  EXPECT_EQ(error("if true { if true { if true { if true { keep; } } } }", l),
            "1:34: nested deeper than 3 levels");
  l = {};
  l.max_commands = 3;
  EXPECT_EQ(error("keep; keep; keep; keep;", l), "1:19: more than 3 commands and tests");
  // Deep nesting of tests is bounded too (no stack exhaustion).
  std::string deep = "if " + std::string(5000, 'n') + " true {}";
  std::string nots;
  for (int i = 0; i < 5000; ++i) nots += "not ";
  EXPECT_EQ(error("if " + nots + "true {}"), "1:132: nested deeper than 32 levels");
}

TEST(SieveCompile, ChecksCommandsTagsAndRequire) {
  EXPECT_EQ(compileError("fileinto \"x\";"), "1:1: command 'fileinto' needs require \"fileinto\"");
  EXPECT_EQ(compileError("require \"nosuch\";"), "1:9: unknown capability \"nosuch\"");
  EXPECT_EQ(compileError("keep; require \"fileinto\";"), "1:7: require must come before every other command");
  EXPECT_EQ(compileError("frobnicate;"), "1:1: unknown command 'frobnicate'");
  EXPECT_EQ(compileError("if frob {}"), "1:4: unknown test 'frob'");
  EXPECT_EQ(compileError("if header :is :contains \"a\" \"b\" {}"), "1:15: tag ':contains' conflicts with an earlier tag");
  EXPECT_EQ(compileError("if header :over \"a\" \"b\" {}"), "1:11: unknown tag ':over' for 'header'");
  EXPECT_EQ(compileError("if size 10 {}"), "1:4: size needs :over or :under");
  EXPECT_EQ(compileError("if header \"a\" {}"), "1:4: 'header' takes a string list, a string list");
  EXPECT_EQ(compileError("redirect [\"a@b\", \"c@d\"];"), "1:1: 'redirect' takes a string");
  EXPECT_EQ(compileError("else { keep; }"), "1:1: 'else' without an 'if' before it");
  EXPECT_EQ(compileError("if true keep;"), "1:1: 'if' needs a block");
  EXPECT_EQ(compileError("if anyof (true false) {}"), "1:11: test 'true' takes no tests");
  EXPECT_EQ(compileError("keep { }"), "1:1: command 'keep' takes no block");
  EXPECT_EQ(compileError("if not (true, false) {}"), "1:4: test 'not' takes one test");
  EXPECT_EQ(compileError("if header :comparator \"i;nope\" \"a\" \"b\" {}"), "1:23: unknown comparator \"i;nope\"");
  EXPECT_EQ(compileError("require \"relational\"; if header :count \"xx\" \"a\" \"1\" {}"),
            "1:40: unknown relational operator \"xx\"");
  EXPECT_EQ(compileError("redirect :copy \"a@b\";"), "1:10: tag ':copy' needs require \"copy\"");
  EXPECT_EQ(compileError("require \"variables\"; set \"1x\" \"v\";"), "1:22: bad variable name \"1x\"");
  EXPECT_EQ(compileError("require [\"fileinto\", \"copy\", \"mailbox\", \"imap4flags\"];\n"
                         "fileinto :copy :create :flags \"\\\\Seen\" \"x\";"),
            "no error");
}

}  // namespace
}  // namespace petrel::sieve
