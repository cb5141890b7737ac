// delivery.quota at RCPT; see headers/petrel/server/recipient_quota.h. Moved out of
// stage_check.cc (StageRun calls it after its routing step) when the SIZE= check came.
#include "petrel/server/recipient_quota.h"

#include <fmt/format.h>

#include <ctime>

#include "petrel/core/mail_address.h"
#include "petrel/log/mail_log.h"

namespace petrel::server {

smtp::Verdict checkRecipientQuota(const Snapshot& snap, std::string_view address,
                                  uint64_t declared_size, smtp::Verdict routed,
                                  std::vector<std::string>* trace) {
  auto note = [trace](std::string line) {
    if (trace != nullptr) trace->push_back(std::move(line));
  };
  if (snap.quota == nullptr || !routed.accepted() || routed.expand.size() != 1) return routed;
  const std::string& final_address = routed.expand.front();
  MailAddress final_parsed(final_address);
  if (!final_parsed.hasDomain() || !snap.router->isLocalDomain(final_parsed.domain())) {
    return routed;
  }
  auto maildir = snap.router->maildirFor(final_address);
  if (!maildir) return routed;  // the router answered for it; delivery reports the problem
  auto over = snap.quota->wouldExceed(final_address, *maildir, int64_t(::time(nullptr)),
                                      declared_size);
  if (!over) {
    log::mail::warning(log::Program::Smtpd, fmt::format("quota lookup for {} failed: {}",
                                                        final_address, over.error().message()));
    note(fmt::format("delivery.quota: lookup failed: {}", over.error().message()));
    return smtp::Verdict::refuse(
        smtp::Reply(451, "4.3.0", fmt::format("<{}>: Temporary lookup failure", address)));
  }
  if (declared_size == 0) {
    note(fmt::format("delivery.quota: mailbox {} {}", *maildir, *over ? "is full" : "has room"));
  } else {
    note(fmt::format("delivery.quota: mailbox {} {} for SIZE={}", *maildir,
                     *over ? "has no room" : "has room", declared_size));
  }
  if (!*over) return routed;
  // RFC 3463 4.2.2 / 5.2.2: mailbox full (Postfix + Dovecot's quota-status say the same for
  // a message that would not fit).
  bool bounce = snap.quota->bounces();
  return smtp::Verdict::refuse(smtp::Reply(bounce ? 552 : 452, bounce ? "5.2.2" : "4.2.2",
                                           fmt::format("<{}>: Mailbox full", address)));
}

}  // namespace petrel::server
