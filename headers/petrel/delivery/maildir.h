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
//
// Exactly once across a crash: every file name carries its delivery key (the queue id and the
// recipient's index, maildirDeliveryKey()), so a delivery the journal does not know finished
// (the process died between the rename and the journal commit, or an earlier attempt stored
// some copies and failed on others) is found again in new/ or cur/, whatever flags an IMAP
// server added, and is not written twice. The lookup reads the directories and so runs only
// for items that ask for it (find_existing); the normal path only formats a longer name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
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
  // maildirDeliveryKey() of this copy's recipient, carried in the file name; empty: none (a
  // name as before, never found again).
  std::string key;
  // Look for a file with `key` (and this host) in new/ and cur/ of `maildir` first; when one
  // is there and complete (its size is its name's S=), the item is done without writing: its
  // directory is fsynced as a new file's would be and `existing` is set.
  bool find_existing = false;
  // The mailbox's account, or null (not counted): a file that does not fit (quotaFits with
  // its size as written) is removed from tmp/ instead of renamed, and over_quota is set.
  MaildirQuotaAccount* quota = nullptr;
  bool over_quota = false;    // out
  Status result = Unit{};     // out: per item outcome (temporary error on I/O failure)
  std::string filename;       // out: the final path in new/ (empty on failure)
  uint64_t size = 0;          // out: the file's bytes (when delivered)
  bool existing = false;      // out: found by find_existing, nothing written (not counted in
                              // `quota`: it was when it was stored)
};

// The delivery key of recipient `recipient_index` (StoredRecipient::idx) of queued message
// `queue_id`: "K<queue id>R<index>". Queue ids are unique per queue (hexadecimal, growing);
// the host part of the name tells two servers sharing a Maildir apart.
std::string maildirDeliveryKey(std::string_view queue_id, int64_t recipient_index);

// The parts of a Maildir file name (without directory) as deliverMaildirBatch() writes them:
// "<sec>.M<usec>P<pid>Q<n>[<key>].<host>,S=<size>[:2,<flags>]". `key` is empty for names
// without one (written before keys, or by another program); nullopt: not such a name.
struct MaildirName {
  std::string key;
  std::string host;     // as encoded in the name
  uint64_t size = 0;    // S=
  bool has_size = false;
};
std::optional<MaildirName> parseMaildirName(std::string_view name);

// Delivers every item: creates tmp/ new/ cur/ (mode 0700, with parents) when missing, writes
// header_prefix + body converting CRLF to LF (a lone CR is kept), fsync(file) if `fsync`,
// renames tmp -> new, then fsyncs each distinct new/ directory once (one fsync covers several
// renames). Unique names per the Maildir spec:
// "<sec>.M<usec>P<pid>Q<counter><key>.<host>,S=<size>" where size is the byte size of the file
// as written. On any failure the tmp file is removed and that item's result is a temporary
// Error saying what failed (with strerror text, e.g. for ENOSPC / EDQUOT / EIO, or "Mailbox
// full" for an item over its quota). Items are independent: one failing does not stop the
// others. Items with find_existing are looked up first: one read of new/ and cur/ per Maildir
// per batch, however many items ask.
void deliverMaildirBatch(std::vector<MaildirItem>& items, bool fsync, const std::string& hostname);

// A Maildir++ folder of the Maildir `inbox` (ending in '/') as Dovecot and Courier lay it out:
// `<inbox>.<folder>/` with tmp/ new/ cur/ and an empty `maildirfolder` file, and the folder's
// name in `<inbox>subscriptions` so that IMAP clients show it. `folder` is the Maildir++ name
// ("spam", "lists.work"); the caller has checked it. Returns the folder's Maildir path.
Result<std::string> ensureMaildirFolder(const std::string& inbox, const std::string& folder,
                                        bool fsync);

}  // namespace petrel::delivery
