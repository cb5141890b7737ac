// Maildir delivery: writes messages into Maildir directories (tmp/ -> new/), durably.
//
// Blocking code for a worker thread (dispatcher.offload), never for a reactor loop. It owns
// the on-disk steps only: creating the Maildir, the unique file name, the CRLF -> LF copy,
// fsync of files and directories. It does not decide where mail goes (Router does), build the
// header prefix (the caller does) or retry: every failure is reported per item as a temporary
// Error and the queue decides when to try again.
//
// Durability: when fsync is on, a successful item's file, its new/ directory entry and any
// directory created on the way are on disk before deliverMaildirBatch() returns.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"
#include "petrel/delivery/maildirsize.h"

namespace petrel::delivery {

// Bodies in files are copied in chunks of this many bytes (memory per delivery is bounded).
constexpr size_t MaildirChunkSize = 64 * 1024;

// delivery.quota: one mailbox's limits and usage during a batch, shared by the items for it
// (INBOX and its Maildir++ folders count together). The batch adds each file it keeps.
struct MaildirQuotaAccount {
  QuotaLimit limit;
  QuotaUsage usage;
};

struct MaildirItem {
  std::string maildir;        // absolute dir ending in '/'
  std::string header_prefix;  // e.g. "Return-Path: <a@b>\nDelivered-To: alice@example.test\n",
                              // already LF; written as is
  std::string_view body;      // message in wire format (CRLF line ends, already dot-unstuffed),
                              // used if body_path is empty; must outlive the call
  std::string body_path;      // or a file holding the wire-format message (large messages)
  uint64_t body_offset = 0;   // leading bytes of the message not written (a header section
                              // that was rewritten into header_prefix)
  // Maildir info flags (RFC 5232 imap4flags through Sieve: "FS"), sorted; non-empty: the file
  // goes into cur/ as "<name>:2,<flags>", where IMAP servers read flags, instead of new/.
  std::string flags;
  // The mailbox's account, or null (not counted): a file that does not fit (quotaFits with
  // its size as written) is removed from tmp/ instead of renamed, and over_quota is set.
  MaildirQuotaAccount* quota = nullptr;
  bool over_quota = false;    // out
  Status result = Unit{};     // out: per item outcome (temporary error on I/O failure)
  std::string filename;       // out: the final path in new/ (empty on failure)
  uint64_t size = 0;          // out: the file's bytes (when delivered)
};

// Delivers every item: creates tmp/ new/ cur/ (mode 0700, with parents) when missing, writes
// header_prefix + body converting CRLF to LF (a lone CR is kept), fsync(file) if `fsync`,
// renames tmp -> new, then fsyncs each distinct new/ directory once (one fsync covers several
// renames). Unique names per the Maildir spec: "<sec>.M<usec>P<pid>Q<counter>.<host>,S=<size>"
// where size is the byte size of the file as written. On any failure the tmp file is removed
// and that item's result is a temporary Error saying what failed (with strerror text, e.g. for
// ENOSPC / EDQUOT / EIO, or "Mailbox full" for an item over its quota). Items are
// independent: one failing does not stop the others.
void deliverMaildirBatch(std::vector<MaildirItem>& items, bool fsync, const std::string& hostname);

// A Maildir++ folder of the Maildir `inbox` (ending in '/') as Dovecot and Courier lay it out:
// `<inbox>.<folder>/` with tmp/ new/ cur/ and an empty `maildirfolder` file, and the folder's
// name in `<inbox>subscriptions` so that IMAP clients show it. `folder` is the Maildir++ name
// ("spam", "lists.work"); the caller has checked it. Returns the folder's Maildir path.
Result<std::string> ensureMaildirFolder(const std::string& inbox, const std::string& folder,
                                        bool fsync);

}  // namespace petrel::delivery
