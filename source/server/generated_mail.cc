// Mail made at delivery, queued; see headers/petrel/server/generated_mail.h.
#include "petrel/server/generated_mail.h"

#include "petrel/server/message_injector.h"

namespace petrel::server {

QueuedGenerated queueGenerated(delivery::GeneratedMessage&& g, const Snapshot& snap) {
  QueuedGenerated q;
  q.kind = std::move(g.kind);
  queue::StoredMessage& m = q.message;
  MessageInjector::stamp(m);
  m.client = "local";
  m.helo = snap.config->hostname;
  m.protocol = "LOCAL";
  m.sender = std::move(g.sender);
  m.smtputf8 = g.smtputf8;
  m.body = std::move(g.content);
  m.size = m.body.size();
  for (const std::string& address : g.recipients) {
    // A local target gets its aliases and mailbox as if it had come by SMTP; anything the
    // router does not accept is queued as written and fails (or goes out) at delivery.
    auto e = snap.router->expand(address);
    std::vector<std::string> to = e.outcome == delivery::Expansion::Outcome::Accepted
                                      ? e.recipients
                                      : std::vector<std::string>{address};
    for (std::string& final_address : to) {
      queue::StoredRecipient r;
      r.idx = int64_t(m.recipients.size());
      r.address = std::move(final_address);
      r.orig_address = address;
      m.recipients.push_back(std::move(r));
    }
  }
  return q;
}

}  // namespace petrel::server
