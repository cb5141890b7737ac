// Pickup: local submission (`sendmail`, docs/sendmail.md), Postfix's pickup(8) for Petrel.
//
// It owns two ways in, both carrying a maildrop record (queue/maildrop.h):
//  - the local submission socket <state_dir>/submit.sock (mode 0666): one record per
//    connection, the client shuts down its side after it, and the answer "ok QUEUEID" comes
//    only after the journal committed the message ("error 4 why" / "error 5 why" otherwise).
//    The submitter is the socket peer's uid (SO_PEERCRED).
//  - the maildrop directory <state_dir>/maildrop/ (mode 1733), where `sendmail` leaves
//    records while the server is down: scanned at start and every minute. Each file is queued
//    and removed exactly once: its name goes into the journal's meta table in the transaction
//    that inserts the message ("pickup:NAME"), the file is removed after that commit, then the
//    name; a file whose name is already there (a crash in between) is only removed. A
//    malformed file is moved to <state_dir>/maildrop-corrupt/ with a warning. The submitter is
//    the file's owner.
// Both become a queued message the same way (composeLocalSubmission): a Received: field as
// Postfix's pickup writes it, canonical.recipient on the envelope recipients, aliases and
// mailboxes from the router, the DKIM signature of dkim.sign as our own mail; canonical.sender
// and canonical.headers apply at delivery as for SMTP mail from relay.mynetworks.
// Header/body checks and milters do not see local submissions (docs/sendmail.md).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "petrel/core/result.h"
#include "petrel/event/dispatcher.h"
#include "petrel/queue/journal.h"
#include "petrel/queue/maildrop.h"
#include "petrel/server/message_injector.h"
#include "petrel/server/runtime.h"

namespace petrel::server {

// The queued message for a record submitted by `uid`: stamped (id, arrival), from "local"
// with protocol "LOCAL". May block on the router's tables (the pool). A permanent error when
// the message is over limits.message_size; a temporary one when a table fails.
Result<queue::StoredMessage> composeLocalSubmission(queue::MaildropRecord&& record, uint32_t uid,
                                                    const Snapshot& snap);

// The Received: field for it ("by HOST (Petrel, from userid UID)\r\n\tid QUEUEID; DATE").
std::string pickupReceived(const std::string& hostname, uint32_t uid, const std::string& id,
                           int64_t unix_time);

class Pickup {
 public:
  Pickup(uv_loop_t* loop, event::Dispatcher& main, Runtime& rt, MessageInjector injector);
  ~Pickup();
  // Creates maildrop/ and maildrop-corrupt/ under `state_dir`, listens on submit.sock,
  // scans the maildrop now and then every ScanSeconds.
  Status start(const std::string& state_dir);
  void scan();   // the maildrop, now (again after the running scan when one runs)
  void close();  // stops listening and scanning; submissions in flight still answer
  static constexpr uint64_t ScanSeconds = 60;

 private:
  struct Connection;
  struct Found;
  static void onConnection(uv_stream_t* server, int status);
  void submit(Connection* c);
  void scanned(std::shared_ptr<std::vector<Found>> found);
  void queueFile(std::shared_ptr<Found> f);

  uv_loop_t* loop_;
  event::Dispatcher* main_;
  Runtime* rt_;
  MessageInjector injector_;
  std::string state_dir_;
  std::string maildrop_;
  uv_pipe_t* listener_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  bool scanning_ = false;
  bool rescan_ = false;
  bool closed_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace petrel::server
