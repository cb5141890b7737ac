// MessageInjector: the one way the server queues a message of its own (Postfix's
// cleanup -> qmgr path for bounce(8)): bounces and delay warnings, the mail agents make at
// delivery (Sieve redirects, vacation replies: server/generated_mail.h), DMARC reports;
// postmaster notices later.
//
// A message is injected in three steps, on the threads the queue already uses, so that it
// commits together with whatever caused it (a bounce and the deletion of the recipient it
// reports are one journal transaction: a crash leaves both or neither):
//   stamp()      any thread: a fresh queue id and arrival time (before composing, so the
//                content can name its id);
//   insert()     journal writer, inside the caller's transaction;
//   committed()  main loop, after that transaction committed: the mail log's client= and
//                from= lines, and the scheduler learns of it.
// It composes nothing (server/dsn_notice.h does bounces) and owns no state but the scheduler
// hook.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "petrel/core/result.h"
#include "petrel/queue/journal.h"

namespace petrel::server {

class MessageInjector {
 public:
  using Enqueued = std::function<void(const std::string& id, int64_t arrival_us)>;
  explicit MessageInjector(Enqueued enqueued) : enqueued_(std::move(enqueued)) {}

  static void stamp(queue::StoredMessage& m);
  static Status insert(queue::Db& db, const queue::StoredMessage& m);
  void committed(const queue::StoredMessage& m) const;

 private:
  Enqueued enqueued_;
};

}  // namespace petrel::server
