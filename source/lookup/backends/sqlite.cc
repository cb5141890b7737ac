// The `sqlite` backend: a query against an SQLite database file, opened read-only.
//
// Settings (TableSpec): `path` (the database), `query` (a QueryTemplate: %s, %u, %d become
// "?" parameters, never pasted into the SQL) and `timeout` (seconds, 0 taken as 1; Default: 10).
// Answers as Postfix's sqlite_table(5): the first column of every row, NULL and empty values
// skipped, joined with ","; no value = NotFound; a key without the %u/%d part the query needs =
// NotFound without querying. Every failure (file missing or not a database, locked longer than
// `timeout`, a query error, a query running longer than `timeout`) answers TempFail naming the
// table and SQLite's message: never a guessed found or not found.
//
// Connections: a small pool of read-only handles, each with its prepared statement, guarded by
// a mutex held only to take or return one; a lookup uses its handle alone, so concurrent
// lookups run in parallel (SQLite itself then handles locking, with a busy timeout of
// `timeout`). A handle is opened on first need, so a database that appears later is used
// without a restart. refresh() notices the file being replaced (a new inode) and retires the
// pooled handles, which would otherwise keep reading the old file. This backend creates,
// writes and migrates nothing.
#include <fmt/format.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "../query_template.h"
#include "petrel/core/strings.h"
#include "petrel/lookup/lookup_table.h"
#include "petrel/sqlite/database.h"

namespace petrel::lookup {

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t DefaultTimeoutSeconds = 10;
// Idle handles kept for reuse; more are opened when more lookups run at once (the libuv
// thread pool bounds that) and closed when returned to a full pool.
constexpr size_t MaxIdleConnections = 8;
// The progress handler checks the deadline every this many virtual machine instructions.
constexpr int ProgressInterval = 1000;

class SqliteTable final : public LookupTable {
 public:
  SqliteTable(const config::TableSpec& spec, const Warn& warn)
      : path_(spec.path), query_(optionOr(spec, "query", "")) {
    sql_ = query_.sql(QueryTemplate::Placeholders::Question);
    uint64_t seconds = DefaultTimeoutSeconds;
    if (auto t = parseUnsigned(optionOr(spec, "timeout", "")); t) {
      seconds = *t == 0 ? 1 : *t;  // 0 would fail every query at once
    }
    timeout_ = std::chrono::seconds(seconds);
    identity_ = fileIdentity();
    if (!identity_ && warn) {
      // Not fatal: lookups tempfail (with this same text) until the file appears.
      warn(fmt::format("table {}: cannot open: {}", describe(), std::strerror(errno)));
    }
  }

  LookupResult lookup(std::string_view key) const override {
    std::optional<std::vector<std::string>> values = query_.values(key);
    if (!values) {
      return LookupResult::notFound();
    }
    std::string error;
    std::optional<Connection> conn = acquire(error);
    if (!conn) {
      return LookupResult::tempFail(fmt::format("table {}: {}", describe(), error));
    }
    bool healthy = true;
    LookupResult result = run(*conn, *values, healthy);
    release(std::move(*conn), healthy);
    return result;
  }

  void refresh() override {
    // A replaced file (new inode): retire the pooled handles, which still read the old one.
    std::optional<std::pair<dev_t, ino_t>> now = fileIdentity();
    if (now && now != identity_) {
      identity_ = now;
      generation_.fetch_add(1);
    }
  }

  std::string describe() const override { return "sqlite:" + path_; }
  bool blocking() const override { return true; }

 private:
  struct Connection {
    std::unique_ptr<sqlite::Database> db;  // declared before stmt: the statement goes first
    sqlite::Statement stmt;
    uint64_t generation = 0;
  };

  static std::string optionOr(const config::TableSpec& spec, const std::string& key,
                              const std::string& fallback) {
    auto it = spec.options.find(key);
    return it == spec.options.end() ? fallback : it->second;
  }

  std::optional<std::pair<dev_t, ino_t>> fileIdentity() const {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) {
      return std::nullopt;
    }
    return std::pair{st.st_dev, st.st_ino};
  }

