// sqlite::Database, Statement, Transaction: binds and columns round trip, the statement cache,
// error messages with the label, result codes, bind failures, transactions that roll back
// unless committed, and read-only connections.
#include "petrel/sqlite/database.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace petrel::sqlite {
namespace {

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/petrel-sqlite-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/test.db";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::unique_ptr<Database> openWritable() {
    OpenOptions options;
    options.create = true;
    auto db = Database::open(path_, options, "test database");
    EXPECT_TRUE(db) << db.error().message();
    EXPECT_TRUE((*db)->exec("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, b BLOB)"));
    return std::move(*db);
  }

  static int64_t count(Database& db) {
    auto s = db.stmt("SELECT count(*) FROM t");
    EXPECT_TRUE(s);
    EXPECT_TRUE(*(*s)->step());
    int64_t n = (*s)->integer(0);
    (*s)->reset();
    return n;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(DatabaseTest, BindsAndColumnsRoundTrip) {
  auto db = openWritable();
  const std::string blob("a\0b", 3);
  auto ins = db->stmt("INSERT INTO t (k, n, b) VALUES (?, ?, ?)");
  ASSERT_TRUE(ins);
  ASSERT_TRUE(
      (*ins)->bind(1, std::string_view("key")).bind(2, int64_t(42)).bindBlob(3, blob).run());
  ins = db->stmt("INSERT INTO t (k, n, b) VALUES (?, ?, ?)");
  ASSERT_TRUE((*ins)->bind(1, std::string_view("null")).bindNull(2).bindNull(3).run());

  auto sel = db->stmt("SELECT k, n, b FROM t ORDER BY k");
  ASSERT_TRUE(sel);
  Statement& s = **sel;
  EXPECT_EQ(s.columns(), 3);
  ASSERT_TRUE(*s.step());
  EXPECT_EQ(s.text(0), "key");
  EXPECT_EQ(s.textView(0), "key");
  EXPECT_EQ(s.integer(1), 42);
  EXPECT_EQ(s.text(2), blob);  // embedded NUL kept
  EXPECT_FALSE(s.isNull(2));
  ASSERT_TRUE(*s.step());
  EXPECT_EQ(s.text(0), "null");
  EXPECT_TRUE(s.isNull(1));
  EXPECT_EQ(s.text(2), "");
  EXPECT_EQ(s.textView(2).data(), nullptr);
  EXPECT_FALSE(*s.step());
  EXPECT_EQ(s.resultCode(), SQLITE_DONE);
}

TEST_F(DatabaseTest, CachedStatementIsReusedAndReset) {
  auto db = openWritable();
  static const char* const Sql = "SELECT ?";
  auto a = db->stmt(Sql);
  ASSERT_TRUE(a);
  (*a)->bind(1, int64_t(7));
  ASSERT_TRUE(*(*a)->step());
  auto b = db->stmt(Sql);
  ASSERT_TRUE(b);
  EXPECT_EQ(*a, *b);
  // Handed out again: rewound, its parameter back to NULL.
  ASSERT_TRUE(*(*b)->step());
  EXPECT_TRUE((*b)->isNull(0));
}

TEST_F(DatabaseTest, ErrorsCarryTheLabel) {
  auto db = openWritable();
  auto st = db->exec("SELEKT 1");
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().temporary());
  EXPECT_EQ(st.error().message().rfind("test database: ", 0), 0u) << st.error().message();
  EXPECT_NE(st.error().message().find("syntax error"), std::string::npos);

  auto s = db->stmt("SELECT * FROM missing");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "test database: no such table: missing");
  EXPECT_EQ(db->errorMessage(), "no such table: missing");

  auto p = db->prepare("SELECT * FROM missing");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message(), "test database: no such table: missing");
}

TEST_F(DatabaseTest, StepFailureKeepsTheResultCode) {
  auto db = openWritable();
  ASSERT_TRUE(db->exec("INSERT INTO t (k) VALUES ('dup')"));
  auto s = db->prepare("INSERT INTO t (k) VALUES (?1)", false);
  ASSERT_TRUE(s);
  auto r = s->bind(1, std::string_view("dup")).step();
  ASSERT_FALSE(r);
  EXPECT_EQ(s->resultCode(), SQLITE_CONSTRAINT);
  EXPECT_EQ(r.error().message(), "test database: UNIQUE constraint failed: t.k");
  ASSERT_TRUE(db->exec("UPDATE t SET n = 1"));
  EXPECT_EQ(db->changes(), 1);
}

