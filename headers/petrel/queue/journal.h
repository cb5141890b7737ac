// The queue journal: every queued message and recipient lives in one SQLite database in WAL
// mode with synchronous=FULL, so a committed row survives kill -9 and power loss.
//
// Journal owns the only writing connection and the thread that uses it. Requests from any
// thread are batched into one transaction (group commit: one fsync for all the sessions that
// asked while the previous commit was syncing); each request runs in a savepoint, so one
// failing request does not fail its neighbours. `done` runs on the journal thread after the
// COMMIT (or the failure): it must only hand the result to a loop (Dispatcher::post).
//
// Readers (delivery workers, the control socket) use their own read-only connections.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "petrel/core/result.h"
#include "petrel/queue/db.h"

namespace petrel::queue {

struct StoredRecipient {
  int64_t idx = 0;
  std::string address;       // final mailbox address
  std::string orig_address;  // as given in RCPT TO
  std::string dsn_notify;
  std::string dsn_orcpt;
  int64_t attempts = 0;
  int64_t next_attempt = 0;  // unix seconds
  std::string last_error;
  bool delay_warned = false;  // a "delayed" DSN went out for it (queue.delay_warning)
};

struct StoredMessage {
  std::string id;
  int64_t arrival_us = 0;  // unix microseconds
  std::string sender;
  uint64_t size = 0;
  std::string client;    // "host[ip]"
  uint16_t client_port = 0;  // the client's TCP port (XFORWARD PORT); 0: unknown
  std::string helo;
  std::string protocol;  // "ESMTP", "SMTP", "UTF8SMTP", ...
  std::string dsn_envid;
  std::string dsn_ret;
  bool smtputf8 = false;
  bool held = false;
  std::string body;        // content in wire format when stored inline
  std::string spool_path;  // or the spool file holding it
  // Spooled messages: header fields that go before the spool file's content (added by the
  // content pass at end of data); readers of spool_path prepend them.
  std::string header_prefix;
  // The after-queue content filter every recipient goes to instead of its own target,
  // "transport:nexthop" (filters.content_filter or a FILTER action, docs/filters.md); empty:
  // none. Chosen at receipt and kept with the message, so a restart or reload keeps it.
  std::string content_filter;
  std::vector<StoredRecipient> recipients;  // only those still to deliver
};

class Journal {
 public:
  using Work = std::function<Status(Db&)>;
  using Done = std::function<void(const Status&)>;

  // Opens (creating) the database and starts the writer thread.
  static Result<std::unique_ptr<Journal>> open(const std::string& path);
  ~Journal();  // commits what is queued, then stops the thread

  // `urgent`: someone waits for this commit (a client for its 250). Non-urgent requests
  // (delivery results) wait up to LazyCommitDelay for company, so they share an fsync.
  void submit(Work work, Done done, bool urgent = true);
  static constexpr int LazyCommitDelayMs = 20;
  const std::string& path() const { return path_; }

  // Statements for Work functions and readers.
  static Status insertMessage(Db& db, const StoredMessage& m);
  static Status deleteMessage(Db& db, const std::string& id);
  static Status deleteRecipient(Db& db, const std::string& id, int64_t idx);
  static Status deferRecipient(Db& db, const std::string& id, int64_t idx, int64_t attempts,
                               int64_t next_attempt, const std::string& error);
  static Status setDelayWarned(Db& db, const std::string& id, int64_t idx);
  static Status setHeld(Db& db, const std::string& id, bool held);
  static Result<int64_t> remainingRecipients(Db& db, const std::string& id);
  // Loads messages (all, or the one with `id`), with or without their body.
  static Result<std::vector<StoredMessage>> load(Db& db, const std::string& id, bool with_body);
  static Result<std::string> maxId(Db& db);

 private:
  explicit Journal(std::string path, std::unique_ptr<Db> db);
  void run();

  struct Request {
    Work work;
    Done done;
    bool urgent;
  };
  std::string path_;
  std::unique_ptr<Db> db_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Request> queue_;
  size_t urgent_queued_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace petrel::queue
