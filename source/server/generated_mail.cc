// Mail made at delivery, queued; see headers/petrel/server/generated_mail.h.
#include "petrel/server/generated_mail.h"

#include <ctime>

#include "petrel/content/chain.h"
#include "petrel/core/mail_address.h"
#include "petrel/server/arc_sealing.h"
#include "petrel/server/dkim_signing_stage.h"
#include "petrel/server/message_injector.h"

namespace petrel::server {

namespace {

struct StringSink final : smtp::BodySink {
  void append(std::string_view content) override { data.append(content); }
  std::string data;
};

}  // namespace

// The signing stage over the whole message at once (we are on the pool: no offload).
std::string dkimSigned(std::string content, const Snapshot& snap, const std::string& queue_id) {
  DkimSigningSetup setup;
  setup.keys = snap.dkim_signing;
  setup.queue_id = queue_id;
  setup.now = uint64_t(time(nullptr));
  setup.ours = true;
  StringSink store;
  std::vector<std::unique_ptr<content::ContentStage>> stages;
  stages.push_back(dkimSigning(std::move(setup)));
  content::ContentChain chain(std::move(stages), store);
  chain.append(content);
  std::vector<content::Recipient> none;
  content::ContentChain::End end = chain.finish(none);
  if (end.refusal || end.header) return content;  // the stage only adds fields on top
  return end.top_fields + store.data;
}

QueuedGenerated queueGenerated(delivery::GeneratedMessage&& g, const Snapshot& snap) {
  QueuedGenerated q;
  q.kind = std::move(g.kind);
  queue::StoredMessage& m = q.message;
  MessageInjector::stamp(m);
  m.client = "local";
  m.helo = snap.config->hostname;
  m.protocol = "LOCAL";
  m.sender = std::move(g.sender);
  // A redirect to a foreign domain is forwarding: the SRS sender (docs/srs.md), so that SPF at
  // the next hop passes and bounces come back through our reversal...
  bool forwarded = false;
  if (q.kind == "sieve redirect" && g.recipients.size() == 1) {
    MailAddress target(g.recipients.front());
    if (target.hasDomain() && !snap.router->isLocalDomain(target.domain())) {
      m.sender = snap.router->forwardingSender(m.sender);
      forwarded = true;
    }
  }
  m.smtputf8 = g.smtputf8;
  m.body = g.dkim_sign && snap.dkim_signing && !snap.dkim_signing->empty()
               ? dkimSigned(std::move(g.content), snap, m.id)
               : std::move(g.content);
  // ...and an ARC set over the copy as it is queued, Delivered-To included (docs/arc.md).
  if (forwarded && snap.arc_seal) {
    m.body.insert(0, arcSealFields(*snap.arc_seal, m.body, m.id, uint64_t(time(nullptr))));
  }
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
