// MaildirAgent: deliveries -> one Maildir batch; see delivery/maildir_agent.h.
#include "petrel/delivery/maildir_agent.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>

#include "petrel/content/header_section.h"
#include "petrel/delivery/generated_mail.h"
#include "petrel/delivery/maildir.h"
#include "petrel/log/mail_log.h"

namespace petrel::delivery {

namespace {

// Wire-format lines as a Maildir file stores them (header_prefix is written as is).
std::string lfLines(std::string_view wire) {
  std::string out;
  out.reserve(wire.size());
  for (size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] == '\r' && i + 1 < wire.size() && wire[i + 1] == '\n') continue;
    out += wire[i];
  }
  return out;
}

// What Sieve tests see of a large message: its first octets (header and the start of the
// body); a body test beyond them does not match.
constexpr size_t MaxSieveView = 1 << 20;
// Without scripts only the vacation table reads the message: its header section is enough.
constexpr size_t MaxHeaderView = 256 * 1024;

// The message as it will be stored, for the scripts: the queued top fields, then the header
// as canonical.headers rewrote it, then the body (from memory or the spool file's start).
std::string sieveText(const AgentMessage& am, size_t max) {
  const queue::StoredMessage& m = *am.stored;
  std::string text = m.header_prefix;
  std::string_view rest = m.body;
  std::string from_file;
  if (!m.spool_path.empty()) {
    if (int fd = ::open(m.spool_path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
      from_file.resize(max);
      ssize_t n = ::pread(fd, from_file.data(), from_file.size(), 0);
      from_file.resize(n > 0 ? size_t(n) : 0);
      ::close(fd);
    }
    rest = from_file;
  }
  if (am.header != nullptr && am.header->changed > 0) {
    text += am.header->header;
    rest = rest.substr(std::min(rest.size(), am.header->original_size));
  }
  text.append(rest.substr(0, max));
  return text;
}

// What the scripts decided for `address` (one INBOX copy without scripts), with the loop check
// for redirects.
SieveDecision decisionFor(const SieveScripts* scripts, const queue::StoredMessage& m,
                          const sieve::MessageView& view, const std::string& sender,
                          const std::string& address) {
  SieveDecision decision;
  if (scripts == nullptr) {
    decision.filings.push_back(Filing{});
    return decision;
  }
  decision = decideFilings(*scripts, view, sieve::Envelope{sender, address});
  if (!decision.redirects.empty() && alreadyDeliveredTo(view.fields, address)) {
    // It came back through this mailbox: sending it on again would go round for ever.
    decision.notes.push_back(
        fmt::format("mail forwarding loop for {}: not redirected; kept", address));
    decision.redirects.clear();
    if (decision.filings.empty()) decision.filings.push_back(Filing{});
  }
  for (const std::string& note : decision.notes) {
    log::mail::warning(log::Program::Virtual,
                       fmt::format("{}: to=<{}>: sieve: {}", m.id, address, note));
  }
  return decision;
}

// delivery.quota for one mailbox (its INBOX Maildir) during a delivery job.
struct MailboxAccount {
  MaildirQuotaAccount account;
  bool limited = false;          // checked (not unlimited)
  std::optional<Error> failure;  // its usage could not be read
  int64_t added_bytes = 0;       // delivered in this job, for maildirsize
  int64_t added_messages = 0;
};

// The report of a recipient whose quota decides before anything is written: a failed lookup
// or usage read (deferred); nullopt: deliver, with `account` set when it is counted.
std::optional<RecipientReport> checkQuota(const MailboxQuota& quota, const std::string& address,
                                          const std::string& maildir,
                                          std::map<std::string, MailboxAccount>& accounts,
                                          MailboxAccount*& account) {
  account = nullptr;
  auto limit = quota.limitFor(address);
  auto failed = [](const Error& e) {
    RecipientReport r;
    r.status = RecipientReport::Status::Deferred;
    r.dsn = "4.3.0";
    r.text = e.message();
    return r;
  };
  if (!limit) return failed(limit.error());
  auto [it, added] = accounts.try_emplace(maildir);
  MailboxAccount& a = it->second;
  if (added && !limit->unlimited()) {
    a.limited = true;
    a.account.limit = *limit;
    auto usage = maildirUsage(maildir, *limit, int64_t(::time(nullptr)));
    if (usage) {
      a.account.usage = *usage;
    } else {
      a.failure = usage.error();
    }
  }
  if (a.failure) return failed(*a.failure);
  account = &a;
  return std::nullopt;
}

// Control characters out of a script's text before it reaches a log line or a DSN.
std::string printable(std::string_view s) {
  std::string out(s.substr(0, 500));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

}  // namespace

MaildirAgent::MaildirAgent(bool fsync, std::string hostname, SieveScriptsPtr sieve,
                           AutoReplyPtr replies, MailboxQuotaPtr quota)
    : fsync_(fsync),
      hostname_(std::move(hostname)),
      sieve_(std::move(sieve)),
      replies_(std::move(replies)),
      quota_(std::move(quota)) {}

void MaildirAgent::deliver(const std::vector<Delivery*>& deliveries, Done done) {
  std::vector<MaildirItem> items;
  // Per recipient, in order: its items are [first, first + count) of `items`, and what else
  // its scripts decided.
  struct Span {
    size_t first = 0, count = 0;
    SieveDecision decision;
  };
  std::vector<Span> spans;
  // Per delivery: the message as the scripts saw it, for the mail made after the writes.
  std::vector<std::unique_ptr<ParsedMessage>> parsed;
  // delivery.quota: the mailboxes' accounts, each item's (or null), and the recipients
  // already decided by it (one entry per recipient, in order).
  std::map<std::string, MailboxAccount> accounts;
  std::vector<MailboxAccount*> item_accounts;
  std::vector<std::optional<RecipientReport>> decided;
  for (const Delivery* d : deliveries) {
    const AgentMessage& am = *d->message;
    const queue::StoredMessage& m = *am.stored;
    // The message as the scripts see it, once per delivery.
    ParsedMessage& pm = *parsed.emplace_back(std::make_unique<ParsedMessage>());
    if (sieve_ || (replies_ && replies_->table)) {
      pm.text = sieveText(am, sieve_ ? MaxSieveView : MaxHeaderView);
      pm.header_octets = pm.section.feed(pm.text);
      if (!pm.section.complete()) pm.section.end();
    }
    sieve::MessageView view{pm.section.fields(),
                            std::string_view(pm.text).substr(pm.header_octets), m.size};
    for (size_t index : d->recipients) {
      const std::string& address = m.recipients[index].address;
      MailboxAccount* account = nullptr;
      decided.push_back(quota_ ? checkQuota(*quota_, address, d->target.maildir, accounts, account)
                               : std::nullopt);
      Span& span = spans.emplace_back();
      if (decided.back()) {
        span.first = items.size();
        continue;
      }
      span.decision = decisionFor(sieve_.get(), m, view, am.sender, address);
      span.first = items.size();
      if (span.decision.deferred) {  // the users' script table failed: try again later
        decided.back() = RecipientReport{};
        decided.back()->status = RecipientReport::Status::Deferred;
        decided.back()->dsn = "4.3.0";
        decided.back()->text = fmt::format("sieve: {}", printable(*span.decision.deferred));
        continue;
      }
      span.count = span.decision.filings.size();
      for (const Filing& filing : span.decision.filings) {
        MaildirItem item;
        item.maildir = d->target.maildir;
        item.flags = filing.flags;
        // One copy per folder (decideFilings files a folder once), so the recipient's key
        // and the folder name the copy; only a recipient that may have been stored before
        // is looked for (maildir.h).
        item.key = maildirDeliveryKey(m.id, m.recipients[index].idx);
        item.find_existing = am.recheck || m.recipients[index].attempts > 0;
        if (!filing.folder.empty()) {
          auto folder = ensureMaildirFolder(d->target.maildir, filing.folder, fsync_);
          if (folder) {
            item.maildir = *folder;
          } else {
            // The folder cannot be made: INBOX, never nowhere.
            log::mail::warning(log::Program::Virtual,
                               fmt::format("{}: to=<{}>: sieve: folder {}: {}; delivered to INBOX",
                                           m.id, address, filing.folder, folder.error().message()));
          }
        }
        item.header_prefix =
            fmt::format("Return-Path: <{}>\nDelivered-To: {}\n", am.sender, address);
        item.header_prefix += lfLines(m.header_prefix);
        if (am.header != nullptr && am.header->changed > 0) {
          item.header_prefix += lfLines(am.header->header);
          item.body_offset = am.header->original_size;
        }
        if (m.spool_path.empty()) {
          item.body = m.body;
        } else {
          item.body_path = m.spool_path;
        }
        // Sieve folders count in the mailbox's quota as INBOX does.
        if (account != nullptr && account->limited) item.quota = &account->account;
        items.push_back(std::move(item));
        item_accounts.push_back(account);
      }
    }
  }
  deliverMaildirBatch(items, fsync_, hostname_);
  // maildirsize: one appended line per mailbox for what this job stored in it (also for an
  // unlimited mailbox whose file Dovecot keeps).
  for (size_t j = 0; j < items.size(); ++j) {
    if (item_accounts[j] == nullptr || items[j].filename.empty() || items[j].existing) continue;
    item_accounts[j]->added_bytes += int64_t(items[j].size);
    item_accounts[j]->added_messages += 1;
  }
  for (auto& [maildir, a] : accounts) {
    if (Status s = appendMaildirsize(maildir, a.added_bytes, a.added_messages); !s) {
      // The mail is stored; the count is rebuilt from the directories when found wrong.
      log::mail::warning(log::Program::Virtual, fmt::format("quota: {}", s.error().message()));
    }
  }
  size_t i = 0;
  size_t di = 0;
  for (Delivery* d : deliveries) {
    d->reports.clear();
    const ParsedMessage& pm = *parsed[di++];
    for (size_t k = 0; k < d->recipients.size(); ++k, ++i) {
      if (decided[i]) {
        d->reports.push_back(std::move(*decided[i]));
        continue;
      }
      Span& span = spans[i];
      RecipientReport r;
      r.status = RecipientReport::Status::Delivered;
      r.dsn = "2.0.0";
      r.text = span.count > 0 ? "delivered to maildir" : "discarded by sieve";
      for (size_t j = span.first; j < span.first + span.count; ++j) {
        if (!items[j].result) {
          // A copy that failed: the recipient is tried again (the copies that worked may then
          // be stored twice, as with Dovecot's LDA; never none).
          r.status = RecipientReport::Status::Deferred;
          r.dsn = "4.3.0";
          r.text = items[j].result.error().message();
          if (items[j].over_quota) {
            // Dovecot's quota_full_tempfail: a full mailbox waits (4.2.2), bounced at
            // queue.max_lifetime, unless over_quota: bounce says now (5.2.2).
            bool bounce = quota_ && quota_->bounces();
            r.status = bounce ? RecipientReport::Status::Bounced : RecipientReport::Status::Deferred;
            r.dsn = bounce ? "5.2.2" : "4.2.2";
          }
          break;
        }
      }
      bool found_again = span.count > 0;
      for (size_t j = span.first; j < span.first + span.count; ++j) {
        found_again = found_again && items[j].existing;
      }
      if (r.status == RecipientReport::Status::Delivered && found_again) {
        r.text = "delivered to maildir (stored by an earlier attempt)";
      }
      if (r.status == RecipientReport::Status::Delivered) {
        generate(*d, d->recipients[k], pm, span.decision, r);
      }
      d->reports.push_back(std::move(r));
    }
  }
  done();
}

// After the writes, for a recipient whose copies are stored: the reject (the recipient is
// bounced instead), the redirect copies and the vacation reply.
void MaildirAgent::generate(const Delivery& d, size_t index, const ParsedMessage& pm,
                            const SieveDecision& decision, RecipientReport& r) const {
  const AgentMessage& am = *d.message;
  const queue::StoredMessage& m = *am.stored;
  const std::string& address = m.recipients[index].address;
  if (decision.reject) {
    // RFC 5429 2.1: the message was accepted already, so the refusal is a DSN to the sender
    // (the queue composes it; from <> nothing is sent, and the queue logs that).
    r.status = RecipientReport::Status::Bounced;
    r.dsn = "5.7.1";
    r.text = fmt::format("rejected by the recipient's sieve script: {}",
                         printable(*decision.reject));
    return;
  }
  if (!decision.redirects.empty()) {
    auto content = deliveredContent(am);
    if (!content) {
      r.status = RecipientReport::Status::Deferred;
      r.dsn = "4.3.0";
      r.text = fmt::format("cannot read the queue file {} to redirect it", m.spool_path);
      return;
    }
    for (const std::string& target : decision.redirects) {
      r.generated.push_back(redirectCopy(*content, am.sender, address, target));
      r.generated.back().smtputf8 = m.smtputf8;
    }
    if (decision.filings.empty()) {
      std::string targets;
      for (const std::string& t : decision.redirects) targets += (targets.empty() ? "" : ", ") + t;
      r.text = "redirected by sieve to " + printable(targets);
    }
  }
  bool stored = !decision.filings.empty() || !decision.redirects.empty();
  const sieve::Vacation* sieve_vacation = decision.vacation ? &*decision.vacation : nullptr;
  // The table-driven reply answers mail the user gets; a discard gets none.
  if (sieve_vacation == nullptr && (!stored || !replies_ || !replies_->table)) return;
  AutoReplyOutcome reply = autoReply(AutoReplyQuery{replies_.get(), sieve_vacation,
                                                    pm.section.fields(), am.sender, address,
                                                    int64_t(time(nullptr))});
  if (!reply.note.empty()) {
    log::mail::info(log::Program::Virtual,
                    fmt::format("{}: to=<{}>: vacation: {}", m.id, address, reply.note));
  }
  if (reply.reply) r.generated.push_back(std::move(*reply.reply));
}

}  // namespace petrel::delivery
