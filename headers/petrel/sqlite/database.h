// The one SQLite layer: a connection (Database), its prepared statements (Statement) and a
// scoped transaction (Transaction), shared by the queue journal, the credentials database and
// the sqlite lookup tables.
//
// It owns the handles (statements are finalized before their connection is closed) and turns
// SQLite's codes into Result: every failure is temporary, as a locked or full database may
// work later; callers that know better (a constraint means "already exists") ask
// resultCode(). Error messages start with the connection's label ("queue database: disk I/O
// error"), so each user keeps its own wording. It does not pick schemas, pragmas or threads:
// a Database is used by one thread at a time (opened NOMUTEX), and the callers own that rule.
//
// This header includes <sqlite3.h> so that binds and column reads stay inline on the journal's
// hot path; only .cc files and the queue area include it, never the headers of smtp, policy,
// lookup, auth or dns.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "petrel/core/result.h"

namespace petrel::sqlite {

class Database;

// A prepared statement of one Database. Binds chain (`s.bind(1, id).bind(2, n).run()`) and
// remember the first failure, which bindFailed() reports; step() and run() return errors with
// the connection's label. Movable, so pools can hold it; a moved-from statement is empty().
class Statement {
 public:
  Statement(const Database& db, sqlite3_stmt* s) : db_(&db), s_(s) {}
  ~Statement() { sqlite3_finalize(s_); }
  Statement(Statement&& other) noexcept
      : db_(other.db_), s_(other.s_), rc_(other.rc_), bind_rc_(other.bind_rc_) {
    other.s_ = nullptr;
  }
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // SQL of only blanks and comments prepares to no statement at all.
  bool empty() const { return s_ == nullptr; }

  Statement& bind(int i, int64_t v) { return noteBind(sqlite3_bind_int64(s_, i, v)); }
  // The text is copied: it need not outlive the call.
  Statement& bind(int i, std::string_view v) {
    return noteBind(sqlite3_bind_text(s_, i, v.data(), int(v.size()), SQLITE_TRANSIENT));
  }
  // Not copied: `v` must stay valid until the statement is stepped to its end or reset.
  Statement& bindBlob(int i, std::string_view v) {
    return noteBind(sqlite3_bind_blob(s_, i, v.data(), int(v.size()), SQLITE_STATIC));
  }
  Statement& bindNull(int i) { return noteBind(sqlite3_bind_null(s_, i)); }
  // A bind since the last reset() failed (index out of range, value too big, no memory).
  bool bindFailed() const { return bind_rc_ != SQLITE_OK; }

  // true: a row is available; false: done. Errors carry the label and SQLite's message.
  Result<bool> step();
  Status run();  // step once (to completion for statements without rows), then reset
  // Ready to run again: the cursor rewound and every parameter NULL.
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    bind_rc_ = SQLITE_OK;
  }
  // The code of the last step (extended when the Database was opened with them).
  int resultCode() const { return rc_; }

  int columns() const { return sqlite3_column_count(s_); }
  int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }
  // The column's bytes (text or blob), empty for NULL.
  std::string text(int col) const;
  // The same as text() without a copy: valid until the next step() or reset(). data() is
  // NUL-terminated (SQLite's text form), nullptr for NULL.
  std::string_view textView(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p == nullptr ? std::string_view()
                        : std::string_view(p, size_t(sqlite3_column_bytes(s_, col)));
  }
  bool isNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

 private:
  Statement& noteBind(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }

  const Database* db_;
  sqlite3_stmt* s_;
  int rc_ = SQLITE_OK;
  int bind_rc_ = SQLITE_OK;
};

struct OpenOptions {
  bool read_only = false;
  bool create = false;                 // create the file when missing (ignored with read_only)
  int busy_timeout_ms = 5000;          // how long a statement waits for another connection's lock
  bool extended_result_codes = false;  // resultCode() tells SQLITE_IOERR_READ from others
};

// One connection. Not movable: statements point back at it for their error messages.
class Database {
 public:
  // `label` starts every error message of this connection and its statements. An open error
  // carries SQLite's text alone ("unable to open database file"): the caller says what it
  // could not open, in its own words.
  static Result<std::unique_ptr<Database>> open(const std::string& path, const OpenOptions& options,
                                                std::string label);
  virtual ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs SQL text (several statements allowed), no rows returned.
  Status exec(const char* sql);
  // A cached statement, reset and ready to bind; it lives as long as the Database. The cache
  // is keyed by the pointer, so `sql` must be a string literal (the same literal, the same
  // statement).
  Result<Statement*> stmt(const char* sql);
  // A statement of the caller's own (not cached). `persistent`: it will be reused many times
  // (SQLITE_PREPARE_PERSISTENT). Errors carry the label; errorMessage() has SQLite's text.
  Result<Statement> prepare(std::string_view sql, bool persistent = true);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int changes() const { return sqlite3_changes(db_); }
  std::string errorMessage() const { return sqlite3_errmsg(db_); }
  const std::string& label() const { return label_; }
  // For what this layer does not wrap (progress handlers).
  sqlite3* raw() { return db_; }

 protected:
  // Opens the handle with `options` applied; the message of an error is SQLite's text.
  static Result<sqlite3*> openHandle(const std::string& path, const OpenOptions& options);
  Database(sqlite3* db, std::string label) : db_(db), label_(std::move(label)) {}

 private:
  friend class Statement;
  Error error(std::string_view message) const;

  sqlite3* db_;
  std::string label_;
  std::map<const char*, std::unique_ptr<Statement>> cache_;
};

// BEGIN on construction (begin()), ROLLBACK on destruction unless commit() succeeded. A
// failed COMMIT is rolled back by the destructor, as SQLite leaves the transaction open.
class Transaction {
 public:
  enum class Mode { Deferred, Immediate };
  static Result<Transaction> begin(Database& db, Mode mode = Mode::Immediate);
  ~Transaction();
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;

  Status commit();

 private:
  explicit Transaction(Database& db) : db_(&db) {}
  Database* db_;  // nullptr once committed or moved from
};

}  // namespace petrel::sqlite
