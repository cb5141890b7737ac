// canonical.headers: which messages get their header addresses rewritten by the canonical
// maps, and the rewritten header section of one queued message. Thread pool only: the maps and
// a mynetworks table may wait on a server.
#pragma once

#include "petrel/core/result.h"
#include "petrel/delivery/header_rewrite.h"
#include "petrel/queue/journal.h"
#include "petrel/server/runtime.h"

namespace petrel::server {

// Does canonical.headers cover this message's client? `local`: it authenticated (the protocol
// name ends in "A", RFC 3848) or its address is in relay.mynetworks. An error when the
// mynetworks table fails.
Result<bool> rewritesHeadersOf(const Snapshot& snap, const queue::StoredMessage& m);

// The message's leading header fields with canonical.sender applied to sender fields and
// canonical.recipient to recipient fields (changed == 0: deliver the message as it is). Reads
// the start of the spool file for large messages. A temporary error when a table fails or
// the spool file cannot be read: the delivery is deferred.
Result<delivery::RewrittenHeader> canonicalHeaders(const Snapshot& snap,
                                                   const queue::StoredMessage& m);

}  // namespace petrel::server
