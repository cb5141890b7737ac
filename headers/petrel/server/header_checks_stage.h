// Header and body checks (Postfix header_checks(5), built into cleanup): a content stage that
// matches every logical header field and body line against the `checks:` tables while the
// message streams in, classified by content::MimeParser (message header -> checks.header,
// MIME fields and part headers -> checks.mime_header, attached messages' headers ->
// checks.nested_header, the rest -> checks.body, up to checks.body_size_limit octets per
// part), and applies the action the table answers, as cleanup does:
//
//   REJECT [text]   550 5.7.1 at end of data ("message content rejected"); nothing more is
//                   inspected (a text starting with 4.x.x: 451). DEFER [text]: 451 4.7.1
//                   ("service unavailable"). DISCARD [text]: taken, dropped.
//   HOLD [text]     held in the queue (EndEdits::hold; the first HOLD counts); WARN/INFO
//                   [text]: a log line only
//   PREPEND text    a field before the matched one; REPLACE text: the field replaced;
//   IGNORE          the field deleted: in the message header (HeaderEdits), in MIME part
//                   headers and attached messages' headers (the stage edits the body stream:
//                   such a header section is held back until it ends, at most 100 KiB, then
//                   passed on edited; past that limit the rest of it passes unedited, with a
//                   warning); on body lines they are logged as not applied
//   REDIRECT addr   every recipient replaced by addr, nothing more inspected; BCC addr:
//                   addr added
//   FILTER x        the message goes through that after-queue content filter (EndEdits)
//   DUNNO, OK       as if nothing matched
//
// A field is matched as one logical line (unfolded); when nothing matches it and it has RFC
// 2047 encoded words, it is matched again decoded. A table that fails defers the message
// (451 4.3.0) with a warning naming the table. Log lines are cleanup's
// (log::mail::contentCheck). What this stage does not do: decode attachments or body
// transfer encodings (Postfix does not either), milters, content filters.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/content/chain.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::server {

// The `checks:` tables, opened when the snapshot is made (a table named twice is opened once).
struct CheckTables {
  lookup::TablePtr header, mime_header, nested_header, body;
  uint64_t body_size_limit = 51200;
};
// nullptr when the config has no checks.
std::shared_ptr<const CheckTables> openCheckTables(const config::Checks& checks,
                                                   const lookup::Warn& warn);

// One action a check took, as `petrel checks test` prints it and the log line says it.
struct CheckHit {
  std::string action;   // "reject", "warning", "info", "hold", "discard", "prepend", ...
  std::string what;     // "header" | "body"
  std::string klass;    // "header", "mime_header", "nested_header", "body": the table used
  std::string line;     // the logical line that matched
  std::string text;     // the action's text (reply, field, address), may be empty
  bool applied = true;  // false: an action this place cannot apply (logged as such)
};

struct HeaderChecksSetup {
  std::shared_ptr<const CheckTables> tables;
  // For the log lines: "ID: reject: header ... from CLIENT; from=<S> to=<R> proto=P helo=<H>".
  std::string queue_id, client, sender, recipient, protocol, helo;
  // Called for each action; null: the mail log lines (log::mail::contentCheck).
  std::function<void(const CheckHit&)> on_hit;
};

std::unique_ptr<content::ContentStage> headerChecks(HeaderChecksSetup setup);

}  // namespace petrel::server
