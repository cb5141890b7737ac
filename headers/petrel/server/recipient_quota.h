// delivery.quota at RCPT (docs/quota.md "Enforcement"): the step of the RCPT verdict that asks
// whether the recipient's mailbox can take the message, after the router accepted it. Owns
// nothing; reads the quota table and the Maildir's maildirsize, so it blocks and runs where
// the routing step runs (the thread pool in the server, in place in `petrel route`). It does
// not look at the message itself: delivery checks the real size again
// (delivery/maildir_agent.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/server/runtime.h"
#include "petrel/smtp/server_session.h"

namespace petrel::server {

// The RCPT verdict for `address` (RCPT TO as given) after `routed`, the router's verdict.
// An accepted address that expands to one local mailbox is refused with 452 4.2.2 (552 5.2.2
// with over_quota: bounce) "Mailbox full" when its usage has reached a limit, or, when
// `declared_size` (MAIL FROM SIZE=, 0 when not given) is set, when that many more bytes and
// one more message would go over a limit (Postfix + Dovecot's quota-status policy). A failing
// quota lookup is 451 4.3.0. Anything else returns `routed` unchanged: an alias with several
// members is not refused for one full member (that member defers at delivery). Steps go to
// `trace` when given.
smtp::Verdict checkRecipientQuota(const Snapshot& snap, std::string_view address,
                                  uint64_t declared_size, smtp::Verdict routed,
                                  std::vector<std::string>* trace);

}  // namespace petrel::server
