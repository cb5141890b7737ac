// MaildirAgent: deliveries -> one Maildir batch; see delivery/maildir_agent.h.
#include "petrel/delivery/maildir_agent.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "petrel/content/header_section.h"
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

// The message as it will be stored, for the scripts: the queued top fields, then the header
// as canonical.headers rewrote it, then the body (from memory or the spool file's start).
std::string sieveText(const AgentMessage& am) {
  const queue::StoredMessage& m = *am.stored;
  std::string text = m.header_prefix;
  std::string_view rest = m.body;
  std::string from_file;
  if (!m.spool_path.empty()) {
    if (int fd = ::open(m.spool_path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
      from_file.resize(MaxSieveView);
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
  text.append(rest.substr(0, MaxSieveView));
  return text;
}

// Where Sieve files the message for `address` (one INBOX copy without scripts).
std::vector<Filing> filingsFor(const SieveScripts* scripts, const queue::StoredMessage& m,
                               const sieve::MessageView& view, const std::string& sender,
                               const std::string& address) {
  if (scripts == nullptr) return {Filing{}};
  SieveDecision decision = decideFilings(*scripts, view, sieve::Envelope{sender, address});
  for (const std::string& note : decision.notes) {
    log::mail::warning(log::Program::Virtual,
                       fmt::format("{}: to=<{}>: sieve: {}", m.id, address, note));
  }
  return std::move(decision.filings);
}

}  // namespace

MaildirAgent::MaildirAgent(bool fsync, std::string hostname, SieveScriptsPtr sieve)
    : fsync_(fsync), hostname_(std::move(hostname)), sieve_(std::move(sieve)) {}

void MaildirAgent::deliver(const std::vector<Delivery*>& deliveries, Done done) {
  std::vector<MaildirItem> items;
  // Per recipient, in order: its items are [first, first + count) of `items`.
  std::vector<std::pair<size_t, size_t>> spans;
  for (const Delivery* d : deliveries) {
    const AgentMessage& am = *d->message;
    const queue::StoredMessage& m = *am.stored;
    // The message as the scripts see it, once per delivery.
    std::string text;
    content::HeaderSection section(256 * 1024);
    size_t header_octets = 0;
    if (sieve_) {
      text = sieveText(am);
      header_octets = section.feed(text);
      if (!section.complete()) section.end();
    }
    sieve::MessageView view{section.fields(), std::string_view(text).substr(header_octets),
                            m.size};
    for (size_t index : d->recipients) {
      const std::string& address = m.recipients[index].address;
      std::vector<Filing> filings = filingsFor(sieve_.get(), m, view, am.sender, address);
      spans.emplace_back(items.size(), filings.size());
      for (const Filing& filing : filings) {
        MaildirItem item;
        item.maildir = d->target.maildir;
        item.flags = filing.flags;
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
        items.push_back(std::move(item));
      }
    }
  }
  deliverMaildirBatch(items, fsync_, hostname_);
  size_t i = 0;
  for (Delivery* d : deliveries) {
    d->reports.clear();
    for (size_t k = 0; k < d->recipients.size(); ++k, ++i) {
      auto [first, count] = spans[i];
      RecipientReport r;
      r.status = RecipientReport::Status::Delivered;
      r.dsn = "2.0.0";
      r.text = count == 0 ? "discarded by sieve" : "delivered to maildir";
      for (size_t j = first; j < first + count; ++j) {
        if (!items[j].result) {
          // A copy that failed: the recipient is tried again (the copies that worked may then
          // be stored twice, as with Dovecot's LDA; never none).
          r.status = RecipientReport::Status::Deferred;
          r.dsn = "4.3.0";
          r.text = items[j].result.error().message();
          break;
        }
      }
      d->reports.push_back(std::move(r));
    }
  }
  done();
}

}  // namespace petrel::delivery
