// DKIM signing of our own users' mail on the SMTP path (dkim.sign, docs/dkim.md): a content
// stage that puts one DKIM-Signature field per matching dkim.sign entry on top of a message
// whose client authenticated or is in relay.mynetworks, and whose author domain (the From:
// field's) is an entry's domain or below it.
//
// The body hash is computed while the body streams (one dkim::Signer per candidate entry);
// nothing of the body is kept. The header fields signed are the ones delivery will write:
// the end-of-data edits of the stages before this one applied, and, when canonical.headers
// covers the message, the canonical maps too (the same pure rewrite delivery runs,
// delivery/header_rewrite.h), so the delivered bytes verify. The maps and a mynetworks table
// may wait on a server, and RSA signing costs a millisecond: end of data does that work on
// the thread pool and answers later (ContentStage::onEndAsync).
//
// A key that fails to sign, a table that fails, a header that cannot be rewritten: a warning
// in the mail log and the message goes on unsigned; signing never refuses mail. What this
// stage does not do: decide where mail goes, verify signatures (authentication_stage.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/content/chain.h"
#include "petrel/core/result.h"
#include "petrel/dkim/signer.h"
#include "petrel/event/dispatcher.h"
#include "petrel/server/runtime.h"

namespace petrel::server {

// The keys of dkim.sign, one SignSpec per entry in config order, read when the snapshot is
// made (a reload reads them again). An entry whose key cannot be read now (the config check
// read it at load) keeps an empty key and `warn` is told: it then fails to sign, with a
// warning per message, and the message goes unsigned.
using DkimSigningKeys = std::vector<dkim::SignSpec>;
std::shared_ptr<const DkimSigningKeys> loadDkimSigningKeys(
    const config::Config& cfg, const std::function<void(const std::string&)>& warn);

// The author domain (RFC 5322 3.6.2, DMARC's RFC5322.From domain): the domain of the From:
// field's mailboxes, lower case, without a final dot. nullopt when the message has no From:
// field or more than one, the field does not parse, no mailbox in it has a domain, or its
// mailboxes have different domains (whose key would sign is then not ours to pick).
std::optional<std::string> authorDomain(const std::vector<content::HeaderField>& fields);

// The entries that sign mail of `author_domain`: every entry whose domain is the author domain
// or, when there is none, every entry of the nearest parent domain that has entries
// (mail.example.com is signed with d=example.com, which DMARC's relaxed alignment accepts);
// in config order. Matching is on whole labels, case-insensitive.
std::vector<size_t> signingEntriesFor(const DkimSigningKeys& keys, std::string_view author_domain);

// What one message's signing stage works with.
struct DkimSigningSetup {
  std::shared_ptr<const DkimSigningKeys> keys;
  std::string queue_id;  // for the log lines
  uint64_t now = 0;      // t=, unix seconds
  // The client is ours: it authenticated, or its address is in relay.mynetworks (the blocks
  // or a table that answers from memory) ...
  bool ours = false;
  // ... or, when not known on the loop, this asks on the thread pool (a relay.mynetworks
  // table that waits on a server). Null: the client is not ours.
  std::function<Result<bool>()> ours_on_pool;
  // Thread pool: the header section (fields and the empty line) as delivery will write it,
  // with the canonical maps applied when canonical.headers covers the message. Null: the
  // header is delivered as it is.
  std::function<Result<std::string>(const std::string& header)> delivered_header;
  // Runs `work` on the thread pool and `done` on the driver's loop afterwards
  // (event::Dispatcher::offload). Null: both run at once in the calling thread (tools, tests).
  std::function<void(std::function<void()> work, std::function<void()> done)> offload;
};

// The stage; put it last in the chain, so that every other stage's header edits are known
// when it signs. Its DKIM-Signature fields go on top at end of data, below the ones earlier
// stages put there (Authentication-Results), in the order of the entries.
std::unique_ptr<content::ContentStage> dkimSigning(DkimSigningSetup setup);

// The session driver's part: the setup for a message of a client at `client_ip` ("host[ip]"
// is `client`, `protocol` the RFC 3848 name, ending in "A" when it authenticated), or
// nullopt when nothing can sign (no dkim.sign keys, or a client that is certainly not ours).
std::optional<DkimSigningSetup> dkimSigningSetup(const Snapshot& snap, const std::string& client_ip,
                                                 const std::string& client,
                                                 const std::string& protocol, bool authenticated,
                                                 event::Dispatcher& dispatcher,
                                                 std::string queue_id);

}  // namespace petrel::server
