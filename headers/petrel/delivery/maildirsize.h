// Maildir++ quota accounting: the `maildirsize` file at the root of a Maildir, kept as the
// Maildir++ spec and Dovecot's `quota = maildir` backend keep it, so Dovecot (IMAP
// GETQUOTAROOT, its own deliveries) and Petrel read and update one count.
//
// The file: a first line with the limits ("10485760S,1000C"; "0S" when unlimited), then lines
// "<bytes> <messages>" (deltas, possibly negative) whose sum is the usage. Writers append one
// line per delivery with one O_APPEND write; anyone may rebuild the file from the directories.
//
// It owns the format (pure functions, unit-tested) and the blocking file steps (thread pool
// only, never a loop). It does not decide whether a message may be delivered (quota.h does)
// and it takes no locks: like Dovecot it relies on O_APPEND and on a rebuild now and then.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "petrel/core/result.h"

namespace petrel::delivery {

// A mailbox's limits; 0 means unlimited (Maildir++ and Dovecot alike).
struct QuotaLimit {
  uint64_t bytes = 0;
  uint64_t messages = 0;
  bool unlimited() const { return bytes == 0 && messages == 0; }
  bool operator==(const QuotaLimit&) const = default;
};

// What a mailbox holds: the files of new/ and cur/ in INBOX and in every Maildir++ folder.
struct QuotaUsage {
  uint64_t bytes = 0;
  uint64_t messages = 0;
  bool operator==(const QuotaUsage&) const = default;
};

// Dovecot's semantics: full when a limit is reached (no new message may go in); a message
// fits when the usage after it stays within the limits.
bool quotaFull(const QuotaLimit& limit, const QuotaUsage& usage);
bool quotaFits(const QuotaLimit& limit, const QuotaUsage& usage, uint64_t bytes,
               uint64_t messages = 1);

// Rules of the Maildir++ spec and Dovecot's quota-maildir.c.
constexpr size_t MaildirsizeMaxBytes = 5120;      // a file this large is rebuilt
constexpr int64_t MaildirsizeStaleSeconds = 15 * 60;  // over quota and older: rebuilt

// The first line: "<bytes>S", ",<count>C" when a count is set, "0S" when unlimited (what
// Dovecot writes).
std::string formatMaildirsizeLimit(const QuotaLimit& limit);
// Parses a first line ("1000S", "1000S,10C", "10C"); nullopt when malformed.
std::optional<QuotaLimit> parseMaildirsizeLimit(std::string_view line);

// A table's value: "<bytes>" or "<bytes>,<messages>", decimal, 0 = unlimited (spaces around
// the parts allowed). Permanent error when malformed.
Result<QuotaLimit> parseQuotaValue(std::string_view value);

// A maildirsize file's contents as read.
struct MaildirsizeContents {
  QuotaLimit limit;       // the first line's
  QuotaUsage usage;       // the sum of the delta lines
  size_t delta_lines = 0;  // lines after the first
};
// Parses a whole file (at most MaildirsizeMaxBytes are ever read). nullopt when the file is
// broken and must be rebuilt: no first line, a malformed line, a NUL byte, a negative sum. A
// last line without its LF (a write in progress) is ignored, as Dovecot does.
std::optional<MaildirsizeContents> parseMaildirsize(std::string_view text);

// Whether the read file may be trusted for `limit` at `now` (Dovecot's rules): not when its
// limits differ from the configured ones, when it has no delta line, when it is
// MaildirsizeMaxBytes or larger, or when it says the mailbox is over quota and it has more
// than one delta line or was last changed more than MaildirsizeStaleSeconds ago.
bool maildirsizeTrusted(const MaildirsizeContents& contents, const QuotaLimit& limit,
                        size_t file_size, int64_t mtime, int64_t now);

// Counts the mailbox from its directories: every file not starting with '.' in new/ and cur/
// of `maildir` (absolute, ending in '/') and of each Maildir++ folder ".<name>/" in it; the
// size from ",S=<n>" in the name when present (ending at ':', ',' or the end), else stat(2).
// Missing directories count as empty. Blocking.
Result<QuotaUsage> countMaildir(const std::string& maildir);

// The mailbox's usage under `limit`: maildirsize read and trusted, or rebuilt by countMaildir
// and rewritten (tmp/ then rename, as the spec says) when missing, broken or untrusted.
// Blocking; `now` is unix seconds. Errors are temporary (the caller defers or answers 4xx).
Result<QuotaUsage> maildirUsage(const std::string& maildir, const QuotaLimit& limit, int64_t now);

// Appends "<bytes> <messages>\n" to an existing maildirsize with one O_APPEND write. A
// missing file is not created (the next maildirUsage() rebuilds it from the directories, which
// already hold the new messages). Blocking.
Status appendMaildirsize(const std::string& maildir, int64_t bytes, int64_t messages);

}  // namespace petrel::delivery
