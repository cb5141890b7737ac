// Mail made at delivery (delivery/agent.h, RecipientReport::generated) as the queue holds it:
// stamped by the MessageInjector (id, arrival), from "local", its recipients expanded by the
// router as a bounce's are, and our own mail (dkim_sign: a vacation reply) DKIM-signed by the
// dkim.sign entry of its From: domain, as the SMTP path signs our users' mail (a key that
// fails leaves it unsigned, with the stage's warning); a Sieve redirect to a foreign domain
// gets the SRS sender and, with arc.seal, an ARC set (server/arc_sealing.h). The queue inserts
// it in the transaction that records the recipient it came from (queue_manager.cc record())
// and logs "ID: <kind>: NEWID".
#pragma once

#include <string>

#include "petrel/delivery/agent.h"
#include "petrel/queue/journal.h"
#include "petrel/server/runtime.h"

namespace petrel::server {

struct QueuedGenerated {
  std::string kind;  // the log's words ("sieve redirect")
  queue::StoredMessage message;
};

// May block when the router's tables do (the delivery job, or the pool).
QueuedGenerated queueGenerated(delivery::GeneratedMessage&& g, const Snapshot& snap);

// `content` with the DKIM signature of dkim.sign's entry for its From: domain on top, as our
// own mail (unchanged when no entry applies or the key fails). Blocking: the pool.
std::string dkimSigned(std::string content, const Snapshot& snap, const std::string& queue_id);

}  // namespace petrel::server
