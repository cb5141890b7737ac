// The vacation memory in SQLite; see headers/petrel/delivery/vacation_store.h.
#include "petrel/delivery/vacation_store.h"

#include <fmt/format.h>

#include <map>
#include <mutex>

#include "petrel/core/strings.h"
#include "petrel/sqlite/database.h"

namespace petrel::delivery {

namespace {

constexpr const char* Schema = R"sql(
CREATE TABLE IF NOT EXISTS replies (
  recipient TEXT NOT NULL,
  sender TEXT NOT NULL,
  handle TEXT NOT NULL,
  last_reply INTEGER NOT NULL,
  UNIQUE (recipient, sender, handle)
);
CREATE INDEX IF NOT EXISTS replies_last_reply ON replies (last_reply);
PRAGMA user_version = 1;
)sql";

// The longest period a script may ask for (the interpreter caps :days at 365).
constexpr int64_t MaxPeriod = 366 * 86400;
constexpr unsigned SweepEvery = 1000;  // claims between two sweeps of old rows

class SqliteVacationStore final : public VacationStore {
 public:
  explicit SqliteVacationStore(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}

  Result<bool> claim(std::string_view recipient, std::string_view sender, std::string_view handle,
                     int64_t now, uint64_t period) override {
    std::lock_guard lock(mutex_);
    std::string r = toLower(recipient);
    std::string s = toLower(sender);
    auto tx = sqlite::Transaction::begin(*db_, sqlite::Transaction::Mode::Immediate);
    if (!tx) return tx.error();
    auto read = db_->stmt(
        "SELECT last_reply FROM replies WHERE recipient = ?1 AND sender = ?2 AND handle = ?3");
    if (!read) return read.error();
    (*read)->bind(1, r).bind(2, s).bind(3, handle);
    auto row = (*read)->step();
    if (!row) return row.error();
    if (*row) {
      int64_t last = (*read)->integer(0);
      (*read)->reset();
      // A clock set back must not silence a sender for good: a reply "in the future" counts
      // as long ago.
      if (last <= now && now - last < int64_t(period)) return false;
    } else {
      (*read)->reset();
    }
    auto write = db_->stmt(
        "INSERT INTO replies (recipient, sender, handle, last_reply) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (recipient, sender, handle) DO UPDATE SET last_reply = excluded.last_reply");
    if (!write) return write.error();
    if (auto st = (*write)->bind(1, r).bind(2, s).bind(3, handle).bind(4, now).run(); !st) {
      return st.error();
    }
    if (++claims_ % SweepEvery == 1) {
      auto sweep = db_->stmt("DELETE FROM replies WHERE last_reply < ?1");
      if (!sweep) return sweep.error();
      if (auto st = (*sweep)->bind(1, now - MaxPeriod).run(); !st) return st.error();
    }
    if (auto st = tx->commit(); !st) return st.error();
    return true;
  }

 private:
  std::mutex mutex_;
  std::unique_ptr<sqlite::Database> db_;
  unsigned claims_ = 0;
};

}  // namespace

Result<std::unique_ptr<VacationStore>> VacationStore::open(const std::string& path) {
  std::string label = fmt::format("vacation database {}", path);
  sqlite::OpenOptions options;
  options.create = true;
  auto db = sqlite::Database::open(path, options, label);
  if (!db) return Error::temporary(fmt::format("{}: {}", label, db.error().message()));
  // WAL with synchronous=NORMAL: a crash may forget the last replies (a sender may hear twice
  // after a crash), never corrupt the file.
  if (auto st = (*db)->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"); !st) {
    return st.error();
  }
  if (auto st = (*db)->exec(Schema); !st) return st.error();
  return std::unique_ptr<VacationStore>(new SqliteVacationStore(std::move(db.value())));
}

Result<std::shared_ptr<VacationStore>> sharedVacationStore(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<VacationStore>> stores;
  std::lock_guard lock(mutex);
  if (auto it = stores.find(path); it != stores.end()) return it->second;
  auto opened = VacationStore::open(path);
  if (!opened) return opened.error();
  std::shared_ptr<VacationStore> store = std::move(opened.value());
  stores.emplace(path, store);
  return store;
}

}  // namespace petrel::delivery
