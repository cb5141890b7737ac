// Queue journal: schema, group-commit writer thread, statements; see journal.h.
#include "petrel/queue/journal.h"

#include <fmt/format.h>

#include <chrono>

namespace petrel::queue {

namespace {

constexpr const char* Schema = R"sql(
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY,
  arrival_us INTEGER NOT NULL,
  sender TEXT NOT NULL,
  size INTEGER NOT NULL,
  client TEXT NOT NULL,
  helo TEXT NOT NULL,
  protocol TEXT NOT NULL,
  dsn_envid TEXT NOT NULL,
  dsn_ret TEXT NOT NULL,
  smtputf8 INTEGER NOT NULL,
  held INTEGER NOT NULL DEFAULT 0,
  body BLOB,
  spool_path TEXT,
  header_prefix TEXT,
  content_filter TEXT,
  client_port INTEGER
);
CREATE TABLE IF NOT EXISTS recipients (
  message_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  address TEXT NOT NULL,
  orig_address TEXT NOT NULL,
  dsn_notify TEXT NOT NULL,
  dsn_orcpt TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  delay_warned INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (message_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql";

template <typename F>
Status withStmt(Db& db, const char* sql, F&& bindAndRun) {
  auto s = db.stmt(sql);
  if (!s) return s.error();
  return bindAndRun(**s);
}

}  // namespace

Result<std::unique_ptr<Journal>> Journal::open(const std::string& path) {
  auto db = Db::open(path, false);
  if (!db) return db.error();
  // WAL + FULL: each COMMIT fsyncs the WAL, so a 250 survives power loss, while readers
  // (delivery) never block the writer.
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                          "PRAGMA foreign_keys=OFF", Schema}) {
    if (auto st = (*db)->exec(sql); !st) return st.error();
  }
  // Queues written before delay warnings existed lack the column.
  if (!(*db)->exec("SELECT delay_warned FROM recipients LIMIT 0")) {
    if (auto st = (*db)->exec(
            "ALTER TABLE recipients ADD COLUMN delay_warned INTEGER NOT NULL DEFAULT 0");
        !st) {
      return st.error();
    }
  }
  // Queues written before end-of-data header fields existed lack this one.
  if (!(*db)->exec("SELECT header_prefix FROM messages LIMIT 0")) {
    if (auto st = (*db)->exec("ALTER TABLE messages ADD COLUMN header_prefix TEXT"); !st) {
      return st.error();
    }
  }
  // And those written before after-queue content filters this one.
  if (!(*db)->exec("SELECT content_filter FROM messages LIMIT 0")) {
    if (auto st = (*db)->exec("ALTER TABLE messages ADD COLUMN content_filter TEXT"); !st) {
      return st.error();
    }
  }
  // And those written before the client's port was kept (XFORWARD PORT) this one.
  if (!(*db)->exec("SELECT client_port FROM messages LIMIT 0")) {
    if (auto st = (*db)->exec("ALTER TABLE messages ADD COLUMN client_port INTEGER"); !st) {
      return st.error();
    }
  }
  return std::unique_ptr<Journal>(new Journal(path, std::move(db.value())));
}

Journal::Journal(std::string path, std::unique_ptr<Db> db)
    : path_(std::move(path)), db_(std::move(db)) {
  thread_ = std::thread([this] { run(); });
}

Journal::~Journal() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void Journal::submit(Work work, Done done, bool urgent) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back({std::move(work), std::move(done), urgent});
    if (urgent) ++urgent_queued_;
  }
  cv_.notify_one();
}

