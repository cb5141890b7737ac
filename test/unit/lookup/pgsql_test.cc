// Tests for the pgsql lookup backend (source/lookup/backends/pgsql.cc) that need no server:
// the answers given without asking one (%d without a domain, a key that is not UTF-8) and the
// TempFail of a server that is not there (a unix socket directory that does not exist, so
// nothing is sent anywhere). Answers from a real PostgreSQL are checked by
// test/integration/t-51-pgsql-tables.
#include <gtest/gtest.h>

#include <string>

#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {
namespace {

constexpr const char* NoServer = "/nonexistent/petrel-pgsql-test";

TablePtr open(const std::string& query) {
  config::TableSpec spec;
  spec.name = "pfa_mailboxes";
  spec.type = "pgsql";
  spec.options = {{"host", NoServer},
                  {"port", "5432"},
                  {"user", "postfixadmin"},
                  {"password", "skoleni"},
                  {"database", "postfixadmin"},
                  {"query", query},
                  {"timeout", "2"}};
  return makeTable(spec, nullptr);
}

TEST(PgsqlTable, DescribesItselfByNameAndBlocks) {
  TablePtr table = open("SELECT maildir FROM mailbox WHERE username = %s AND active = true");
  EXPECT_EQ(table->describe(), "pgsql:pfa_mailboxes");
  EXPECT_TRUE(table->blocking());
}

TEST(PgsqlTable, ServerNotThereIsTempFailNamingTableAndCause) {
  TablePtr table = open("SELECT maildir FROM mailbox WHERE username = %s AND active = true");
  LookupResult r = table->lookup("alice@example.test");
  EXPECT_EQ(r.status, LookupStatus::TempFail);
  EXPECT_EQ(r.error.rfind("table pgsql:pfa_mailboxes: cannot connect: ", 0), 0u) << r.error;
  EXPECT_NE(r.error.find(NoServer), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find('\n'), std::string::npos) << r.error;  // one log line
  EXPECT_EQ(r.error.find("skoleni"), std::string::npos) << r.error;
  // And again: no pooled connection, no cached answer.
  EXPECT_EQ(table->lookup("alice@example.test").status, LookupStatus::TempFail);
}

TEST(PgsqlTable, KeyWithoutTheNeededPartIsNotFoundWithoutAsking) {
  TablePtr table =
      open("SELECT maildir FROM mailbox WHERE local_part = %u AND domain = %d AND active = true");
  // Would be TempFail if the table tried to reach the (missing) server.
  EXPECT_EQ(table->lookup("alice").status, LookupStatus::NotFound);
  EXPECT_EQ(table->lookup("alice@").status, LookupStatus::NotFound);
  EXPECT_EQ(table->lookup("alice@example.test").status, LookupStatus::TempFail);
}

TEST(PgsqlTable, KeyThatIsNotUtf8IsNotFoundWithoutAsking) {
  TablePtr table = open("SELECT maildir FROM mailbox WHERE username = %s AND active = true");
  EXPECT_EQ(table->lookup("al\xffice@example.test").status, LookupStatus::NotFound);
  EXPECT_EQ(table->lookup("\xc0\xaf@example.test").status, LookupStatus::NotFound);  // overlong
  EXPECT_EQ(table->lookup(std::string("a\0b@example.test", 16)).status, LookupStatus::NotFound);
  // Valid UTF-8 (RFC 6531 local parts) is asked for.
  EXPECT_EQ(table->lookup("j\xc3\xb6rg@example.test").status, LookupStatus::TempFail);
}

}  // namespace
}  // namespace petrel::lookup
