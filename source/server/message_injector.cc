// MessageInjector; see server/message_injector.h.
#include "petrel/server/message_injector.h"

#include "petrel/log/mail_log.h"
#include "petrel/server/runtime.h"

namespace petrel::server {

void MessageInjector::stamp(queue::StoredMessage& m) {
  m.id = nextQueueId();
  m.arrival_us = nowMicros();
}

Status MessageInjector::insert(queue::Db& db, const queue::StoredMessage& m) {
  return queue::Journal::insertMessage(db, m);
}

void MessageInjector::committed(const queue::StoredMessage& m) const {
  log::mail::client(m.id, m.client);
  log::mail::queued(m.id, m.sender, m.size, m.recipients.size());
  enqueued_(m.id, m.arrival_us);
}

}  // namespace petrel::server
