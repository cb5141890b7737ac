// `queue:` and `delivery:`: retry timing and how mailboxes are delivered (read by
// source/config/{queue,delivery}.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "petrel/config/endpoints.h"
#include "petrel/config/table_spec.h"

namespace petrel::config {

struct Queue {
  uint64_t max_lifetime = 5 * 86400;  // seconds; Default: 5d
  uint64_t min_backoff = 300;         // seconds; Default: 5m
  uint64_t max_backoff = 4 * 3600;    // seconds; Default: 4h
  uint32_t delivery_concurrency = 0;  // parallel delivery jobs; Default: 0 = 4 x cores
  uint64_t delay_warning = 0;         // seconds; one "delayed" DSN after this; Default: 0 = off
};

struct Delivery {
  bool maildir_fsync = true;  // delivery.maildir.fsync; Default: true
  // delivery.transport (Postfix's virtual_transport): how mail for mailboxes of local domains
  // is delivered when no relay.transport entry says otherwise, e.g. {"lmtp",
  // "unix:/run/dovecot/lmtp"}. Default: {"virtual", ""}, the Maildir agent.
  TransportRef transport{"virtual", ""};
  // delivery.sieve: Sieve scripts run when the Maildir agent delivers (docs/sieve.md): a global
  // script before the user's own and one after it (Dovecot's sieve_before / sieve_after), and
  // the users' scripts, as <user_scripts>/<domain>/<local part>.sieve or from a table (the
  // recipient's address -> the script's text). Default: none.
  struct Sieve {
    std::string global_before;  // absolute paths; empty: none
    std::string global_after;
    std::string user_scripts;               // a directory; empty: none (or user_table)
    std::optional<TableSpec> user_table;    // user_scripts written as a table reference
    std::string global_dir;  // delivery.sieve.global_dir: where include :global looks
    std::string origin;  // "file:line:column" of the section, for errors found later
    bool enabled() const {
      return !global_before.empty() || !global_after.empty() || !user_scripts.empty() ||
             user_table.has_value();
    }
  } sieve;
  // delivery.vacation: auto-replies from a table (PostfixAdmin's `vacation`, docs/vacation.md):
  // the table answers for a recipient with the subject on the first line and the body after
  // it; at most one reply per sender and recipient per once_per. Default: no table.
  struct Vacation {
    std::optional<TableSpec> table;
    uint64_t once_per = 7 * 86400;  // Default: 7d
  } vacation;
  // delivery.quota: per-mailbox quotas kept in Maildir++ `maildirsize` files as Dovecot's
  // `quota = maildir` backend keeps them (docs/quota.md). Default: off (no accounting).
  struct Quota {
    bool enabled = false;  // the key is present
    // address -> "bytes" or "bytes,messages" (0 = unlimited), e.g. PostfixAdmin's
    // mailbox.quota. Default: none (every mailbox gets `default`).
    std::optional<TableSpec> table;
    uint64_t default_bytes = 0;  // delivery.quota.default; Default: 0 (unlimited)
    // delivery.quota.over_quota: defer (452 4.2.2 at RCPT, deferral at delivery, bounced at
    // queue.max_lifetime) or bounce (552 5.2.2, bounced at delivery: Dovecot's
    // quota_full_tempfail = no). Default: defer.
    bool bounce = false;
  } quota;
};

}  // namespace petrel::config