void Journal::run() {
  for (;;) {
    std::vector<Request> batch;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty() && stop_) return;
      if (urgent_queued_ == 0 && !stop_) {
        cv_.wait_for(lock, std::chrono::milliseconds(LazyCommitDelayMs),
                     [this] { return stop_ || urgent_queued_ > 0; });
      }
      batch.swap(queue_);
      urgent_queued_ = 0;
    }
    std::vector<Status> results(batch.size(), okStatus());
    Status tx = okStatus();
    if (auto transaction = sqlite::Transaction::begin(*db_); !transaction) {
      tx = transaction.error();
    } else {
      for (size_t i = 0; i < batch.size(); ++i) {
        if (auto st = db_->exec("SAVEPOINT request"); !st) {
          results[i] = st;
          continue;
        }
        results[i] = batch[i].work(*db_);
        (void)db_->exec(results[i] ? "RELEASE request" : "ROLLBACK TO request; RELEASE request");
      }
      tx = transaction->commit();  // a failed COMMIT is rolled back as `transaction` ends
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (batch[i].done) batch[i].done(tx ? results[i] : tx);
    }
  }
}

Status Journal::insertMessage(Db& db, const StoredMessage& m) {
  auto st = withStmt(
      db,
      "INSERT INTO messages (id, arrival_us, sender, size, client, helo, protocol, dsn_envid, "
      "dsn_ret, smtputf8, held, body, spool_path, header_prefix, content_filter, client_port) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
      [&](Stmt& s) {
        s.bind(1, m.id).bind(2, m.arrival_us).bind(3, m.sender).bind(4, int64_t(m.size));
        s.bind(5, m.client).bind(6, m.helo).bind(7, m.protocol).bind(8, m.dsn_envid);
        s.bind(9, m.dsn_ret).bind(10, int64_t(m.smtputf8)).bind(11, int64_t(m.held));
        if (m.spool_path.empty()) {
          s.bindBlob(12, m.body).bindNull(13);
        } else {
          s.bindNull(12).bind(13, m.spool_path);
        }
        if (m.header_prefix.empty()) {
          s.bindNull(14);
        } else {
          s.bind(14, m.header_prefix);
        }
        if (m.content_filter.empty()) {
          s.bindNull(15);
        } else {
          s.bind(15, m.content_filter);
        }
        if (m.client_port == 0) {
          s.bindNull(16);
        } else {
          s.bind(16, int64_t(m.client_port));
        }
        return s.run();
      });
  if (!st) return st;
  for (const auto& r : m.recipients) {
    st = withStmt(db,
                  "INSERT INTO recipients (message_id, idx, address, orig_address, dsn_notify, "
                  "dsn_orcpt, attempts, next_attempt, last_error) VALUES (?,?,?,?,?,?,?,?,?)",
                  [&](Stmt& s) {
                    s.bind(1, m.id).bind(2, r.idx).bind(3, r.address).bind(4, r.orig_address);
                    s.bind(5, r.dsn_notify).bind(6, r.dsn_orcpt).bind(7, r.attempts);
                    s.bind(8, r.next_attempt).bind(9, r.last_error);
                    return s.run();
                  });
    if (!st) return st;
  }
  return okStatus();
}

Status Journal::deleteMessage(Db& db, const std::string& id) {
  auto st = withStmt(db, "DELETE FROM recipients WHERE message_id = ?",
                     [&](Stmt& s) { return s.bind(1, id).run(); });
  if (!st) return st;
  return withStmt(db, "DELETE FROM messages WHERE id = ?",
                  [&](Stmt& s) { return s.bind(1, id).run(); });
}

Status Journal::deleteRecipient(Db& db, const std::string& id, int64_t idx) {
  return withStmt(db, "DELETE FROM recipients WHERE message_id = ? AND idx = ?",
                  [&](Stmt& s) { return s.bind(1, id).bind(2, idx).run(); });
}

Status Journal::deferRecipient(Db& db, const std::string& id, int64_t idx, int64_t attempts,
                               int64_t next_attempt, const std::string& error) {
  return withStmt(db,
                  "UPDATE recipients SET attempts = ?, next_attempt = ?, last_error = ? "
                  "WHERE message_id = ? AND idx = ?",
                  [&](Stmt& s) {
                    return s.bind(1, attempts).bind(2, next_attempt).bind(3, error).bind(4, id)
                        .bind(5, idx).run();
                  });
}

