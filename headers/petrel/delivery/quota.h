// MailboxQuota: delivery.quota (docs/quota.md), the per-mailbox limits and the decisions made
// with them, at RCPT (is the mailbox full?) and at delivery (does this message fit?).
//
// It owns the quota table (address -> "bytes" or "bytes,messages", 0 = unlimited, e.g.
// PostfixAdmin's mailbox.quota) and the policy (default limit, defer or bounce). The usage
// comes from the Maildir's `maildirsize` (maildirsize.h). Const calls are thread-safe; the
// lookups and file reads block, so callers on a loop use the thread pool.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "petrel/config/config.h"
#include "petrel/core/result.h"
#include "petrel/delivery/maildirsize.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::delivery {

class MailboxQuota {
 public:
  // delivery.quota and recipient_delimiter of `cfg`.
  MailboxQuota(const config::Config& cfg, lookup::Warn warn);

  // The limits of the final address `address` (lower-cased for the lookup): its table entry
  // (the address, then without its recipient extension, as the mailbox table is searched),
  // else delivery.quota.default. A failing table or a malformed entry is a temporary error
  // (mail waits for the admin).
  Result<QuotaLimit> limitFor(std::string_view address) const;

  // Whether the mailbox at `maildir` (absolute, ending in '/') is full for `address`: the
  // limit, then its usage (maildirUsage). Blocking. Errors are temporary.
  Result<bool> full(std::string_view address, const std::string& maildir, int64_t now) const;
  // Whether a message of `bytes` more (MAIL FROM SIZE=) and one more message would go over a
  // limit of `address` at `maildir` (quotaFits); with `bytes` 0 (no SIZE=), full(). Blocking.
  Result<bool> wouldExceed(std::string_view address, const std::string& maildir, int64_t now,
                           uint64_t bytes) const;

  // delivery.quota.over_quota: bounce (552 5.2.2, bounced at delivery) or defer (452 4.2.2).
  bool bounces() const { return bounce_; }
  // Whether limitFor() may wait on a server (sql, ldap); the file reads always block.
  bool blocking() const { return table_ && table_->blocking(); }
  void refreshTables() const;

 private:
  lookup::TablePtr table_;  // or null
  std::string delimiters_;
  uint64_t default_bytes_ = 0;
  bool bounce_ = false;
};

using MailboxQuotaPtr = std::shared_ptr<const MailboxQuota>;

// The quota of `cfg` (delivery.quota), or null when it is off.
MailboxQuotaPtr makeMailboxQuota(const config::Config& cfg, lookup::Warn warn);

}  // namespace petrel::delivery
