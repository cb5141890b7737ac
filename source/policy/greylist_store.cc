// The SQLite greylist store (policy/greylist.h): triplets and client networks in one database
// file under state_dir (greylist.db), through the shared wrapper (sqlite/database.h).
//
// It owns one connection and a mutex around it: check_greylist calls come from pool threads,
// one visit is a few indexed statements, so a connection per thread would buy nothing but
// lock contention inside SQLite. A known-good triplet seen within touch_interval is only read
// (no write transaction), which keeps the common case cheap. WAL with synchronous=NORMAL: a
// crash may forget the last triplets (their senders are greylisted once more), never corrupt
// the file. It decides nothing itself (decideGreylist does) and never logs; errors are
// temporary and carry the label "greylist database PATH". In front of the file: the passed
// triplets of this process (GreylistPassCache), so that visitCached() answers a known
// correspondent seen within touch_interval with no read; every write still goes to the file in
// the visit that decides it (one small transaction; batching them would save little, since
// a passed triplet is written at most once per touch_interval).
//
// Schema (user_version 1):
//   triplets(network, sender, recipient, first_seen, last_seen, passes), unique per triplet
//   networks(network, passes, last_seen): triplets passed per client network (auto-whitelist)
#include <fmt/format.h>
#include <sys/stat.h>

#include <mutex>

#include "petrel/policy/greylist.h"
#include "petrel/sqlite/database.h"

namespace petrel::policy {

namespace {

constexpr const char* Schema = R"sql(
CREATE TABLE IF NOT EXISTS triplets (
  network TEXT NOT NULL,
  sender TEXT NOT NULL,
  recipient TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  passes INTEGER NOT NULL DEFAULT 0,
  UNIQUE (network, sender, recipient)
);
CREATE INDEX IF NOT EXISTS triplets_last_seen ON triplets (last_seen);
CREATE TABLE IF NOT EXISTS networks (
  network TEXT PRIMARY KEY,
  passes INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS networks_last_seen ON networks (last_seen);
PRAGMA user_version = 1;
)sql";

class SqliteGreylistStore final : public GreylistStore {
 public:
  SqliteGreylistStore(std::unique_ptr<sqlite::Database> db, std::string path, bool read_only)
      : db_(std::move(db)), path_(std::move(path)), read_only_(read_only) {}

  Result<GreylistAnswer> visit(const Triplet& triplet, const GreylistSettings& settings,
                               int64_t now, bool record) override {
    if (auto cached = visitCached(triplet, settings, now)) return *cached;
    std::lock_guard lock(mutex_);
    // First without a transaction: a known correspondent needs no write at all.
    auto step = decide(triplet, settings, now);
    if (!step) return failed(triplet, step.error());
    if (!record || read_only_ || (!step->triplet && !step->network)) {
      return remembered(triplet, *step, step->read);
    }
    // IMMEDIATE, and decided again inside it: another connection to the file (a second
    // process) may have written since the read above.
    auto tx = sqlite::Transaction::begin(*db_, sqlite::Transaction::Mode::Immediate);
    if (!tx) return failed(triplet, tx.error());
    step = decide(triplet, settings, now);
    if (!step) return failed(triplet, step.error());
    if (auto st = write(triplet, *step); !st) return failed(triplet, st.error());
    if (auto st = tx->commit(); !st) return failed(triplet, st.error());
    GreylistPassCache::Entry stored{step->triplet ? step->triplet : step->read.triplet,
                                    step->network ? step->network : step->read.network};
    return remembered(triplet, *step, stored);
  }

  std::optional<GreylistAnswer> visitCached(const Triplet& triplet,
                                            const GreylistSettings& settings,
                                            int64_t now) override {
    std::optional<GreylistPassCache::Entry> e = cache_.find(triplet);
    if (!e) return std::nullopt;
    // The same pure decision over the rows as this process last saw them: when it has nothing
    // to write, the store would answer the same (another process's writes aside, which the
    // next touch, at most touch_interval later, reads).
    GreylistStep step = decideGreylist(e->triplet, e->network, now, settings);
    if (step.answer.deferred() || step.triplet || step.network) return std::nullopt;
    return step.answer;
  }
  Result<size_t> expire(const GreylistSettings& settings, int64_t now, size_t limit) override {
    std::lock_guard lock(mutex_);
    if (read_only_) return size_t{0};
    const int64_t cutoff = now - settings.max_age;
    size_t removed = 0;
    // Bounded batches, so a pool thread never holds the write lock for a long purge.
    for (const char* sql : {"DELETE FROM triplets WHERE rowid IN "
                            "(SELECT rowid FROM triplets WHERE last_seen < ?1 LIMIT ?2)",
                            "DELETE FROM networks WHERE rowid IN "
                            "(SELECT rowid FROM networks WHERE last_seen < ?1 LIMIT ?2)"}) {
      auto s = db_->stmt(sql);
      if (!s) return s.error();
      (*s)->bind(1, cutoff).bind(2, int64_t(limit));
      if (auto st = (*s)->run(); !st) return st.error();
      removed += size_t(db_->changes());
    }
    return removed;
  }

