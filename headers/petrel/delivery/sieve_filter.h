// Sieve at Maildir delivery (delivery.sieve, docs/sieve.md): the global script
// run before the user's own, the user's script (<user_scripts>/<domain>/<local
// part>.sieve, or from the users' table), the global script after it, and what
// they decide as the Maildir++ folders (with flags) the MaildirAgent writes the
// message into. include :personal and :global are resolved per recipient.
//
// The scripts run in that order, as Pigeonhole's sieve_before / personal /
// sieve_after: each adds its actions, and the next runs only while the implicit
// keep still stands (a script that filed or discarded the message ends the
// sequence; the course's `fileinto "spam"; stop;` keeps the user's script from
// running on spam). The message is never lost: a user script that does not
// compile, or any script that fails at run time, counts as "keep" with a note
// for the log. The actions that make mail are decided here and carried out by
// the MaildirAgent: redirect (a copy queued to the address, at most
// run_limits.max_redirects for the whole sequence), reject/ereject (the
// recipient bounced, RFC 5429 2.1), vacation (an RFC 3834 reply, vacation.h).
//
// Blocking (it stats the user's script file, asks the users' table): the delivery
// job only. Scripts are compiled once and kept in SieveCache (sieve_cache.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/core/result.h"
#include "petrel/delivery/sieve_cache.h"
#include "petrel/lookup/lookup_table.h"
#include "petrel/sieve/interpreter.h"

namespace petrel::delivery {

struct SieveScripts {
  sieve::ProgramPtr before;  // delivery.sieve.global_before, compiled; null when none
  sieve::ProgramPtr after;   // global_after
  // The users' scripts: a directory (<user_dir>/<domain>/<local part>.sieve, their
  // `include :personal "x"` in <user_dir>/<domain>/<local part>/x.sieve), or a table
  // (the address -> the script's text; `include :personal "x"` asks it for
  // "<address>/x"). Neither: no personal scripts.
  std::string user_dir;
  lookup::TablePtr user_table;
  std::string global_dir;  // include :global "x": <global_dir>/x.sieve; empty: none
  sieve::Options options;  // the recipient delimiter (subaddress), the limits
  // Personal and included scripts, compiled once (shared by the delivery threads).
  std::shared_ptr<SieveCache> cache = std::make_shared<SieveCache>();
};
using SieveScriptsPtr = std::shared_ptr<const SieveScripts>;

// Compiles delivery.sieve's global scripts and opens the users' table; nullptr when the
// section is empty. An error names the script's file, line and column, so a reload keeps the
// running config (and check-config reports it).
Result<SieveScriptsPtr> loadSieveScripts(const config::Config &cfg,
                                         const lookup::Warn &warn = nullptr);

struct Filing {
  std::string folder;  // "" for INBOX, else a Maildir++ folder name ("spam",
                       // "Lists.Work")
  std::string flags;   // Maildir info flags ("FS"), sorted; "" for none
};
struct SieveDecision {
  std::vector<Filing> filings;  // where copies go; empty (and nothing below): discarded
  // redirect targets in order, each once, at most options.run_limits.max_redirects
  std::vector<std::string> redirects;
  std::optional<std::string> reject;        // reject/ereject: the reason; no filing then
  std::optional<sieve::Vacation> vacation;  // the first vacation of the sequence
  std::vector<std::string> notes;           // for the log: errors, actions not applied
  // The users' table failed (TempFail): nothing decided, the recipient waits (4.3.0).
  std::optional<std::string> deferred;
};

SieveDecision decideFilings(const SieveScripts &scripts, const sieve::MessageView &message,
                            const sieve::Envelope &envelope);

// The Maildir++ name of a Sieve mailbox: "spam" -> "spam", "Lists/Work" or
// "Lists.Work" -> "Lists.Work", "INBOX" (any case) -> "" (the Maildir itself).
// nullopt for names a Maildir cannot hold safely: empty parts, "." or ".."
// parts, '/' at either end, control characters, octets outside ASCII (modified
// UTF-7 is not written), or longer than 255.
std::optional<std::string> maildirFolderName(std::string_view mailbox);

// RFC 5232 flags as Maildir info letters: \Draft D, \Flagged F, \Answered R,
// \Seen S, \Deleted T (any case), sorted; other flags have no letter and are
// left out.
std::string maildirFlags(const std::vector<std::string> &flags);

}  // namespace petrel::delivery
