// Mail the Maildir agent makes while it delivers (agent.h, RecipientReport::generated): the
// copy a Sieve `redirect` sends on, and the vacation reply (vacation.h's rules and composer,
// vacation_store.h's memory). Each is a GeneratedMessage the queue journals together with the
// recipient's result.
//
// A redirect copy keeps the original sender here; the queue gives it its SRS sender when the
// target is foreign (server::queueGenerated, Router::forwardingSender; docs/srs.md).
//
// Blocking (spool reads, the vacation table and store): the delivery job only.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/delivery/agent.h"
#include "petrel/delivery/vacation.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::delivery {

// delivery.vacation and where the once-per memory lives; built with each config snapshot.
struct AutoReplySettings {
  lookup::TablePtr table;           // delivery.vacation.table; null: only Sieve's vacation
  uint64_t once_per = 7 * 86400;    // delivery.vacation.once_per, seconds
  std::string store_path;           // <state_dir>/vacation.db
  std::string hostname;             // the right-hand side of the replies' Message-ID
  std::string recipient_delimiter;  // user+ext@d is addressed by user@d in To/Cc
};
using AutoReplyPtr = std::shared_ptr<const AutoReplySettings>;

// Settings for a config: the table opened when delivery.vacation names one. Always non-null
// (Sieve's vacation needs the store even without the table).
AutoReplyPtr loadAutoReplies(const config::Config& cfg, const lookup::Warn& warn);

// The whole message as delivered (queued top fields, the header as canonical.headers rewrote
// it, the body), wire format; the spool file is read when the body is there. Empty when the
// spool file cannot be read.
std::optional<std::string> deliveredContent(const AgentMessage& message);

// Whether the header already has "Delivered-To: <recipient>": the message went through this
// mailbox before, and sending it on again would loop (Postfix local(8)'s check).
bool alreadyDeliveredTo(std::span<const content::HeaderField> fields, std::string_view recipient);

// The copy a `redirect` sends to `target`: Delivered-To: <recipient> on top (so the next hop
// sees the loop), then the content unchanged (no field edited: DKIM signatures stay valid).
GeneratedMessage redirectCopy(std::string_view content, std::string_view sender,
                              std::string_view recipient, std::string_view target);

struct AutoReplyQuery {
  const AutoReplySettings* settings = nullptr;
  const sieve::Vacation* sieve_vacation = nullptr;  // the scripts' vacation, or none
  std::span<const content::HeaderField> fields;     // the original's header section
  std::string_view sender;                          // its envelope sender
  std::string_view recipient;                       // the user
  int64_t now = 0;                                  // unix seconds
};
struct AutoReplyOutcome {
  std::optional<GeneratedMessage> reply;
  std::string note;  // for the log when there is no reply and one was asked for; "" otherwise
};

// The Sieve vacation, or else delivery.vacation's table answer for the recipient; the RFC 3834
// rules; the once-per-period memory; the composed reply from <>.
AutoReplyOutcome autoReply(const AutoReplyQuery& q);

}  // namespace petrel::delivery
