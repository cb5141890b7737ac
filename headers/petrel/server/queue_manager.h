// QueueManager: the queue on the main loop (Postfix's qmgr), the owner that wires its parts.
//
// It knows every queued message by id and state (queue::Scheduler) without holding bodies.
// Ready messages go in batches to delivery jobs on the thread pool; each job reads its
// messages from the journal with its own read connection, resolves each recipient's target
// (delivery::Router::resolve) and groups them per target, then runs the blocking agents
// (Maildir: one directory fsync per batch and folder) and prepares the others
// (delivery::deliverInJob). Deliveries for the asynchronous agents (SMTP, and the agents of
// server/transport_agents.h) then run on this loop
// (delivery::deliverOnLoop); a message's results are recorded once its last one reported.
// Recording is one journal transaction per batch: delivered and bounced recipients are
// removed, deferred ones get their next attempt (queue::decideRetry), a message with no
// recipient left is removed with its spool file, and bounces and delay warnings
// (server/dsn_notice.h) and the mail an agent made for a recipient (a redirect's copy, a
// vacation reply: server/generated_mail.h) are inserted through the MessageInjector in that
// same transaction.
// The operator commands are in queue_commands.cc.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "petrel/core/result.h"
#include "petrel/delivery/agent.h"
#include "petrel/queue/bounce.h"
#include "petrel/queue/journal.h"
#include "petrel/queue/scheduler.h"
#include "petrel/server/message_injector.h"
#include "petrel/server/relay_agent.h"
#include "petrel/server/runtime.h"
#include "petrel/server/smtp_agent.h"
#include "petrel/server/transport_agents.h"

namespace petrel::server {

class QueueManager {
 public:
  // `relay` sends the outbound mail (on `main`); configured from the current snapshot.
  QueueManager(event::Dispatcher& main, Runtime& runtime, std::unique_ptr<RelayAgent> relay);
  ~QueueManager();

  // Loads the queue after a start or a crash; removes spool files no message points to.
  Status recover();
  // A message was committed (main loop); a held one waits for `queue release`.
  void enqueued(const std::string& id, int64_t arrival_us, bool held = false);

  // Operator commands (main loop, queue_commands.cc); `done` runs on the main loop.
  void flush();
  void hold(const std::string& id, std::function<void(Status)> done);
  void release(const std::string& id, std::function<void(Status)> done);
  void remove(const std::string& id, std::function<void(Result<size_t>)> done);  // id or "ALL"
  void list(std::function<void(Result<std::vector<queue::StoredMessage>>)> done);
  void show(const std::string& id, std::function<void(Result<queue::StoredMessage>)> done);
  // A deferred message is tried now (postqueue -i); an error when it is not deferred.
  void retry(const std::string& id, std::function<void(Status)> done);
  // Queued messages with the queue each is in, for qshape's table (queue shape, dashboard):
  // "active" (ready or being delivered), "deferred" or "hold".
  struct Listed {
    queue::StoredMessage message;
    std::string queue;
  };
  void listWithQueues(std::function<void(Result<std::vector<Listed>>)> done);
  // Writes a row through the journal: the queue is writable (health check).
  void probe(std::function<void(Status)> done);
  // Queues messages of the server's own (stamped by MessageInjector::stamp) in one journal
  // transaction; `done` on the main loop once they are durable and scheduled
  // (message_injector.cc).
  void inject(std::shared_ptr<std::vector<queue::StoredMessage>> messages,
              std::function<void(Status)> done);

  struct Summary {
    size_t messages = 0, active = 0, deferred = 0, held = 0, ready = 0;
    double oldest_age_seconds = 0;
  };
  Summary summary() const;

  // After a reload: new relay settings, and a new resolver when dns.servers changed.
  void reconfigure(const config::Config& cfg, dns::ResolverPtr resolver);

  // Stop starting deliveries; `done` runs when the jobs in flight have finished. Relay and
  // LMTP jobs in flight are interrupted: their messages stay queued as they were.
  void stop(std::function<void()> done);

 private:
  void setHeld(const std::string& id, bool held, std::function<void(Status)> done);
  struct RecipientResult;
  struct MessageResult;
  struct BatchResult;
  struct RelayInFlight;

  void pump();
  void onTick();
  void launch(std::vector<std::string> ids);
  void finishBatch(std::shared_ptr<BatchResult> batch);
  void startRelay(MessageResult mr, const Snapshot& snap, const delivery::AgentRegistry& agents);
  void finishRelay(const std::shared_ptr<RelayInFlight>& flight);
  void record(std::shared_ptr<BatchResult> batch);
  void applied(const std::shared_ptr<BatchResult>& batch, const Status& st);
  void maybeStopped();
  static void runBatch(BatchResult& batch, const Snapshot& snap, const std::string& db_path);
  static void takeReports(MessageResult& mr);
  static void settle(MessageResult& mr, const Snapshot& snap, std::string_view content);

  event::Dispatcher* main_;
  Runtime* rt_;
  uv_timer_t* timer_;
  queue::Scheduler scheduler_;
  MessageInjector injector_;
  // Spool slots of messages deleted while a delivery job was reading them.
  std::unordered_map<std::string, std::string> release_after_job_;
  std::unique_ptr<RelayAgent> relay_;
  SmtpAgent smtp_agent_;  // around relay_
  // The LMTP connections of every lmtp transport's agent; stopped with relay_.
  std::unique_ptr<LmtpClient> lmtp_;
  size_t agents_running_ = 0;  // relay_ and lmtp_ until their stop() called back
  // The agents of the current config's transports (server/transport_agents.h); each delivery
  // job takes a copy, so a reload never pulls an agent from under a delivery.
  delivery::AgentRegistry agents_;
  // Messages whose earlier attempt may have delivered without the journal knowing (recovered
  // at start, or their results' commit failed): their next job sets AgentMessage::recheck.
  // An id leaves once an attempt's results are committed (a deferred recipient then has
  // attempts > 0, which the agents check themselves).
  std::unordered_set<std::string> recheck_;
  size_t relays_ = 0;           // messages with relay jobs in flight
  uint64_t relay_bytes_ = 0;    // their content, held in memory
  size_t jobs_ = 0;             // delivery jobs on the thread pool
  size_t updates_pending_ = 0;  // their results, not yet committed
  bool stopping_ = false;
  std::function<void()> stopped_;
};

}  // namespace petrel::server