Status Journal::setDelayWarned(Db& db, const std::string& id, int64_t idx) {
  return withStmt(db, "UPDATE recipients SET delay_warned = 1 WHERE message_id = ? AND idx = ?",
                  [&](Stmt& s) { return s.bind(1, id).bind(2, idx).run(); });
}

Status Journal::setHeld(Db& db, const std::string& id, bool held) {
  return withStmt(db, "UPDATE messages SET held = ? WHERE id = ?",
                  [&](Stmt& s) { return s.bind(1, int64_t(held)).bind(2, id).run(); });
}

Result<int64_t> Journal::remainingRecipients(Db& db, const std::string& id) {
  auto s = db.stmt("SELECT count(*) FROM recipients WHERE message_id = ?");
  if (!s) return s.error();
  (*s)->bind(1, id);
  auto row = (*s)->step();
  if (!row) return row.error();
  int64_t n = (*s)->integer(0);
  (*s)->reset();
  return n;
}

Result<std::vector<StoredMessage>> Journal::load(Db& db, const std::string& id, bool with_body) {
  const char* sql_all =
      "SELECT id, arrival_us, sender, size, client, helo, protocol, dsn_envid, dsn_ret, "
      "smtputf8, held, NULL, spool_path, header_prefix, content_filter, client_port FROM "
      "messages ORDER BY id";
  const char* sql_one =
      "SELECT id, arrival_us, sender, size, client, helo, protocol, dsn_envid, dsn_ret, "
      "smtputf8, held, body, spool_path, header_prefix, content_filter, client_port FROM "
      "messages WHERE id = ?";
  auto s = db.stmt(id.empty() ? sql_all : sql_one);
  if (!s) return s.error();
  Stmt& st = **s;
  if (!id.empty()) st.bind(1, id);
  std::vector<StoredMessage> out;
  for (;;) {
    auto row = st.step();
    if (!row) return row.error();
    if (!*row) break;
    StoredMessage m;
    m.id = st.text(0);
    m.arrival_us = st.integer(1);
    m.sender = st.text(2);
    m.size = uint64_t(st.integer(3));
    m.client = st.text(4);
    m.helo = st.text(5);
    m.protocol = st.text(6);
    m.dsn_envid = st.text(7);
    m.dsn_ret = st.text(8);
    m.smtputf8 = st.integer(9) != 0;
    m.held = st.integer(10) != 0;
    if (with_body) m.body = st.text(11);
    m.spool_path = st.isNull(12) ? std::string() : st.text(12);
    m.header_prefix = st.isNull(13) ? std::string() : st.text(13);
    m.content_filter = st.isNull(14) ? std::string() : st.text(14);
    m.client_port = st.isNull(15) ? 0 : uint16_t(st.integer(15));
    out.push_back(std::move(m));
  }
  st.reset();
  auto r = db.stmt(
      "SELECT idx, address, orig_address, dsn_notify, dsn_orcpt, attempts, next_attempt, "
      "last_error, delay_warned FROM recipients WHERE message_id = ? ORDER BY idx");
  if (!r) return r.error();
  for (auto& m : out) {
    Stmt& rs = **r;
    rs.reset();
    rs.bind(1, m.id);
    for (;;) {
      auto row = rs.step();
      if (!row) return row.error();
      if (!*row) break;
      StoredRecipient rc;
      rc.idx = rs.integer(0);
      rc.address = rs.text(1);
      rc.orig_address = rs.text(2);
      rc.dsn_notify = rs.text(3);
      rc.dsn_orcpt = rs.text(4);
      rc.attempts = rs.integer(5);
      rc.next_attempt = rs.integer(6);
      rc.last_error = rs.text(7);
      rc.delay_warned = rs.integer(8) != 0;
      m.recipients.push_back(std::move(rc));
    }
    rs.reset();
  }
  return out;
}

Result<std::string> Journal::maxId(Db& db) {
  auto s = db.stmt("SELECT coalesce(max(id), '') FROM messages");
  if (!s) return s.error();
  auto row = (*s)->step();
  if (!row) return row.error();
  std::string v = (*s)->text(0);
  (*s)->reset();
  return v;
}

}  // namespace petrel::queue
