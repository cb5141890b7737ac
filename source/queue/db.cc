// SQLite connection wrapper; see db.h.
#include "petrel/queue/db.h"

#include <fmt/format.h>

namespace petrel::queue {

Result<bool> Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error::temporary(
      fmt::format("queue database: {}", sqlite3_errmsg(sqlite3_db_handle(s_))));
}

Status Stmt::run() {
  auto r = step();
  reset();
  if (!r) return r.error();
  return okStatus();
}

std::string Stmt::text(int col) const {
  const void* p = sqlite3_column_blob(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), size_t(n));
}

Result<std::unique_ptr<Db>> Db::open(const std::string& path, bool read_only) {
  sqlite3* raw = nullptr;
  int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return Error::temporary(fmt::format("cannot open queue database {}: {}", path, msg));
  }
  sqlite3_busy_timeout(raw, 5000);
  // Readers (one per delivery thread) only fetch rows by key: a small page cache keeps the
  // process small under load.
  if (read_only) sqlite3_exec(raw, "PRAGMA cache_size=-256", nullptr, nullptr, nullptr);
  return std::unique_ptr<Db>(new Db(raw));
}

Db::~Db() {
  cache_.clear();
  sqlite3_close(db_);
}

Status Db::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Error::temporary(fmt::format("queue database: {}", msg));
  }
  return okStatus();
}

Result<Stmt*> Db::stmt(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->reset();
    return it->second.get();
  }
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    return Error::temporary(fmt::format("queue database: {}", sqlite3_errmsg(db_)));
  }
  auto [pos, _] = cache_.emplace(sql, std::make_unique<Stmt>(s));
  return pos->second.get();
}

}  // namespace petrel::queue
