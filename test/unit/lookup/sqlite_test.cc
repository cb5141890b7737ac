// Tests for the sqlite lookup backend (source/lookup/backends/sqlite.cc), against a PostfixAdmin
// schema subset in a temporary database: answers, joins, bound parameters (an injection attempt
// is only data), %u/%d, and the failures that must answer TempFail (missing file, SQL error,
// lock held too long, query running too long), never found or not found.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {
namespace {

class SqliteTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/petrel-sqlite-table-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/postfixadmin.db";
    exec(R"sql(
      CREATE TABLE domain (domain TEXT PRIMARY KEY, backupmx INTEGER NOT NULL DEFAULT 0,
                           active INTEGER NOT NULL DEFAULT 1);
      CREATE TABLE mailbox (username TEXT PRIMARY KEY, maildir TEXT, local_part TEXT,
                            domain TEXT, active INTEGER NOT NULL DEFAULT 1);
      CREATE TABLE alias (address TEXT, goto TEXT, domain TEXT,
                          active INTEGER NOT NULL DEFAULT 1);
      INSERT INTO domain VALUES ('example.test', 0, 1), ('backup.test', 1, 1);
      INSERT INTO mailbox VALUES
        ('alice@example.test', 'example.test/alice/', 'alice', 'example.test', 1),
        ('bob@example.test', 'example.test/bob/', 'bob', 'example.test', 1),
        ('gone@example.test', 'example.test/gone/', 'gone', 'example.test', 0);
      INSERT INTO alias VALUES
        ('sales@example.test', 'alice@example.test', 'example.test', 1),
        ('sales@example.test', 'bob@example.test', 'example.test', 1),
        ('sales@example.test', NULL, 'example.test', 1),
        ('sales@example.test', '', 'example.test', 1),
        ('nulls@example.test', NULL, 'example.test', 1);
    )sql");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void exec(const std::string& sql, const std::string& path = "") {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.empty() ? path_.c_str() : path.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  TablePtr open(const std::string& query, const std::string& timeout = "") {
    config::TableSpec spec;
    spec.name = "t";
    spec.type = "sqlite";
    spec.path = path_;
    spec.options["query"] = query;
    if (!timeout.empty()) {
      spec.options["timeout"] = timeout;
    }
    return makeTable(spec, [this](const std::string& w) { warnings_.push_back(w); });
  }

  std::string dir_;
  std::string path_;
  std::vector<std::string> warnings_;
};

constexpr const char* MailboxQuery =
    "SELECT maildir FROM mailbox WHERE username = %s AND active = 1";

TEST_F(SqliteTableTest, FoundAndNotFound) {
  TablePtr table = open(MailboxQuery);
  EXPECT_EQ(table->describe(), "sqlite:" + path_);
  EXPECT_TRUE(table->blocking());
  EXPECT_TRUE(warnings_.empty());

  LookupResult r = table->lookup("alice@example.test");
  EXPECT_EQ(r.status, LookupStatus::Found);
  EXPECT_EQ(r.value, "example.test/alice/");
  EXPECT_EQ(table->lookup("bob@example.test").value, "example.test/bob/");
  EXPECT_EQ(table->lookup("nobody@example.test").status, LookupStatus::NotFound);
  EXPECT_EQ(table->lookup("gone@example.test").status, LookupStatus::NotFound);  // inactive
  // Pooled handles are reused: the same table keeps answering.
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(table->lookup("alice@example.test").status, LookupStatus::Found);
  }
}

TEST_F(SqliteTableTest, JoinsRowsWithCommasSkippingNullsAndEmptyValues) {
  TablePtr table = open("SELECT goto FROM alias WHERE address = %s AND active = 1 ORDER BY goto");
  LookupResult r = table->lookup("sales@example.test");
  EXPECT_EQ(r.status, LookupStatus::Found);
  EXPECT_EQ(r.value, "alice@example.test,bob@example.test");
  // Only NULLs: no answer, as Postfix.
  EXPECT_EQ(table->lookup("nulls@example.test").status, LookupStatus::NotFound);
}

TEST_F(SqliteTableTest, InjectionAttemptIsOnlyData) {
  TablePtr table = open(MailboxQuery);
  for (const char* key : {"'; DROP TABLE mailbox; --@example.test", "x' OR '1'='1@example.test",
                          "\"; DELETE FROM mailbox; --"}) {
    EXPECT_EQ(table->lookup(key).status, LookupStatus::NotFound) << key;
  }
  EXPECT_EQ(table->lookup("alice@example.test").value, "example.test/alice/");
  // The tables are all still there, with all their rows.
  TablePtr count = open("SELECT count(*) FROM mailbox WHERE %s <> ''");
  EXPECT_EQ(count->lookup("x").value, "3");
}

