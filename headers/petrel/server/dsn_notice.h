// DSN notices: the bounce or delay warning the queue sends to a message's sender (RFC 3464),
// as a message ready for the MessageInjector (stamped, from <>, to the sender as the router
// expands it). The report itself is queue::composeBounce; when to send one is the queue's
// decision (retry policy, NOTIFY).
#pragma once

#include <string_view>
#include <vector>

#include "petrel/queue/bounce.h"
#include "petrel/queue/journal.h"
#include "petrel/server/runtime.h"

namespace petrel::server {

// A failure report (`delayed` false) or a delay warning for `recipients` of `m`. `content`:
// the message or at least its header section. May block when the router's tables do.
queue::StoredMessage composeDsnNotice(const queue::StoredMessage& m,
                                      std::vector<queue::FailedRecipient> recipients, bool delayed,
                                      const Snapshot& snap, std::string_view content);

}  // namespace petrel::server