TEST_F(DatabaseTest, ExtendedResultCodesOnRequest) {
  {
    auto db = openWritable();
    ASSERT_TRUE(db->exec("INSERT INTO t (k) VALUES ('dup')"));
  }
  OpenOptions options;
  options.extended_result_codes = true;
  auto db = Database::open(path_, options, "x");
  ASSERT_TRUE(db);
  auto s = (*db)->prepare("INSERT INTO t (k) VALUES ('dup')");
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->step());
  EXPECT_EQ(s->resultCode(), SQLITE_CONSTRAINT_PRIMARYKEY);
}

TEST_F(DatabaseTest, BindFailureIsRememberedUntilReset) {
  auto db = openWritable();
  auto s = db->prepare("SELECT ?1");
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->bind(1, int64_t(1)).bindFailed());
  EXPECT_TRUE(s->bind(2, int64_t(1)).bindFailed());  // no parameter 2
  EXPECT_EQ(db->errorMessage(), "column index out of range");
  EXPECT_TRUE(s->bind(1, int64_t(1)).bindFailed());  // the first failure stays
  s->reset();
  EXPECT_FALSE(s->bindFailed());
}

TEST_F(DatabaseTest, BlankSqlPreparesToAnEmptyStatement) {
  auto db = openWritable();
  auto s = db->prepare("  -- nothing\n");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->empty());
  Statement moved = std::move(*s);
  EXPECT_TRUE(moved.empty());
  auto real = db->prepare("SELECT 1");
  ASSERT_TRUE(real);
  moved = std::move(*real);
  EXPECT_FALSE(moved.empty());
  EXPECT_TRUE(real->empty());
  ASSERT_TRUE(*moved.step());
  EXPECT_EQ(moved.integer(0), 1);
}

TEST_F(DatabaseTest, TransactionRollsBackUnlessCommitted) {
  auto db = openWritable();
  {
    auto tx = Transaction::begin(*db);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db->exec("INSERT INTO t (k) VALUES ('dropped')"));
  }
  EXPECT_EQ(count(*db), 0);
  {
    auto tx = Transaction::begin(*db, Transaction::Mode::Deferred);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db->exec("INSERT INTO t (k) VALUES ('kept')"));
    ASSERT_TRUE(tx->commit());
  }
  EXPECT_EQ(count(*db), 1);
  // A transaction inside another is refused, and the outer one is unharmed.
  auto outer = Transaction::begin(*db);
  ASSERT_TRUE(outer);
  auto inner = Transaction::begin(*db);
  ASSERT_FALSE(inner);
  EXPECT_EQ(inner.error().message(),
            "test database: cannot start a transaction within a transaction");
  EXPECT_TRUE(outer->commit());
}

TEST_F(DatabaseTest, FailedCommitIsRolledBack) {
  auto db = openWritable();
  ASSERT_TRUE(
      db->exec("CREATE TABLE parent (id INTEGER PRIMARY KEY);"
               "CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE "
               "INITIALLY DEFERRED);"
               "PRAGMA foreign_keys=ON"));
  {
    auto tx = Transaction::begin(*db);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db->exec("INSERT INTO t (k) VALUES ('x'); INSERT INTO child VALUES (9)"));
    auto st = tx->commit();  // the deferred foreign key fails at COMMIT
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message(), "test database: FOREIGN KEY constraint failed");
  }
  EXPECT_EQ(count(*db), 0);
  EXPECT_TRUE(Transaction::begin(*db));  // no transaction left open
}

TEST_F(DatabaseTest, ReadOnlyConnection) {
  OpenOptions read_only;
  read_only.read_only = true;
  auto missing = Database::open(path_, read_only, "x");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "unable to open database file");  // SQLite's text alone

  OpenOptions no_create;  // read-write, but the file must exist
  EXPECT_FALSE(Database::open(path_, no_create, "x"));
  EXPECT_NE(::access(path_.c_str(), F_OK), 0);

  auto writer = openWritable();
  auto reader = Database::open(path_, read_only, "reader");
  ASSERT_TRUE(reader);
  auto st = (*reader)->exec("INSERT INTO t (k) VALUES ('no')");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message(), "reader: attempt to write a readonly database");
  EXPECT_EQ(count(**reader), 0);
  ASSERT_TRUE(writer->exec("INSERT INTO t (k) VALUES ('yes')"));
  EXPECT_EQ(count(**reader), 1);
}

}  // namespace
}  // namespace petrel::sqlite