TEST_F(SqliteTableTest, LocalPartAndDomainExpansions) {
  TablePtr table =
      open("SELECT maildir FROM mailbox WHERE local_part = %u AND domain = %d AND active = 1");
  EXPECT_EQ(table->lookup("alice@example.test").value, "example.test/alice/");
  EXPECT_EQ(table->lookup("alice@other.test").status, LookupStatus::NotFound);
  // %d and a key without a domain: not found without asking the database (as Postfix).
  EXPECT_EQ(table->lookup("alice").status, LookupStatus::NotFound);

  TablePtr domains =
      open("SELECT domain FROM domain WHERE domain = %d AND backupmx = 0 AND active = 1");
  EXPECT_EQ(domains->lookup("example.test").status, LookupStatus::NotFound);  // no '@'
  EXPECT_EQ(domains->lookup("x@example.test").value, "example.test");
  EXPECT_EQ(domains->lookup("x@backup.test").status, LookupStatus::NotFound);
}

TEST_F(SqliteTableTest, MissingFileIsTempFailUntilItAppears) {
  std::filesystem::rename(path_, dir_ + "/elsewhere.db");
  TablePtr table = open(MailboxQuery);
  ASSERT_EQ(warnings_.size(), 1u);
  LookupResult r = table->lookup("alice@example.test");
  EXPECT_EQ(r.status, LookupStatus::TempFail);
  EXPECT_EQ(r.error, "table sqlite:" + path_ + ": cannot open: No such file or directory");
  EXPECT_EQ(warnings_[0], r.error);
  // Never created by the lookup (read-only).
  EXPECT_FALSE(std::filesystem::exists(path_));

  std::filesystem::rename(dir_ + "/elsewhere.db", path_);
  table->refresh();
  EXPECT_EQ(table->lookup("alice@example.test").value, "example.test/alice/");
}

TEST_F(SqliteTableTest, NotADatabaseOrBadQueryIsTempFail) {
  TablePtr bad_query = open("SELECT maildir FROM nosuchtable WHERE username = %s");
  LookupResult r = bad_query->lookup("alice@example.test");
  EXPECT_EQ(r.status, LookupStatus::TempFail);
  EXPECT_NE(r.error.find("table sqlite:" + path_ + ": "), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("no such table: nosuchtable"), std::string::npos) << r.error;

  std::FILE* f = std::fopen(path_.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("this is not an SQLite database, just some text that is long enough to matter", f);
  std::fclose(f);
  TablePtr table = open(MailboxQuery);
  r = table->lookup("alice@example.test");
  EXPECT_EQ(r.status, LookupStatus::TempFail);
  EXPECT_NE(r.error.find("file is not a database"), std::string::npos) << r.error;
}

TEST_F(SqliteTableTest, ReplacedFileIsReadAfterRefresh) {
  TablePtr table = open(MailboxQuery);
  EXPECT_EQ(table->lookup("alice@example.test").value, "example.test/alice/");
  std::string next = dir_ + "/next.db";
  exec(
      "CREATE TABLE mailbox (username TEXT, maildir TEXT, active INTEGER);"
      "INSERT INTO mailbox VALUES ('alice@example.test', 'example.test/alice2/', 1);",
      next);
  std::filesystem::rename(next, path_);
  table->refresh();
  EXPECT_EQ(table->lookup("alice@example.test").value, "example.test/alice2/");
}

TEST_F(SqliteTableTest, LockHeldLongerThanTimeoutIsTempFail) {
  TablePtr table = open(MailboxQuery, "1");
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  LookupResult r = table->lookup("alice@example.test");
  EXPECT_EQ(r.status, LookupStatus::TempFail);
  EXPECT_NE(r.error.find("database is locked"), std::string::npos) << r.error;
  sqlite3_exec(writer, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(writer);
  EXPECT_EQ(table->lookup("alice@example.test").value, "example.test/alice/");
}

TEST_F(SqliteTableTest, QueryRunningLongerThanTimeoutIsTempFail) {
  // A query that never ends: counts forever unless interrupted.
  TablePtr table = open(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
      "SELECT count(*) FROM n WHERE i = length(%s) - 100",
      "1");
  LookupResult r = table->lookup("alice@example.test");
  EXPECT_EQ(r.status, LookupStatus::TempFail);
  EXPECT_EQ(r.error, "table sqlite:" + path_ + ": query timed out after 1s");
}

TEST_F(SqliteTableTest, ConcurrentLookups) {
  TablePtr table = open(MailboxQuery);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (table->lookup("bob@example.test").value != "example.test/bob/") {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace petrel::lookup
