// Tests for the mysql lookup backend (source/lookup/backends/mysql.cc) that need no server:
// what the table says of itself, the keys it answers without asking (%d of a key without a
// domain), and a server that cannot be reached: TempFail naming the table and the server, from
// any number of threads at once, never found or not found. Answers from a real MariaDB, the
// pool's reconnect after a server restart and SQL injection attempts are covered end to end by
// test/integration/t-52-mysql-tables.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {
namespace {

// A table aimed at 127.0.0.1 port 1, where nothing listens: connects are refused at once.
config::TableSpec unreachable(std::string query) {
  config::TableSpec spec;
  spec.name = "users";
  spec.type = "mysql";
  spec.options = {{"host", "127.0.0.1"},     {"port", "1"},      {"user", "postfixadmin"},
                  {"password", "skoleni"},   {"database", "pfa"}, {"query", std::move(query)},
                  {"timeout", "2"}};
  return spec;
}

TEST(MysqlTable, DescribesItselfAndBlocks) {
  TablePtr table = makeTable(unreachable("SELECT maildir FROM mailbox WHERE username=%s"), {});
  EXPECT_EQ(table->describe(), "mysql:users");
  EXPECT_TRUE(table->blocking());
}

TEST(MysqlTable, KeyWithoutTheAskedPartIsNotFoundWithoutAQuery) {
  // As Postfix: %d of a key without '@domain' means the table is not asked at all (if it were,
  // the refused connect would answer TempFail).
  TablePtr table = makeTable(unreachable("SELECT goto FROM alias WHERE domain=%d"), {});
  EXPECT_EQ(table->lookup("postmaster").status, LookupStatus::NotFound);
  EXPECT_EQ(table->lookup("alice@example.test").status, LookupStatus::TempFail);
}

TEST(MysqlTable, UnreachableServerIsTempFailNamingTableAndServer) {
  TablePtr table = makeTable(unreachable("SELECT maildir FROM mailbox WHERE username=%s"), {});
  LookupResult r = table->lookup("alice@example.test");
  ASSERT_EQ(r.status, LookupStatus::TempFail);
  EXPECT_EQ(r.value, "");
  EXPECT_NE(r.error.find("table mysql:users: 127.0.0.1:1: cannot connect: "), std::string::npos)
      << r.error;
}

TEST(MysqlTable, ConcurrentLookupsAllTempFail) {
  TablePtr table = makeTable(unreachable("SELECT maildir FROM mailbox WHERE username=%s"), {});
  std::vector<std::thread> threads;
  std::vector<LookupStatus> results(8, LookupStatus::Found);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = table->lookup("bob@example.test").status; });
  }
  for (auto& t : threads) t.join();
  for (LookupStatus s : results) EXPECT_EQ(s, LookupStatus::TempFail);
}

}  // namespace
}  // namespace petrel::lookup
