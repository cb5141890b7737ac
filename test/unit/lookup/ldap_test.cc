// Tests for the ldap lookup backend (source/lookup/backends/ldap.cc) that need no server: the
// answers given without asking one (%d without a domain), the TempFail of a server that is not
// there (an ldapi:// socket that does not exist, so nothing is sent anywhere) and of a bad uri.
// Answers from a real slapd, restarts and timeouts are checked by
// test/integration/t-53-ldap-tables.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {
namespace {

constexpr const char* NoServer = "ldapi://%2Fnonexistent%2Fpetrel-ldap-test";

TablePtr open(std::map<std::string, std::string> options) {
  config::TableSpec spec;
  spec.name = "people";
  spec.type = "ldap";
  spec.options = {{"uri", NoServer}, {"base", "dc=example,dc=test"}, {"attribute", "mail"},
                  {"timeout", "2"}};
  for (auto& [k, v] : options) spec.options[k] = v;
  return makeTable(spec, nullptr);
}

TEST(LdapTable, DescribesItselfByNameAndBlocks) {
  TablePtr table = open({});
  EXPECT_EQ(table->describe(), "ldap:people");
  EXPECT_TRUE(table->blocking());
}

TEST(LdapTable, ServerNotThereIsTempFailNamingTableAndCause) {
  TablePtr table = open({{"bind_dn", "cn=petrel,dc=example,dc=test"}, {"bind_password", "s3cret"}});
  LookupResult r = table->lookup("alice@example.test");
  EXPECT_EQ(r.status, LookupStatus::TempFail);
  EXPECT_EQ(r.error,
            "table ldap:people: bind as cn=petrel,dc=example,dc=test: Can't contact LDAP server");
  EXPECT_EQ(r.error.find("s3cret"), std::string::npos) << r.error;
  // And again: nothing pooled, nothing cached.
  EXPECT_EQ(table->lookup("alice@example.test").status, LookupStatus::TempFail);
}

TEST(LdapTable, AnonymousSearchToNoServerIsTempFail) {
  TablePtr table = open({{"filter", "(&(objectClass=inetOrgPerson)(mail=%s))"}});
  LookupResult r = table->lookup("a*@example.test");
  EXPECT_EQ(r.status, LookupStatus::TempFail);
  // The key is in the message escaped, as it went (would have gone) to the server.
  EXPECT_EQ(r.error,
            "table ldap:people: search (&(objectClass=inetOrgPerson)(mail=a\\2a@example.test)): "
            "Can't contact LDAP server");
}

TEST(LdapTable, KeyWithoutTheNeededPartIsNotFoundWithoutAsking) {
  TablePtr table = open({{"filter", "(&(uid=%u)(associatedDomain=%d))"}});
  // Would be TempFail if the table tried to reach the (missing) server.
  EXPECT_EQ(table->lookup("alice").status, LookupStatus::NotFound);
  EXPECT_EQ(table->lookup("alice@").status, LookupStatus::NotFound);
  EXPECT_EQ(table->lookup("@example.test").status, LookupStatus::NotFound);
  EXPECT_EQ(table->lookup("alice@example.test").status, LookupStatus::TempFail);
}

TEST(LdapTable, BadUriIsTempFail) {
  TablePtr table = open({{"uri", "http://ldap.example.test/"}});
  LookupResult r = table->lookup("alice@example.test");
  EXPECT_EQ(r.status, LookupStatus::TempFail);
  EXPECT_EQ(r.error.rfind("table ldap:people: connect: bad uri \"http://ldap.example.test/\": ", 0),
            0u)
      << r.error;
}

}  // namespace
}  // namespace petrel::lookup
