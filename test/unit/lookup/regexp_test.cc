// Tests for the regexp lookup backend (source/lookup/backends/regexp.cc) against Postfix's
// regexp_table(5): the manual's example, first match wins, $n substitution, negation, flags
// and case, if/endif, continuation lines, the warnings for bad lines, reload, and concurrent
// lookups. Where Postfix behaves in a particular way, the expected value was checked with
// `postmap -q KEY regexp:FILE` (Postfix 3.7).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "petrel/lookup/lookup_table.h"
#include "table_file_test_base.h"

namespace petrel::lookup {
namespace {

using Lines = std::vector<std::string>;

class RegexpTableTest : public TableFileTestBase {
 protected:
  RegexpTableTest() : TableFileTestBase("regexp") {}
};

TEST_F(RegexpTableTest, ManualPageAccessMapExample) {
  TablePtr t = table(
      "# Disallow sender-specified routing. This is a must if you relay mail\n"
      "# for other domains.\n"
      "/[%!@].*[%!@]/       550 Sender-specified routing rejected\n"
      "\n"
      "# Postmaster is OK, that way they can talk to us about how to fix\n"
      "# their problem.\n"
      "/^postmaster@/       OK\n"
      "\n"
      "# Protect your outgoing majordomo exploders\n"
      "if !/^owner-/\n"
      "/^(.*)-outgoing@(.*)$/  550 Use ${1}@${2} instead\n"
      "endif\n");
  EXPECT_EQ(warnings(), Lines{});
  EXPECT_EQ(t->describe(), "regexp:" + path_);
  EXPECT_EQ(answer(t, "alice%example.net@example.org"), "550 Sender-specified routing rejected");
  EXPECT_EQ(answer(t, "postmaster@example.org"), "OK");
  EXPECT_EQ(answer(t, "list-outgoing@example.org"), "550 Use list@example.org instead");
  EXPECT_EQ(answer(t, "owner-list-outgoing@example.org"), "(not found)");
  EXPECT_EQ(answer(t, "bob@example.org"), "(not found)");
}

TEST_F(RegexpTableTest, FirstMatchWinsInFileOrder) {
  TablePtr t = table(
      "/@example\\.org$/   general\n"
      "/^alice@example\\.org$/   specific (never reached)\n"
      "/^alice@/   other-domain\n");
  EXPECT_EQ(answer(t, "alice@example.org"), "general");
  EXPECT_EQ(answer(t, "alice@example.net"), "other-domain");
  EXPECT_EQ(answer(t, "bob@example.net"), "(not found)");
}

TEST_F(RegexpTableTest, Substitution) {
  TablePtr t = table(
      "/^opt(x)?y@(.*)$/  opt[$1][$(2)] $$ $$1\n"
      "/^(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)@/  $11${10}$(9)$1\n"
      "/^(.+)\\+(.+)@(.+)$/  $1@$3 (extension $2)\n"
      "/^nothing@/  costs $$5\n");
  EXPECT_EQ(warnings(), Lines{});
  EXPECT_EQ(answer(t, "optxy@dom"), "opt[x][dom] $ $1");
  EXPECT_EQ(answer(t, "opty@dom"), "opt[][dom] $ $1");  // a group that took no part: nothing
  EXPECT_EQ(answer(t, "abcdefghijk@x"), "kjia");
  EXPECT_EQ(answer(t, "bob+lists@example.org"), "bob@example.org (extension lists)");
  EXPECT_EQ(answer(t, "nothing@x"), "costs $5");
}

TEST_F(RegexpTableTest, NegatedPatterns) {
  TablePtr t = table(
      "!/^admin@/   NOT-ADMIN\n"
      "/^admin@/   ADMIN\n");
  EXPECT_EQ(answer(t, "bob@x"), "NOT-ADMIN");
  EXPECT_EQ(answer(t, "admin@x"), "ADMIN");

  TablePtr spaced = table("! /^a@/  spaced negation\n");
  EXPECT_EQ(answer(spaced, "b@y"), "spaced negation");
  EXPECT_EQ(answer(spaced, "a@y"), "(not found)");
  EXPECT_EQ(warnings(), Lines{});
}

TEST_F(RegexpTableTest, NegatedPatternOrderAndOldTwoPatternForm) {
  TablePtr t = table(
      "/^a@/  A\n"
      "!!/^b@/  B\n"
      "/^c@/!/^c@internal/  C-NOT-INTERNAL\n");
  EXPECT_EQ(answer(t, "b@y"), "B");
  EXPECT_EQ(answer(t, "c@example"), "C-NOT-INTERNAL");
  EXPECT_EQ(answer(t, "c@internal"), "(not found)");
}

TEST_F(RegexpTableTest, CaseInsensitiveUnlessTheIFlagTogglesIt) {
  TablePtr t = table(
      "/^POSTMASTER@/   insensitive by default\n"
      "/^Case@/i   sensitive\n"
      "/^other@/ii   toggled twice: insensitive\n");
  EXPECT_EQ(answer(t, "postmaster@x"), "insensitive by default");
  EXPECT_EQ(answer(t, "PostMaster@x"), "insensitive by default");
  // Keys are matched as given: the router passes lower-case addresses, so a case-sensitive
  // pattern with capitals matches only when a caller passes the capitals.
  EXPECT_EQ(answer(t, "case@x"), "(not found)");
  EXPECT_EQ(answer(t, "Case@x"), "sensitive");
  EXPECT_EQ(answer(t, "OTHER@x"), "toggled twice: insensitive");
}

TEST_F(RegexpTableTest, MultiLineDotAllAndExtendedFlags) {
  TablePtr t = table(
      "/^b$/m   multi-line\n"
      "/a.c/s   dot-all\n"
      "/ x y z /x   extended\n"
      "/a b/   blank is literal without x\n");
  EXPECT_EQ(warnings(), Lines{});
  EXPECT_EQ(answer(t, "a\nb"), "multi-line");
  EXPECT_EQ(answer(t, "a\nc"), "dot-all");
  EXPECT_EQ(answer(t, "xyz"), "extended");
  EXPECT_EQ(answer(t, "a b"), "blank is literal without x");
  EXPECT_EQ(answer(t, "a\nb\nz"), "multi-line");
}

TEST_F(RegexpTableTest, OtherDelimitersAndEscapedDelimiters) {
  TablePtr t = table(
      "|^alt@|   ALT\n"
      "/^q\\/z@/   QZ\n"
      "%^100\\%@%   PERCENT\n");
  EXPECT_EQ(warnings(), Lines{});
  EXPECT_EQ(answer(t, "alt@x"), "ALT");
  EXPECT_EQ(answer(t, "q/z@x"), "QZ");
  EXPECT_EQ(answer(t, "100%@x"), "PERCENT");
}

TEST_F(RegexpTableTest, NestedIfEndif) {
  TablePtr t = table(
      "if /@example\\.org$/\n"
      "if !/^admin/\n"
      "/^(.*)@/   user $1\n"
      "endif\n"
      "/^admin/   admin of example.org\n"
      "ENDIF\n"
      "/./   anything else\n");
  EXPECT_EQ(warnings(), Lines{});
  EXPECT_EQ(answer(t, "bob@example.org"), "user bob");
  EXPECT_EQ(answer(t, "admin@example.org"), "admin of example.org");
  EXPECT_EQ(answer(t, "bob@example.net"), "anything else");
  EXPECT_EQ(answer(t, ""), "(not found)");
}

TEST_F(RegexpTableTest, CommentsBlankLinesAndContinuationLines) {
  TablePtr t = table(
      "# comment\n"
      "   # indented comment\n"
      "\n"
      "/^cont@/ first\r\n"
      "# a comment between a line and its continuation\n"
      "\n"
      "  second\n"
      "\tthird  \n"
      "/^next@/ NEXT\n");
  EXPECT_EQ(warnings(), Lines{});
  // Postfix joins without a separator and keeps the continuation's leading blanks.
  EXPECT_EQ(answer(t, "cont@x"), "first  second\tthird");
  EXPECT_EQ(answer(t, "next@x"), "NEXT");
}

TEST_F(RegexpTableTest, BadLinesAreWarnedAboutWithTheirLineAndSkipped) {
  TablePtr t = table(
      "  /^indented@/ first line cannot be a continuation\n"  // 1
      "/^bad(x)@/ $1x\n"                                      // 2
      "/^bad2(x)@/ $2\n"                                      // 3
      "!/^(neg)@/ $1\n"                                       // 4
      "/^empty@/\n"                                           // 5
      "/^dollar@/ cost $\n"                                   // 6
      "/^brace@/ {literal} (x)\n"                             // 7
      "/^brace(x)@/ ${1\n"                                    // 8
      "/^unk@/z UNK\n"                                        // 9
      "/^(paren@/ PAREN\n"                                    // 10
      "/^noclose@ NOCLOSE\n"                                  // 11
      "endif\n"                                               // 12
      "ok@example.org  a file-table line\n"                   // 13
      "if /^x/ trailing\n"                                    // 14
      "endif trailing\n"                                      // 15
      "if /^y/\n"                                             // 16
      "/^zero@/ $0\n"                                         // 17
      "/^good@/ GOOD\n");                                     // 18
  EXPECT_EQ(
      warnings(),
      (Lines{
          "line 1: a line that starts with a blank continues the line before it, but there is "
          "none: skipping",
          "line 2: result: \"$1x\" is not a group number (write ${1}x for group 1 followed by "
          "x): skipping",
          "line 3: result: $2 but the pattern has 1 group: skipping",
          "line 4: result: $n after a negated pattern (it matched nothing to insert): skipping",
          "line 5: no result: using an empty string",
          "line 6: result: a '$' without a group number (write $$ for a dollar sign): skipping",
          "line 8: result: no '}' after \"${\": skipping",
          "line 9: unknown flag 'z' after the regular expression (known: i, m, s, x): skipping",
          "line 10: bad regular expression \"^(paren@\": missing closing parenthesis at offset "
          "8: skipping",
          "line 11: no closing delimiter '/' after the regular expression: skipping",
          "line 12: endif without if: skipping",
          "line 13: expected /pattern/ result, if or endif: skipping",
          "line 14: ignoring text after the if pattern: \"trailing\" (lines inside if..endif "
          "must not start with a blank)",
          "line 15: ignoring text after endif: \"trailing\"",
          "line 17: result: \"$0\": group numbers go from 1 to 99: skipping",
          "line 16: if without endif: the rules after it apply only when it matches",
      }));
  EXPECT_EQ(answer(t, "empty@x"), "");  // Postfix keeps the rule with an empty result
  EXPECT_EQ(answer(t, "brace@x"), "{literal} (x)");
  EXPECT_EQ(answer(t, "badx@y"), "(not found)");
  EXPECT_EQ(answer(t, "xyz"), "(not found)");  // line 14's if holds no rules
  // Line 18 sits inside line 16's unclosed if, so it needs both /^y/ and /^good@/.
  EXPECT_EQ(answer(t, "good@x"), "(not found)");
}

TEST_F(RegexpTableTest, MissingFileTempFailsUntilItAppearsThenReloadsOnChange) {
  TablePtr t = open();
  EXPECT_EQ(answer(t, "a@x"),
            "(tempfail: table regexp:" + path_ + ": cannot open: No such file or directory)");
  t->refresh();
  EXPECT_EQ(warnings_.size(), 1u);

  writeFile("/^a@/ first\n");
  t->refresh();
  EXPECT_EQ(answer(t, "a@x"), "first");

  writeFile("/^a@(.*)/ second $1\n/^b@/ B\n");
  EXPECT_EQ(answer(t, "a@x"), "first");  // only refresh() reloads
  t->refresh();
  EXPECT_EQ(answer(t, "a@x"), "second x");
  EXPECT_EQ(answer(t, "b@x"), "B");

  ASSERT_EQ(std::remove(path_.c_str()), 0);
  t->refresh();
  EXPECT_EQ(answer(t, "a@x"), "second x");  // the last good contents stay
  EXPECT_EQ(warnings_.size(), 2u);
}

TEST_F(RegexpTableTest, AMatchPcreCannotFinishTempFails) {
  TablePtr t = table("/^(a+)+$/   catastrophic\n/./   fallback\n");
  std::string key(40, 'a');
  key += '!';
  LookupResult r = t->lookup(key);
  EXPECT_EQ(r.status, LookupStatus::TempFail);
  EXPECT_NE(r.error.find("table regexp:" + path_ + ": line 1: cannot match"), std::string::npos)
      << r.error;
  EXPECT_EQ(answer(t, "aaa"), "catastrophic");
}

TEST_F(RegexpTableTest, ConcurrentLookupsKeepTheirOwnGroups) {
  TablePtr t = table("/^([a-z]+)-([0-9]+)@/   $2:$1\n");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int n = 0; n < 4; ++n) {
    threads.emplace_back([&, n] {
      std::string name(static_cast<size_t>(n + 1), static_cast<char>('a' + n));
      for (int i = 0; i < 2000; ++i) {
        std::string key = name + "-" + std::to_string(i) + "@x";
        if (t->lookup(key).value != std::to_string(i) + ":" + name) {
          ++wrong;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace petrel::lookup
