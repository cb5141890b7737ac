// DSN notices; see server/dsn_notice.h.
#include "petrel/server/dsn_notice.h"

#include <ctime>

#include "petrel/core/strings.h"
#include "petrel/server/message_injector.h"

namespace petrel::server {

queue::StoredMessage composeDsnNotice(const queue::StoredMessage& m,
                                      std::vector<queue::FailedRecipient> recipients, bool delayed,
                                      const Snapshot& snap, std::string_view content) {
  const config::Config& cfg = *snap.config;
  queue::StoredMessage b;
  MessageInjector::stamp(b);
  b.client = "local";
  b.helo = cfg.hostname;
  b.protocol = "LOCAL";
  queue::BounceInput in;
  in.original_id = m.id;
  in.original_sender = m.sender;
  in.envid = m.dsn_envid;
  in.arrival_unix = m.arrival_us / 1000000;
  in.hostname = cfg.hostname;
  in.bounce_id = b.id;
  in.date = rfc5322Date(int64_t(time(nullptr)));
  in.failed = std::move(recipients);
  in.original = content;
  in.return_full = m.dsn_ret == "FULL";  // RFC 3461 4.3
  in.delayed = delayed;
  in.retry_until_unix = in.arrival_unix + int64_t(cfg.queue.max_lifetime);
  b.body = queue::composeBounce(in);
  b.size = b.body.size();
  auto e = snap.router->expand(m.sender);
  std::vector<std::string> to = e.outcome == delivery::Expansion::Outcome::Accepted
                                    ? e.recipients
                                    : std::vector<std::string>{m.sender};
  for (size_t i = 0; i < to.size(); ++i) {
    queue::StoredRecipient r;
    r.idx = int64_t(i);
    r.address = to[i];
    r.orig_address = m.sender;
    b.recipients.push_back(std::move(r));
  }
  return b;
}

}  // namespace petrel::server
