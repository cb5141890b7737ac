// Tests for the cidr lookup backend (source/lookup/backends/cidr.cc) against Postfix's
// cidr_table(5): the manual's example, first match in file order, IPv4 and IPv6 spellings,
// bare addresses, negation, if/endif, the host-bits error and the other warnings, and reload.
// Where Postfix behaves in a particular way, the expected value was checked with
// `postmap -q KEY cidr:FILE` (Postfix 3.7).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "petrel/lookup/lookup_table.h"
#include "table_file_test_base.h"

namespace petrel::lookup {
namespace {

using Lines = std::vector<std::string>;

class CidrTableTest : public TableFileTestBase {
 protected:
  CidrTableTest() : TableFileTestBase("cidr") {}
};

TEST_F(CidrTableTest, ManualPageAccessMapExample) {
  TablePtr t = table(
      "# Rule order matters. Put more specific allowlist entries\n"
      "# before more general denylist entries.\n"
      "192.168.1.1             OK\n"
      "192.168.0.0/16          REJECT\n"
      "2001:db8::1             OK\n"
      "2001:db8::/32           REJECT\n");
  EXPECT_EQ(warnings(), Lines{});
  EXPECT_EQ(t->describe(), "cidr:" + path_);
  EXPECT_EQ(answer(t, "192.168.1.1"), "OK");
  EXPECT_EQ(answer(t, "192.168.1.2"), "REJECT");
  EXPECT_EQ(answer(t, "192.168.255.255"), "REJECT");
  EXPECT_EQ(answer(t, "192.169.0.1"), "(not found)");
  EXPECT_EQ(answer(t, "2001:db8::1"), "OK");
  EXPECT_EQ(answer(t, "2001:DB8:0:0::1"), "OK");  // compared in binary, as in Postfix
  EXPECT_EQ(answer(t, "2001:db8:ffff::2"), "REJECT");
  EXPECT_EQ(answer(t, "2001:db9::1"), "(not found)");
}

TEST_F(CidrTableTest, FirstMatchInFileOrderNotLongestPrefix) {
  TablePtr t = table(
      "10.0.0.0/8        general\n"
      "10.1.0.0/16       specific (never reached)\n"
      "0.0.0.0/0         any IPv4\n"
      "::/0              any IPv6\n");
  EXPECT_EQ(answer(t, "10.1.2.3"), "general");
  EXPECT_EQ(answer(t, "11.0.0.1"), "any IPv4");
  EXPECT_EQ(answer(t, "fe80::1"), "any IPv6");
}

TEST_F(CidrTableTest, BareAddressesAndPrefixEdges) {
  TablePtr t = table(
      "192.0.2.1      one host\n"
      "::1            loopback6\n"
      "198.51.100.0/25 lower half\n"
      "198.51.100.128/25 upper half\n"
      "2001:db8:4::/47 odd v6 prefix\n");
  EXPECT_EQ(answer(t, "192.0.2.1"), "one host");
  EXPECT_EQ(answer(t, "192.0.2.2"), "(not found)");
  EXPECT_EQ(answer(t, "::1"), "loopback6");
  EXPECT_EQ(answer(t, "0:0:0:0:0:0:0:1"), "loopback6");
  EXPECT_EQ(answer(t, "::2"), "(not found)");
  EXPECT_EQ(answer(t, "198.51.100.127"), "lower half");
  EXPECT_EQ(answer(t, "198.51.100.128"), "upper half");
  EXPECT_EQ(answer(t, "2001:db8:5:ffff::1"), "odd v6 prefix");
  EXPECT_EQ(answer(t, "2001:db8:6::"), "(not found)");
}

TEST_F(CidrTableTest, KeysThatAreNotAddressesMatchNothing) {
  TablePtr t = table("0.0.0.0/0 any4\n::/0 any6\n!10.0.0.0/8 not10\n");
  for (const char* key : {"", "example.org", "192.0.2", "[192.0.2.1]", "192.0.2.1/32", "010.0.0.1",
                          "::1%lo", "alice@example.org"}) {
    EXPECT_EQ(answer(t, key), "(not found)") << key;
  }
}

TEST_F(CidrTableTest, NegationAppliesWithinTheFamilyOnly) {
  TablePtr t = table(
      "!10.0.0.0/8       not in 10/8\n"
      "! 2001:db8::/32   not in 2001:db8::/32\n"
      "!!172.16.0.0/12   double negation\n");
  EXPECT_EQ(warnings(), Lines{});
  EXPECT_EQ(answer(t, "11.0.0.1"), "not in 10/8");
  EXPECT_EQ(answer(t, "10.9.9.9"), "(not found)");
  EXPECT_EQ(answer(t, "2001:db9::1"), "not in 2001:db8::/32");
  EXPECT_EQ(answer(t, "2001:db8::1"), "(not found)");

  TablePtr only_v4 = table("!10.0.0.0/8 NOT10\n");
  EXPECT_EQ(answer(only_v4, "2001:db8::5"), "(not found)");  // postmap agrees
  EXPECT_EQ(answer(only_v4, "10.0.0.1"), "(not found)");
  EXPECT_EQ(answer(only_v4, "11.0.0.1"), "NOT10");
}

TEST_F(CidrTableTest, IfEndifBlocksNest) {
  TablePtr t = table(
      "if 10.0.0.0/8\n"
      "10.1.0.0/16 IN-10-1\n"
      "!10.2.0.0/16 IN-10-NOT-2\n"
      "endif\n"
      "if ! 192.168.0.0/16\n"
      "::/0 V6-NOT-192\n"
      "0.0.0.0/0 V4-NOT-192\n"
      "endif\n"
      "IF 192.168.0.0/16\n"
      "if 192.168.1.0/24\n"
      "192.168.1.1 DEEP\n"
      "ENDIF\n"
      "192.168.0.0/16 IN-192\n"
      "endif\n");
  EXPECT_EQ(warnings(), Lines{});
  EXPECT_EQ(answer(t, "10.1.0.1"), "IN-10-1");
  EXPECT_EQ(answer(t, "10.3.0.1"), "IN-10-NOT-2");
  EXPECT_EQ(answer(t, "10.2.0.1"), "V4-NOT-192");
  EXPECT_EQ(answer(t, "11.1.1.1"), "V4-NOT-192");
  // An IPv6 key is not "not in 192.168.0.0/16": the negated if does not apply (postmap agrees).
  EXPECT_EQ(answer(t, "2001:db8::1"), "(not found)");
  EXPECT_EQ(answer(t, "192.168.1.1"), "DEEP");
  EXPECT_EQ(answer(t, "192.168.1.2"), "IN-192");
  EXPECT_EQ(answer(t, "192.168.2.1"), "IN-192");
}

TEST_F(CidrTableTest, BracketsAreAcceptedAsInPostfix) {
  TablePtr t = table(
      "[10.1.0.0]/16 A\n"
      "[10.2.0.0/16] B\n"
      "[2001:db8::1] C\n"
      "[10.3.0.0]x D\n"
      "[10.4.0.0 E\n");
  EXPECT_EQ(warnings(), (Lines{"line 4: text after ']' in \"[10.3.0.0]x\": skipping",
                               "line 5: missing ']' in \"[10.4.0.0\": skipping"}));
  EXPECT_EQ(answer(t, "10.1.2.3"), "A");
  EXPECT_EQ(answer(t, "10.2.2.3"), "B");
  EXPECT_EQ(answer(t, "2001:db8::1"), "C");
}

TEST_F(CidrTableTest, BadLinesAreWarnedAboutWithTheirLineAndSkipped) {
  TablePtr t = table(
      "  1.2.3.4 continuation of nothing\n"  // 1
      "192.168.1.2/24 host bits\n"           // 2
      "2001:db8::1/32 host bits v6\n"        // 3
      "1.2.3.4/33 too long\n"                // 4
      "1.2.3.4/ empty prefix\n"              // 5
      "010.1.1.1 octal\n"                    // 6
      "foo bar\n"                            // 7
      "1.2.3.4\n"                            // 8
      "endif\n"                              // 9
      "if 12.0.0.0/8 extra\n"                // 10
      "12.1.0.0/16 IN12\n"                   // 11
      "endif junk\n"                         // 12
      "if\n"                                 // 13
      "if 13.0.0.0/8\n"                      // 14
      "13.1.0.0/16 IN13\n"                   // 15
      "0.0.0.0/0 LAST\n");                   // 16
  EXPECT_EQ(
      warnings(),
      (Lines{
          "line 1: a line that starts with a blank continues the line before it, but there is "
          "none: skipping",
          "line 2: non-null host address bits in \"192.168.1.2/24\", perhaps you should use "
          "\"192.168.1.0/24\" instead: skipping",
          "line 3: non-null host address bits in \"2001:db8::1/32\", perhaps you should use "
          "\"2001:db8::/32\" instead: skipping",
          "line 4: bad net/mask pattern \"1.2.3.4/33\": the prefix length must be a number from 0 "
          "to 32: skipping",
          "line 5: bad net/mask pattern \"1.2.3.4/\": the prefix length must be a number from 0 "
          "to 32: skipping",
          "line 6: bad net/mask pattern \"010.1.1.1\": '010.1.1.1' is not an IPv4 or IPv6 "
          "address: skipping",
          "line 7: bad net/mask pattern \"foo\": 'foo' is not an IPv4 or IPv6 address: skipping",
          "line 8: no result after \"1.2.3.4\": skipping",
          "line 9: endif without if: skipping",
          "line 10: text after the if pattern in \"12.0.0.0/8 extra\" (lines inside if..endif "
          "must not start with a blank): skipping",
          "line 12: endif without if: skipping",
          "line 13: no address pattern: skipping",
          "line 14: if without endif: the rules after it apply only when it matches",
      }));
  EXPECT_EQ(answer(t, "192.168.1.2"), "(not found)");
  // As in Postfix, a skipped if leaves its rules unconditional.
  EXPECT_EQ(answer(t, "12.1.0.1"), "IN12");
  EXPECT_EQ(answer(t, "13.1.0.1"), "IN13");
  EXPECT_EQ(answer(t, "14.0.0.1"), "(not found)");  // line 16 is inside line 14's if
}

TEST_F(CidrTableTest, ContinuationLinesAndCrlf) {
  TablePtr t = table(
      "192.0.2.0/24\tfirst\r\n"
      "# comment between\r\n"
      "  second\r\n"
      "198.51.100.0/24 OK \r\n");
  EXPECT_EQ(warnings(), Lines{});
  EXPECT_EQ(answer(t, "192.0.2.9"), "first  second");
  EXPECT_EQ(answer(t, "198.51.100.1"), "OK");
}

TEST_F(CidrTableTest, MappedIpv6KeysMatchIpv4Blocks) {
  TablePtr t = table("192.0.2.0/24 v4 block\n::ffff:0:0/96 mapped range\n");
  EXPECT_EQ(answer(t, "::ffff:192.0.2.7"), "v4 block");
  EXPECT_EQ(answer(t, "::ffff:198.51.100.7"), "mapped range");
}

TEST_F(CidrTableTest, MissingFileTempFailsUntilItAppearsThenReloadsOnChange) {
  TablePtr t = open();
  EXPECT_EQ(answer(t, "192.0.2.1"),
            "(tempfail: table cidr:" + path_ + ": cannot open: No such file or directory)");
  ASSERT_EQ(warnings_.size(), 1u);
  t->refresh();
  EXPECT_EQ(warnings_.size(), 1u);

  writeFile("192.0.2.0/24 first\n");
  t->refresh();
  EXPECT_EQ(answer(t, "192.0.2.1"), "first");

  writeFile("192.0.2.1 second\n192.0.2.0/24 rest\n");
  EXPECT_EQ(answer(t, "192.0.2.1"), "first");  // only refresh() reloads
  t->refresh();
  EXPECT_EQ(answer(t, "192.0.2.1"), "second");
  EXPECT_EQ(answer(t, "192.0.2.2"), "rest");

  writeFile("192.0.2.1/24 typo\n");  // every rule bad: an empty table, not the old one
  t->refresh();
  EXPECT_EQ(answer(t, "192.0.2.1"), "(not found)");
  ASSERT_EQ(warnings_.size(), 2u);

  ASSERT_EQ(std::remove(path_.c_str()), 0);
  t->refresh();
  EXPECT_EQ(answer(t, "192.0.2.1"), "(not found)");  // keeps the last contents it loaded
  ASSERT_EQ(warnings_.size(), 3u);
  EXPECT_EQ(warnings_[2], "table cidr:" + path_ +
                              ": cannot open: No such file or directory: keeping the previous "
                              "contents");
}

}  // namespace
}  // namespace petrel::lookup
