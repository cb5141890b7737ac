// Delivery agents: the seam between the queue and the ways mail leaves it (Postfix's
// transport:nexthop, chasquid's Courier).
//
// Router::resolve() gives each final address a DeliveryTarget; the recipients of one message
// with equal targets form one Delivery, and the agent registered for the target's transport
// delivers it and reports per recipient (delivered, deferred or bounced, with the reply). The
// queue owns retries, bounces and the journal; an agent only tries once.
//
// Two kinds of agent, by where they run:
//   blocking (maildir)   inside the queue's delivery job on the thread pool: deliver() gets
//                        every delivery of the job at once (one directory fsync covers many
//                        messages) and has filled every report when it returns;
//   asynchronous (smtp)  on the main loop: prepare() runs first in the delivery job (blocking
//                        work such as reading the content), then deliver() returns at once
//                        and `done` runs later on that loop.
// This header knows no libuv: the dispatch below is plain code, tested with fake agents.
//
// Mail made at delivery (a Sieve redirect's copy, a vacation reply; later alias forwarding or
// a pipe's output) is not sent by the agent: it returns it in the recipient's report
// (RecipientReport::generated) and the queue journals it in the same transaction that
// removes that recipient, so a crash leaves both or neither (a `redirect` without keep is
// never lost, docs/architecture.md "Mail made at delivery"). The queue stamps it (queue id,
// arrival), expands its recipients through the router, and schedules it like received mail;
// with a deferred report it is dropped, as the next attempt makes it again.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "petrel/delivery/header_rewrite.h"
#include "petrel/delivery/router.h"
#include "petrel/log/mail_log.h"
#include "petrel/queue/journal.h"

namespace petrel::delivery {

// A message an agent made while delivering a recipient, to be queued with its report.
struct GeneratedMessage {
  std::string kind;  // the log's words: "sieve redirect", "vacation reply"
  std::string sender;                   // envelope sender; "" for <>
  std::vector<std::string> recipients;  // envelope recipients, before the router expands them
  std::string content;                  // the whole message, wire format (CRLF)
  bool smtputf8 = false;                // relay it with SMTPUTF8 (a copy of such a message)
  // Our own mail (a vacation reply, From: the user): the queue signs it as dkim.sign signs
  // our users' mail. A forwarded copy is not: it keeps its author's signatures as they are.
  bool dkim_sign = false;
};

// What an agent reports for one recipient.
struct RecipientReport {
  enum class Status { Delivered, Deferred, Bounced };
  Status status = Status::Deferred;
  std::string dsn;                    // enhanced status code: "2.0.0", "4.3.0", "5.1.1"
  std::string text;                   // the log's and the DSN's explanation
  std::string relay;                  // the log's relay= ("host[ip]:port", "none"); "" = default
  std::optional<log::Delays> delays;  // the agent's own times; else the delivery job's
  std::string remote_mta;             // the host that answered (DSN Remote-MTA)
  std::string diagnostic;             // its reply (DSN Diagnostic-Code)
  // Delivered or Bounced only: queued in the transaction that records this report.
  std::vector<GeneratedMessage> generated;
  // The log's program ("lmtp" for petrel/lmtp[pid]); unset: smtp when relayed, else virtual.
  std::optional<log::Program> program;
};

// One message as the agents see it. The pointers are set by the caller and valid for the
// duration of the agent's call (deliver(): until `done`).
struct AgentMessage {
  const queue::StoredMessage* stored = nullptr;  // envelope, recipients, body or spool_path
  std::string sender;                            // envelope sender after canonical.sender
  const RewrittenHeader* header = nullptr;       // header as delivered (changed == 0: stored)
  // The whole message as delivered (CRLF, header rewritten), when a prepare() loaded it; shared
  // by every delivery of the message, never copied per target.
  std::shared_ptr<const std::string> content;
  bool content_8bit = false;  // `content` has an octet over 127
  // An earlier attempt may have stored copies the journal does not know of: the message was
  // recovered after a restart, or the commit of an attempt's results failed. Agents that can
  // recognise their own deliveries (Maildir: the delivery key) look for them before writing,
  // as they do for a recipient with attempts > 0; others deliver again (at least once).
  bool recheck = false;
};

// The recipients of one message for one target.
struct Delivery {
  DeliveryTarget target;
  std::vector<size_t> recipients;        // indexes into message->stored->recipients
  std::vector<RecipientReport> reports;  // out: one per recipient, in the same order
  const AgentMessage* message = nullptr;
  // Fields this delivery puts on top of the message's content (CRLF-terminated header fields):
  // the ARC set of forwarded mail (server/arc_sealing.h). The content stays shared.
  std::string top_fields;
  bool reported() const { return reports.size() == recipients.size(); }
};

// The deliveries of one message, one per distinct target in order of first appearance.
struct MessageDeliveries {
  AgentMessage message;
  std::vector<Delivery> deliveries;
  // Recipient `index` goes to `target`: joins the delivery of that target, or starts one.
  // Constant time per recipient (a message may have a thousand Maildirs).
  void add(const DeliveryTarget& target, size_t index);
  bool pending() const;  // some delivery is not reported yet

