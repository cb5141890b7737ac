// MessageInjector; see server/message_injector.h.
#include "petrel/server/message_injector.h"

#include "petrel/log/mail_log.h"
#include "petrel/server/queue_manager.h"
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
  log::mail::queued(m.id, m.sender, m.size, m.recipients.size(), true);
  enqueued_(m.id, m.arrival_us);
}

// Messages composed on their own (DMARC reports; later vacation replies): one transaction for
// all of them, then the usual log lines and the scheduler, on the main loop.
void QueueManager::inject(std::shared_ptr<std::vector<queue::StoredMessage>> messages,
                          std::function<void(Status)> done) {
  rt_->journal->submit(
      [messages](queue::Db& db) -> Status {
        for (const queue::StoredMessage& m : *messages) {
          if (auto st = MessageInjector::insert(db, m); !st) return st;
        }
        return okStatus();
      },
      [this, messages, done = std::move(done)](const Status& st) {
        main_->post([this, messages, done, st] {
          if (st) {
            for (const queue::StoredMessage& m : *messages) injector_.committed(m);
          }
          done(st);
        });
      },
      /*urgent=*/false);
}

}  // namespace petrel::server