  std::string describe() const override { return fmt::format("greylist database {}", path_); }

 private:
  // A decision and the rows it was made over.
  struct Decided : GreylistStep {
    GreylistPassCache::Entry read;
  };

  Result<Decided> decide(const Triplet& triplet, const GreylistSettings& settings, int64_t now) {
    auto t = readTriplet(triplet);
    if (!t) return t.error();
    auto n = readNetwork(triplet.network);
    if (!n) return n.error();
    Decided d;
    static_cast<GreylistStep&>(d) = decideGreylist(*t, *n, now, settings);
    d.read = {*t, *n};
    return d;
  }

  // A pass is cached with the rows now stored; anything else is asked of the store next time.
  GreylistAnswer remembered(const Triplet& triplet, const GreylistStep& step,
                            const GreylistPassCache::Entry& stored) {
    if (step.answer.deferred()) {
      cache_.forget(triplet);
    } else {
      cache_.remember(triplet, stored);
    }
    return step.answer;
  }

  Error failed(const Triplet& triplet, Error e) {
    cache_.forget(triplet);
    return e;
  }

  Status write(const Triplet& triplet, const GreylistStep& step) {
    if (step.triplet) {
      auto s = db_->stmt(
          "INSERT INTO triplets (network, sender, recipient, first_seen, last_seen, passes) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (network, sender, recipient) DO UPDATE "
          "SET first_seen = excluded.first_seen, last_seen = excluded.last_seen, "
          "passes = excluded.passes");
      if (!s) return s.error();
      (*s)->bind(1, triplet.network).bind(2, triplet.sender).bind(3, triplet.recipient);
      (*s)->bind(4, step.triplet->first_seen).bind(5, step.triplet->last_seen);
      (*s)->bind(6, step.triplet->passes);
      if (auto st = (*s)->run(); !st) return st.error();
    }
    if (step.network) {
      auto s = db_->stmt(
          "INSERT INTO networks (network, passes, last_seen) VALUES (?1, ?2, ?3) "
          "ON CONFLICT (network) DO UPDATE SET passes = excluded.passes, "
          "last_seen = excluded.last_seen");
      if (!s) return s.error();
      (*s)->bind(1, triplet.network).bind(2, step.network->passes).bind(3, step.network->last_seen);
      if (auto st = (*s)->run(); !st) return st.error();
    }
    return okStatus();
  }

  Result<std::optional<TripletState>> readTriplet(const Triplet& triplet) {
    auto s = db_->stmt(
        "SELECT first_seen, last_seen, passes FROM triplets "
        "WHERE network = ?1 AND sender = ?2 AND recipient = ?3");
    if (!s) return s.error();
    (*s)->bind(1, triplet.network).bind(2, triplet.sender).bind(3, triplet.recipient);
    auto row = (*s)->step();
    if (!row) {
      (*s)->reset();
      return row.error();
    }
    std::optional<TripletState> out;
    if (*row) out = TripletState{(*s)->integer(0), (*s)->integer(1), (*s)->integer(2)};
    (*s)->reset();
    return out;
  }

  Result<std::optional<NetworkState>> readNetwork(const std::string& network) {
    auto s = db_->stmt("SELECT passes, last_seen FROM networks WHERE network = ?1");
    if (!s) return s.error();
    (*s)->bind(1, network);
    auto row = (*s)->step();
    if (!row) {
      (*s)->reset();
      return row.error();
    }
    std::optional<NetworkState> out;
    if (*row) out = NetworkState{(*s)->integer(0), (*s)->integer(1)};
    (*s)->reset();
    return out;
  }

  std::mutex mutex_;
  std::unique_ptr<sqlite::Database> db_;  // guarded by mutex_
  std::string path_;
  bool read_only_;
  GreylistPassCache cache_;  // thread-safe on its own; read without mutex_
};

}  // namespace

Result<GreylistStorePtr> openGreylistStore(const std::string& path, bool read_only) {
  std::string label = fmt::format("greylist database {}", path);
  sqlite::OpenOptions options;
  options.read_only = read_only;
  options.create = !read_only;
  auto db = sqlite::Database::open(path, options, label);
  if (!db) return Error::temporary(fmt::format("{}: {}", label, db.error().message()));
  if (!read_only) {
    const bool file = path != ":memory:" && !path.empty();
    if (file) {
      // Addresses of correspondents: not for other local users to read.
      ::chmod(path.c_str(), 0600);
      if (auto st = (*db)->exec("PRAGMA journal_mode=WAL"); !st) return st.error();
    }
    if (auto st = (*db)->exec("PRAGMA synchronous=NORMAL"); !st) return st.error();
    if (auto st = (*db)->exec(Schema); !st) return st.error();
  }
  return GreylistStorePtr(
      std::make_shared<SqliteGreylistStore>(std::move(db.value()), path, read_only));
}

}  // namespace petrel::policy
