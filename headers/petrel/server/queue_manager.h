// QueueManager: the scheduler of the queue, on the main loop (Postfix's qmgr).
//
// It knows every queued message by id and state (ready, active, deferred, held) without
// holding bodies. Ready messages go in batches to delivery jobs on the thread pool; each job
// reads its messages from the journal with its own read connection, routes each recipient
// and delivers into Maildirs (one directory fsync per batch and folder). The results come
// back here and become one journal transaction per batch: delivered and bounced recipients
// are removed, deferred ones get their next attempt (exponential backoff), a message with no
// recipient left is removed with its spool file, bounces are queued as new messages.
// Recipients in other domains become RelayJobs (one per message and next hop, content loaded
// by the batch); the RelayAgent sends them from this loop, and the message's results are
// recorded once its last job has reported.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "petrel/core/result.h"
#include "petrel/delivery/header_rewrite.h"
#include "petrel/queue/bounce.h"
#include "petrel/queue/journal.h"
#include "petrel/server/relay_agent.h"
#include "petrel/server/runtime.h"

namespace petrel::server {

class QueueManager {
 public:
  // `relay` sends the outbound mail (on `main`); configured from the current snapshot.
  QueueManager(event::Dispatcher& main, Runtime& runtime, std::unique_ptr<RelayAgent> relay);
  ~QueueManager();

  // Loads the queue after a start or a crash; removes spool files no message points to.
  Status recover();
  // A message was committed (main loop).
  void enqueued(const std::string& id, int64_t arrival_us);

  // Operator commands (main loop); `done` runs on the main loop.
  void flush();
  void hold(const std::string& id, std::function<void(Status)> done);
  void release(const std::string& id, std::function<void(Status)> done);
  void remove(const std::string& id, std::function<void(Result<size_t>)> done);  // id or "ALL"
  void list(std::function<void(Result<std::vector<queue::StoredMessage>>)> done);
  void show(const std::string& id, std::function<void(Result<queue::StoredMessage>)> done);
  // Writes a row through the journal: the queue is writable (health check).
  void probe(std::function<void(Status)> done);

  struct Summary {
    size_t messages = 0, active = 0, deferred = 0, held = 0, ready = 0;
    double oldest_age_seconds = 0;
  };
  Summary summary() const;

  // After a reload: new relay settings, and a new resolver when dns.servers changed.
  void reconfigure(const config::Config& cfg, dns::ResolverPtr resolver);

  // Stop starting deliveries; `done` runs when the jobs in flight have finished. Relay jobs
  // in flight are interrupted: their messages stay queued as they were.
  void stop(std::function<void()> done);

 private:
  enum class State { Ready, Active, Deferred, Held };
  struct Entry {
    int64_t arrival_us = 0;
    State state = State::Ready;
    bool hold_requested = false;  // "queue hold" while active
  };
  struct RecipientResult;
  struct MessageResult;
  struct BatchResult;
  struct RelayInFlight;

  void pump();
  void onTick();
  void launch(std::vector<std::string> ids);
  void finishBatch(std::shared_ptr<BatchResult> batch);
  void startRelay(MessageResult mr, const Snapshot& snap);
  void finishRelay(const std::shared_ptr<RelayInFlight>& flight);
  void record(std::shared_ptr<BatchResult> batch);
  void applied(const std::shared_ptr<BatchResult>& batch, const Status& st);
  void makeReady(const std::string& id);
  void maybeStopped();
  static void runBatch(BatchResult& batch, const Snapshot& snap, const std::string& db_path);
  static void settle(MessageResult& mr, const Snapshot& snap, std::string_view content);
  static queue::StoredMessage report(const queue::StoredMessage& m,
                                     std::vector<queue::FailedRecipient> recipients, bool delayed,
                                     const Snapshot& snap, std::string_view content);
  static void addRelayRecipient(MessageResult& mr, RecipientResult& rr, const std::string& domain,
                                const delivery::Router& router);
  static void loadRelayContent(MessageResult& mr, const queue::StoredMessage& m,
                               const std::string& sender, const delivery::RewrittenHeader& header);

  event::Dispatcher* main_;
  Runtime* rt_;
  uv_timer_t* timer_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::string> ready_;
  std::multimap<int64_t, std::string> deferred_;  // next attempt (unix seconds) -> id
  // Spool slots of messages deleted while a delivery job was reading them.
  std::unordered_map<std::string, std::string> release_after_job_;
  std::unique_ptr<RelayAgent> relay_;
  size_t relays_ = 0;           // messages with relay jobs in flight
  uint64_t relay_bytes_ = 0;    // their content, held in memory
  size_t jobs_ = 0;             // delivery jobs on the thread pool
  size_t updates_pending_ = 0;  // their results, not yet committed
  bool stopping_ = false;
  std::function<void()> stopped_;
};

}  // namespace petrel::server
