// MailAddress: the split at the last '@', text without a domain, case, extensions by the
// recipient delimiter, parent-domain keys.
#include "petrel/core/mail_address.h"

#include <gtest/gtest.h>

namespace petrel {
namespace {

TEST(MailAddressTest, SplitsAtTheLastAt) {
  MailAddress a("Alice@Example.ORG");
  EXPECT_TRUE(a.hasDomain());
  EXPECT_EQ(a.local(), "Alice");  // local parts keep their case
  EXPECT_EQ(a.domain(), "Example.ORG");
  EXPECT_EQ(a.lowerDomain(), "example.org");
  EXPECT_EQ(a.key(), "alice@example.org");
  EXPECT_EQ(a.text(), "Alice@Example.ORG");

  MailAddress quoted("\"a@b\"@example.org");
  EXPECT_EQ(quoted.local(), "\"a@b\"");
  EXPECT_EQ(quoted.domain(), "example.org");
}

TEST(MailAddressTest, TextWithoutDomain) {
  MailAddress a("postmaster");
  EXPECT_FALSE(a.hasDomain());
  EXPECT_EQ(a.local(), "postmaster");
  EXPECT_EQ(a.domain(), "");
  EXPECT_TRUE(a.parentDomains().empty());
  EXPECT_EQ(a.withoutExtension("+"), "postmaster");

  MailAddress empty_domain("user@");
  EXPECT_TRUE(empty_domain.hasDomain());
  EXPECT_EQ(empty_domain.local(), "user");
  EXPECT_EQ(empty_domain.domain(), "");

  MailAddress empty("");
  EXPECT_FALSE(empty.hasDomain());
  EXPECT_EQ(empty.local(), "");
}

TEST(MailAddressTest, ParseWantsBothSides) {
  auto a = MailAddress::parse("bob@example.org");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->local(), "bob");
  EXPECT_EQ(a->domain(), "example.org");
  EXPECT_FALSE(MailAddress::parse("bob"));
  EXPECT_FALSE(MailAddress::parse("bob@"));
  EXPECT_FALSE(MailAddress::parse("@example.org"));
  EXPECT_FALSE(MailAddress::parse(""));
  EXPECT_TRUE(MailAddress::parse("a@b@c"));  // local part "a@b": the SMTP parser judges it
}

TEST(MailAddressTest, Extensions) {
  MailAddress a("Alice+Tag-x@Example.org");
  EXPECT_EQ(a.localWithoutExtension("+"), "Alice");
  EXPECT_EQ(a.extension("+"), "Tag-x");
  EXPECT_EQ(a.withoutExtension("+"), "Alice@Example.org");
  // Several delimiter characters: the first that occurs cuts.
  EXPECT_EQ(a.localWithoutExtension("-+"), "Alice");
  EXPECT_EQ(MailAddress("a-b+c@x").localWithoutExtension("+-"), "a");
  EXPECT_EQ(MailAddress("a-b+c@x").extension("+-"), "b+c");
  // No delimiters configured, none in the address, or nothing before it: no extension.
  EXPECT_EQ(a.localWithoutExtension(""), "Alice+Tag-x");
  EXPECT_EQ(a.extension(""), "");
  EXPECT_EQ(MailAddress("bob@x").withoutExtension("+"), "bob@x");
  EXPECT_EQ(MailAddress("+tag@x").localWithoutExtension("+"), "+tag");
  EXPECT_EQ(MailAddress("+tag@x").extension("+"), "");
  // A delimiter in the domain is not an extension.
  EXPECT_EQ(MailAddress("bob@a+b.example").withoutExtension("+"), "bob@a+b.example");
  EXPECT_EQ(MailAddress("bob+@x").extension("+"), "");
  EXPECT_EQ(MailAddress("bob+@x").withoutExtension("+"), "bob@x");
}

TEST(MailAddressTest, ParentDomains) {
  EXPECT_EQ(MailAddress("u@mx.Example.ORG").parentDomains(),
            (std::vector<std::string>{".example.org", ".org"}));
  EXPECT_EQ(MailAddress("u@example.org").parentDomains(), (std::vector<std::string>{".org"}));
  EXPECT_TRUE(MailAddress("u@localhost").parentDomains().empty());
  // A trailing dot is kept as written.
  EXPECT_EQ(MailAddress("u@example.org.").parentDomains(),
            (std::vector<std::string>{".org.", "."}));
}

}  // namespace
}  // namespace petrel
