// A maildrop record made into a queued message; see headers/petrel/server/pickup.h.
#include <fmt/format.h>

#include <cctype>
#include <ctime>

#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"
#include "petrel/server/generated_mail.h"
#include "petrel/server/pickup.h"

namespace petrel::server {

namespace {

std::string upper(std::string s) {
  for (char& c : s) c = char(std::toupper((unsigned char)c));
  return s;
}

}  // namespace

std::string pickupReceived(const std::string& hostname, uint32_t uid, const std::string& id,
                           int64_t unix_time) {
  // Postfix pickup(8) through cleanup(8): "Received: by host (Postfix, from userid 1000)".
  return fmt::format("Received: by {} (Petrel, from userid {})\r\n\tid {}; {}\r\n", hostname,
                     uid, id, rfc5322Date(unix_time));
}

Result<queue::StoredMessage> composeLocalSubmission(queue::MaildropRecord&& record, uint32_t uid,
                                                    const Snapshot& snap) {
  const config::Config& cfg = *snap.config;
  if (record.content.size() > cfg.limits.message_size) {
    return Error::permanent(fmt::format("message too big ({} octets, limits.message_size {})",
                                        record.content.size(), cfg.limits.message_size));
  }
  queue::StoredMessage m;
  MessageInjector::stamp(m);
  m.client = "local";
  m.helo = cfg.hostname;
  m.protocol = "LOCAL";
  m.sender = std::move(record.sender);
  m.dsn_envid = std::move(record.envid);
  m.dsn_ret = upper(record.ret);
  auto eightBit = [](std::string_view s) {
    for (char c : s) {
      if ((unsigned char)c >= 0x80) return true;
    }
    return false;
  };
  m.smtputf8 = eightBit(m.sender);
  for (std::string& address : record.recipients) {
    m.smtputf8 = m.smtputf8 || eightBit(address);
    // canonical.recipient as at RCPT; then aliases and mailboxes as for a bounce: anything
    // the router does not accept is queued as written and fails (or goes out) at delivery.
    Result<std::string> canon = snap.router->canonicalRecipient(address);
    if (!canon) return Error::temporary(canon.error().message());
    auto e = snap.router->expand(*canon);
    if (e.outcome == delivery::Expansion::Outcome::TemporaryFailure) {
      return Error::temporary(e.reason.empty() ? "a table lookup failed" : e.reason);
    }
    std::vector<std::string> to = e.outcome == delivery::Expansion::Outcome::Accepted
                                      ? e.recipients
                                      : std::vector<std::string>{*canon};
    for (std::string& final_address : to) {
      bool duplicate = false;
      for (const auto& r : m.recipients) duplicate = duplicate || r.address == final_address;
      if (duplicate) continue;  // as cleanup(8) removes them
      queue::StoredRecipient r;
      r.idx = int64_t(m.recipients.size());
      r.address = std::move(final_address);
      r.orig_address = address;
      r.dsn_notify = upper(record.notify);
      m.recipients.push_back(std::move(r));
    }
  }
  std::string content = pickupReceived(cfg.hostname, uid, m.id, m.arrival_us / 1000000) +
                        std::move(record.content);
  m.body = snap.dkim_signing && !snap.dkim_signing->empty()
               ? dkimSigned(std::move(content), snap, m.id)
               : std::move(content);
  m.size = m.body.size();
  return m;
}

}  // namespace petrel::server