  // A pooled handle of the current generation, or a new one. On failure returns nullopt and
  // sets `error`.
  std::optional<Connection> acquire(std::string& error) const {
    uint64_t generation = generation_.load();
    {
      std::lock_guard lock(mutex_);
      while (!idle_.empty()) {
        Connection c = std::move(idle_.back());
        idle_.pop_back();
        if (c.generation == generation) {
          return c;
        }
      }
    }
    // SQLite's own message for a missing file says less ("unable to open database file").
    if (!fileIdentity()) {
      error = fmt::format("cannot open: {}", std::strerror(errno));
      return std::nullopt;
    }
    // A handle is used by one thread at a time (the pool hands it out alone).
    sqlite::OpenOptions options;
    options.read_only = true;
    options.busy_timeout_ms =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count());
    options.extended_result_codes = true;
    auto db = sqlite::Database::open(path_, options, "table " + describe());
    if (!db) {
      error = fmt::format("cannot open: {}", db.error().message());
      return std::nullopt;
    }
    // Opening is lazy: a file that is not a database shows up here, at prepare time.
    auto stmt = (*db)->prepare(sql_);
    if (!stmt) {
      error = fmt::format("cannot prepare the query: {}", (*db)->errorMessage());
      return std::nullopt;
    }
    if (stmt->empty()) {  // only blanks and comments: the loader should have refused it
      error = "the query is empty";
      return std::nullopt;
    }
    return Connection{std::move(*db), std::move(*stmt), generation};
  }

  void release(Connection&& c, bool healthy) const {
    if (healthy && c.generation == generation_.load()) {
      std::lock_guard lock(mutex_);
      if (idle_.size() < MaxIdleConnections) {
        idle_.push_back(std::move(c));
        return;
      }
    }
    // Dropped here: closed.
  }

  static int onProgress(void* arg) {
    // Non-zero interrupts the statement (SQLITE_INTERRUPT).
    return Clock::now() > *static_cast<const Clock::time_point*>(arg) ? 1 : 0;
  }

  LookupResult run(Connection& c, const std::vector<std::string>& values, bool& healthy) const {
    sqlite::Statement& stmt = c.stmt;
    for (size_t i = 0; i < values.size(); ++i) {
      // The value is copied: it need not outlive this call.
      if (stmt.bind(static_cast<int>(i + 1), values[i]).bindFailed()) {
        healthy = false;
        return LookupResult::tempFail(
            fmt::format("table {}: cannot bind the key: {}", describe(), c.db->errorMessage()));
      }
    }
    // Bounds the query's own work; waits for a lock are bounded by the busy timeout.
    Clock::time_point deadline = Clock::now() + timeout_;
    sqlite3_progress_handler(c.db->raw(), ProgressInterval, &onProgress, &deadline);

    std::string joined;
    bool any = false;
    for (;;) {
      Result<bool> row = stmt.step();
      if (!row || !*row) {
        break;
      }
      if (stmt.columns() == 0 || stmt.isNull(0)) {
        continue;
      }
      std::string_view text = stmt.textView(0);
      if (text.empty()) {
        continue;  // as Postfix: an empty value is no answer
      }
      if (any) {
        joined += ',';
      }
      joined.append(text);
      any = true;
    }
    std::string error;
    if (int rc = stmt.resultCode(); rc != SQLITE_DONE) {
      error = (rc & 0xff) == SQLITE_INTERRUPT
                  ? fmt::format("query timed out after {}s", timeout_.count())
                  : c.db->errorMessage();
    }
    sqlite3_progress_handler(c.db->raw(), 0, nullptr, nullptr);
    stmt.reset();
    if (!error.empty()) {
      // A handle that failed may hold a stale view (a replaced or corrupt file): start afresh.
      healthy = false;
      return LookupResult::tempFail(fmt::format("table {}: {}", describe(), error));
    }
    return any ? LookupResult::found(std::move(joined)) : LookupResult::notFound();
  }

  const std::string path_;
  const QueryTemplate query_;
  std::string sql_;
  std::chrono::seconds timeout_{DefaultTimeoutSeconds};

  // refresh() (main thread) bumps the generation when the file is replaced; lookups compare.
  std::atomic<uint64_t> generation_{0};
  std::optional<std::pair<dev_t, ino_t>> identity_;  // main thread only

  mutable std::mutex mutex_;
  mutable std::vector<Connection> idle_;  // guarded by mutex_
};

}  // namespace

TablePtr makeSqliteTable(const config::TableSpec& spec, const Warn& warn) {
  return std::make_shared<SqliteTable>(spec, warn);
}

}  // namespace petrel::lookup