 private:
  std::unordered_map<std::string, size_t> by_target_;  // targetKey() -> deliveries index
};

class DeliveryAgent {
 public:
  using Done = std::function<void()>;
  virtual ~DeliveryAgent() = default;

  // Whether deliver() blocks and so runs in the delivery job (see the top of this file).
  virtual bool blocking() const = 0;
  // Delivery job (thread pool), the deliveries of one message to this agent, before deliver():
  // blocking work the agent needs (and may store in `message`). A delivery that cannot be
  // tried gets its reports here and is not passed to deliver(). Must not touch loop state.
  virtual void prepare(AgentMessage& message, const std::vector<Delivery*>& deliveries) const {
    (void)message;
    (void)deliveries;
  }
  // Delivers and fills every delivery's reports, then calls `done` (a blocking agent before
  // it returns). Each delivery's `message` is set.
  virtual void deliver(const std::vector<Delivery*>& deliveries, Done done) = 0;
  // Main loop, when the queue stops (QueueManager::stop): an agent with work that would not
  // end by itself soon (a program running to its time limit) ends it now, reporting its
  // recipients deferred. Default: nothing to stop.
  virtual void stop() {}
};

// The agent of each transport, by the transport's name (DeliveryTarget::transport_name: the
// built-in "virtual", "smtp", "relay", "lmtp", or a name under `transports:`). Copies share
// the agents, so a delivery in flight keeps the agents it started with across a reload.
class AgentRegistry {
 public:
  void add(const std::string& name, std::shared_ptr<DeliveryAgent> agent);
  // An agent owned elsewhere that outlives every copy of this registry.
  void addUnowned(const std::string& name, DeliveryAgent& agent);
  DeliveryAgent* find(const std::string& name) const;  // nullptr when none is registered
  // Calls stop() of each agent (QueueManager::stop).
  void stop() const;

 private:
  std::unordered_map<std::string, std::shared_ptr<DeliveryAgent>> agents_;
};

// Delivery job: prepare() of the agents of each message, then one deliver() per blocking
// agent for all messages' deliveries. Deliveries for asynchronous agents stay unreported for
// deliverOnLoop(); a transport without an agent is reported deferred (4.3.5). Agents are
// called per transport name in the order the names first appear.
void deliverInJob(const AgentRegistry& agents, std::vector<MessageDeliveries*>& messages);
// Main loop: the unreported deliveries of one message, one deliver() per agent; `done` runs
// once every agent has called its own (not inside this call unless no agent was needed).
void deliverOnLoop(const AgentRegistry& agents, MessageDeliveries& message,
                   std::function<void()> done);

}  // namespace petrel::delivery
