// The recipient check of RCPT TO: the listener's restriction list, then the router (aliases,
// mailboxes, domains). Pure over an immutable Snapshot, so it runs on a reactor loop or, when a
// table may block (Snapshot::lookupsBlock), on the thread pool; `petrel route` calls it too.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/server/runtime.h"
#include "petrel/smtp/server_session.h"

namespace petrel::server {

// What the check needs from the session.
struct RecipientQuery {
  std::string address;    // RCPT TO, without angle brackets
  std::string client_ip;
  std::string helo;
  std::string sasl_user;  // empty when not authenticated
  std::string sender;     // MAIL FROM, "" for <>
};

// `trace`, when given, receives each step in words: domain class, the restriction that
// decided (with the config location of its set), alias and mailbox lookups.
smtp::RecipientVerdict checkRecipient(const Snapshot& snap, const config::Listener& listener,
                                      const RecipientQuery& q,
                                      std::vector<std::string>* trace = nullptr);

// Who may use `sender` as envelope sender: auth.sender_login when configured, else the
// address itself (without a recipient-delimiter extension) when its domain is local.
std::vector<std::string> senderOwners(const Snapshot& snap, std::string_view sender);

// The part of a Snapshot that routing needs: config, router, sender-login table, restriction
// lists (no TLS context, no authenticator). The server adds those; `petrel route` uses this.
Result<Snapshot> routingSnapshot(const config::Config& cfg, const lookup::Warn& warn);

}  // namespace petrel::server
