// SQLite connection, statements and transactions; see database.h.
#include "petrel/sqlite/database.h"

#include <fmt/format.h>

namespace petrel::sqlite {

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(s_);
    db_ = other.db_;
    s_ = other.s_;
    rc_ = other.rc_;
    bind_rc_ = other.bind_rc_;
    other.s_ = nullptr;
  }
  return *this;
}

Result<bool> Statement::step() {
  rc_ = sqlite3_step(s_);
  if (rc_ == SQLITE_ROW) return true;
  if (rc_ == SQLITE_DONE) return false;
  return db_->error(sqlite3_errmsg(sqlite3_db_handle(s_)));
}

Status Statement::run() {
  auto r = step();
  reset();
  if (!r) return r.error();
  return okStatus();
}

std::string Statement::text(int col) const {
  // The blob form: a text's bytes as stored, embedded NULs included.
  const void* p = sqlite3_column_blob(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), size_t(n));
}

Result<sqlite3*> Database::openHandle(const std::string& path, const OpenOptions& options) {
  int flags = options.read_only ? SQLITE_OPEN_READONLY
                                : SQLITE_OPEN_READWRITE | (options.create ? SQLITE_OPEN_CREATE : 0);
  // NOMUTEX: one thread at a time per connection (see database.h).
  flags |= SQLITE_OPEN_NOMUTEX;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    // Without a handle (no memory) only the code has a text.
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return Error::temporary(std::move(msg));
  }
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  if (options.extended_result_codes) sqlite3_extended_result_codes(raw, 1);
  return raw;
}

Result<std::unique_ptr<Database>> Database::open(const std::string& path,
                                                 const OpenOptions& options, std::string label) {
  auto raw = openHandle(path, options);
  if (!raw) return raw.error();
  return std::unique_ptr<Database>(new Database(*raw, std::move(label)));
}

Database::~Database() {
  cache_.clear();
  // _v2: a statement still alive elsewhere keeps the handle as a zombie instead of leaking it.
  sqlite3_close_v2(db_);
}

Error Database::error(std::string_view message) const {
  return Error::temporary(fmt::format("{}: {}", label_, message));
}

Status Database::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return error(msg);
  }
  return okStatus();
}

Result<Statement*> Database::stmt(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->reset();
    return it->second.get();
  }
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    return error(sqlite3_errmsg(db_));
  }
  auto [pos, _] = cache_.emplace(sql, std::make_unique<Statement>(*this, s));
  return pos->second.get();
}

Result<Statement> Database::prepare(std::string_view sql, bool persistent) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), int(sql.size()),
                         persistent ? SQLITE_PREPARE_PERSISTENT : 0, &s, nullptr) != SQLITE_OK) {
    return error(sqlite3_errmsg(db_));
  }
  return Statement(*this, s);
}

Result<Transaction> Transaction::begin(Database& db, Mode mode) {
  auto st = db.exec(mode == Mode::Immediate ? "BEGIN IMMEDIATE" : "BEGIN");
  if (!st) return st.error();
  return Transaction(db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  auto st = db_->exec("COMMIT");
  if (st) db_ = nullptr;
  return st;
}

}  // namespace petrel::sqlite
