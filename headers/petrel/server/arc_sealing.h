// ARC sealing of the mail Petrel forwards for its users (RFC 8617 5.1, docs/arc.md): an alias
// whose target is at a foreign domain (the delivery's DeliveryTarget::arc_seal, set by the
// queue from Router::forwarded) and a Sieve redirect to a foreign domain (the copy, when the
// queue takes it: server/generated_mail.cc). Never ordinary outbound mail, never a local
// delivery: nothing else calls in here.
//
// What a set is made of:
//   - the message as it is sent: the forwarded delivery's content (canonical.headers applied,
//     the spool file's header prefix included), a redirect's copy with its Delivered-To;
//   - the AAR: our Authentication-Results from receipt (the fields of our authserv-id,
//     consolidated; "authserv-id; none" when receipt wrote none);
//   - cv=: the chain as validated on receipt. A chain whose form decides it (no ARC field:
//     none; broken sets, or the newest ARC-Seal saying cv=fail, which ends the chain: no set)
//     is decided again from the header, which needs no DNS; otherwise the arc= result of our
//     Authentication-Results says pass or fail. A chain that came with ARC fields but has no
//     arc= result of ours (dkim.verify off at receipt) is not sealed: its cv= is unknown.
// The seal is computed on the thread pool (the delivery job, the queue's settle step); the
// body is hashed where it lies in memory, never copied. Failures never stop the mail: it goes
// unsealed with a warning.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/arc/sealer.h"
#include "petrel/config/config.h"
#include "petrel/core/result.h"
#include "petrel/delivery/agent.h"

namespace petrel::server {

struct ArcSealing {
  arc::SealSpec spec;       // arc.seal's domain, selector, key, algorithm, headers
  std::string authserv_id;  // ours, as the Authentication-Results stage writes it (hostname)
  bool key_loaded = false;  // false: the key could not be read when the snapshot was made
};
using ArcSealingPtr = std::shared_ptr<const ArcSealing>;

// arc.seal's key, read when the snapshot is made; null when arc.seal is not set. A key that
// cannot be read now (the config check read it) is kept unloaded and `warn` is told; every
// forwarded message then goes unsealed with a warning.
ArcSealingPtr loadArcSealing(const config::Config& cfg,
                             const std::function<void(const std::string&)>& warn);

// The chain of a message as validated on receipt (see the top of this file); nullopt when it
// cannot be known. Pure.
std::optional<arc::ChainResult> chainAtReceipt(const std::vector<content::HeaderField>& fields,
                                               std::string_view authserv_id);

// The ARC set for `message` (the whole message, CRLF) as it will be sent; an Error says why no
// set is added. Pure but for the signing.
Result<arc::SealedSet> arcSet(const ArcSealing& sealing, std::string_view message, uint64_t now);

// arcSet() with its log line: "ID: ARC-Seal field added (i=N, cv=pass, s=S, d=D)", or
// "warning: ID: not ARC-sealed: WHY". The fields to put on top; empty when none.
std::string arcSealFields(const ArcSealing& sealing, std::string_view message,
                          std::string_view queue_id, uint64_t now);

// Delivery job, after the agents' prepare(): every delivery of forwarded recipients
// (target.arc_seal) that is still to be tried and whose message content is loaded gets the
// set as its top_fields; one set per message, shared by its forwarded deliveries.
void sealForwardedDeliveries(const ArcSealing& sealing,
                             const std::vector<delivery::MessageDeliveries*>& messages,
                             uint64_t now);

}  // namespace petrel::server
