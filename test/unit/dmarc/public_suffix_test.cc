// dmarc::PublicSuffixList: the publicsuffix project's checkPublicSuffix() cases
// (test/testdata/dmarc/test_psl.txt, copied from github.com/publicsuffix/list tests/, public
// domain) against Debian's list, one test per case; the rule parser; the organizational
// domain of RFC 7489 3.2; load errors.
#include "petrel/dmarc/public_suffix.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace petrel::dmarc {
namespace {

const std::string DebianList(DefaultPublicSuffixList);

struct PslCase {
  int line = 0;
  std::optional<std::string> input;     // null: no input
  std::optional<std::string> expected;  // null: no registrable domain
  std::string name;
};

std::vector<PslCase> loadCases() {
  std::ifstream in(std::string(PETREL_SOURCE_ROOT) + "/test/testdata/dmarc/test_psl.txt");
  std::vector<PslCase> out;
  std::regex re(R"(^checkPublicSuffix\((null|'([^']*)'), (null|'([^']*)')\);)");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::smatch m;
    if (!std::regex_search(line, m, re)) continue;
    PslCase c;
    c.line = n;
    if (m[1] != "null") c.input = m[2];
    if (m[3] != "null") c.expected = m[4];
    c.name = "line" + std::to_string(n) + "_";
    for (char ch : c.input.value_or("null")) {
      c.name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
    }
    out.push_back(std::move(c));
  }
  return out;
}

const PublicSuffixList* debian() {
  static auto psl = PublicSuffixList::load(DebianList);
  return psl ? &*psl : nullptr;
}

class CheckPublicSuffix : public ::testing::TestWithParam<PslCase> {};

TEST_P(CheckPublicSuffix, Case) {
  const PslCase& c = GetParam();
  const PublicSuffixList* psl = debian();
  if (psl == nullptr) GTEST_SKIP() << DebianList << " is missing (Debian package publicsuffix)";
  auto got = psl->registrableDomain(c.input.value_or(""));
  EXPECT_EQ(got, c.expected) << "test_psl.txt line " << c.line << ": checkPublicSuffix("
                             << c.input.value_or("null") << ")";
}

INSTANTIATE_TEST_SUITE_P(PublicSuffixProject, CheckPublicSuffix, ::testing::ValuesIn(loadCases()),
                         [](const auto& info) { return info.param.name; });

TEST(PublicSuffixList, AllCasesFound) {
  // 80 cases in the copy of test_psl.txt; a broken regex must not pass by running none.
  EXPECT_GE(loadCases().size(), 75u);
}

TEST(PublicSuffixList, ParseRule) {
  auto r = PublicSuffixList::parseRule("*.kawasaki.jp");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->wildcard);
  EXPECT_EQ(r->name, "kawasaki.jp");
  r = PublicSuffixList::parseRule("!city.kawasaki.jp");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->exception);
  EXPECT_EQ(r->name, "city.kawasaki.jp");
  r = PublicSuffixList::parseRule("公司.cn");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "xn--55qx5d.cn");
  r = PublicSuffixList::parseRule("  co.uk   trailing words");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "co.uk");
  EXPECT_FALSE(PublicSuffixList::parseRule("// comment"));
  EXPECT_FALSE(PublicSuffixList::parseRule(""));
  EXPECT_FALSE(PublicSuffixList::parseRule("a..b"));
  EXPECT_FALSE(PublicSuffixList::parseRule("a.*.b"));
  EXPECT_FALSE(PublicSuffixList::parseRule("\xff\xfe.com"));
}

TEST(PublicSuffixList, Punycode) {
  // RFC 3492 7.1 (A) Arabic (Egyptian) and (L) 3<nen>B<gumi><kinpachi><sensei>.
  EXPECT_EQ(toALabel("\xd9\x84\xd9\x8a\xd9\x87\xd9\x85\xd8\xa7\xd8\xa8\xd8\xaa\xd9\x83\xd9\x84"
                     "\xd9\x85\xd9\x88\xd8\xb4\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\x9f"),
            "xn--egbpdaj6bu4bxfgehfvwxn");
  EXPECT_EQ(toALabel("3年B組金八先生"), "xn--3b-ww4c5e180e575a65lsy2b");
  EXPECT_EQ(toALabel("食狮"), "xn--85x722f");
  EXPECT_EQ(toALabel("中国"), "xn--fiqs8s");
  EXPECT_EQ(toALabel("Example"), "example");
}

TEST(PublicSuffixList, OwnList) {
  auto psl = PublicSuffixList::parse(
      "// ===BEGIN ICANN DOMAINS===\ncom\nuk\nco.uk\n*.ck\n!www.ck\n"
      "// ===END ICANN DOMAINS===\n// ===BEGIN PRIVATE DOMAINS===\nblogspot.com\n",
      "test");
  ASSERT_TRUE(psl) << psl.error().message();
  EXPECT_EQ(psl->ruleCount(), 6u);
  EXPECT_EQ(psl->organizationalDomain("mail.Example.CO.UK"), "example.co.uk");
  EXPECT_EQ(psl->organizationalDomain("a.b.example.com."), "example.com");
  EXPECT_EQ(psl->organizationalDomain("x.alice.blogspot.com"), "alice.blogspot.com");  // private
  EXPECT_EQ(psl->organizationalDomain("a.b.test.ck"), "b.test.ck");
  EXPECT_EQ(psl->organizationalDomain("a.www.ck"), "www.ck");
  EXPECT_EQ(psl->organizationalDomain("co.uk"), "co.uk");              // a public suffix is its own
  EXPECT_EQ(psl->organizationalDomain("x.y.unlisted"), "y.unlisted");  // the "*" rule
  EXPECT_EQ(psl->publicSuffix("a.b.test.ck"), "test.ck");
  EXPECT_FALSE(psl->publicSuffix(".com"));
}

TEST(PublicSuffixList, LoadErrorsNameTheFile) {
  auto r = PublicSuffixList::load("/nonexistent/psl.dat");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::Config);
  EXPECT_EQ(r.error().message(), "public suffix list /nonexistent/psl.dat: cannot read it");
  auto empty = PublicSuffixList::parse("// nothing\n\n", "empty.dat");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message(), "public suffix list empty.dat: no rules");
  auto big = PublicSuffixList::parse(std::string(PublicSuffixList::MaxFileBytes + 1, 'a'), "big");
  ASSERT_FALSE(big);
}

TEST(PublicSuffixList, DebianFile) {
  const PublicSuffixList* psl = debian();
  if (psl == nullptr) GTEST_SKIP() << DebianList << " is missing";
  EXPECT_GT(psl->ruleCount(), 5000u);
  EXPECT_EQ(psl->organizationalDomain("mail.example.co.uk"), "example.co.uk");
  EXPECT_EQ(psl->organizationalDomain("a.b.example.com"), "example.com");
}

}  // namespace
}  // namespace petrel::dmarc
