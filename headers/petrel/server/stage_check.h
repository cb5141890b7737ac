// The verdicts of the SMTP stages: the listener's restriction lists (policy/), and at RCPT the
// router (aliases, mailboxes, domains). Over an immutable Snapshot; asynchronous, because a
// check may wait for a table on the thread pool or for DNS on the caller's loop. The session
// driver calls checkStage for every AskVerdict; `petrel route` calls checkRecipient, the same
// code with every lookup run in place.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/policy/check.h"
#include "petrel/server/runtime.h"
#include "petrel/smtp/server_session.h"

namespace petrel::dns {
class Resolver;
}
namespace petrel::policy {
class PolicyServiceClient;
}

namespace petrel::server {

// What the check needs from the session.
struct RecipientQuery {
  std::string address;    // RCPT TO, without angle brackets (recipient stage)
  std::string client_ip;
  std::string helo;
  std::string sasl_user;  // empty when not authenticated
  std::string sender;     // MAIL FROM, "" for <>
  policy::ClientFacts client;
};

struct StageQuery {
  smtp::Stage stage = smtp::Stage::Rcpt;
  RecipientQuery who;
  uint64_t message_size = 0;   // end of data: the content octets
  size_t recipient_count = 0;  // data, end of data
  // With delay_reject off, the DEFER_IF_PERMIT an earlier stage of the session left pending
  // (StageVerdict::defer_if_permit of CONNECT, then HELO, then MAIL, as Postfix carries it):
  // a later stage keeps the first, RCPT and VRFY turn their permit into its deferral. Not
  // used at DATA and END-OF-DATA (Postfix starts those afresh).
  std::optional<policy::Decision> defer_if_permit;
  // RCPT: the SIZE= of MAIL FROM (0 when not given), for delivery.quota (recipient_quota.h).
  uint64_t declared_size = 0;
};

// What the caller's loop offers checks. Null offload: blocking lookups run in place (a
// command-line tool); null resolver: no DNS; null policy_client: policy services not asked.
struct StageServices {
  std::function<void(std::function<void()> work, std::function<void()> done)> offload;
  dns::Resolver* resolver = nullptr;
  policy::PolicyServiceClient* policy_client = nullptr;
};

struct StageVerdict {
  smtp::Verdict verdict;
  std::vector<policy::PolicyAction> actions;  // for the transaction, when accepted
  std::string rule;  // the restriction check that refused ("reject_rbl_client bl.test"), if one did
  // An accepted CONNECT, HELO or MAIL: the DEFER_IF_PERMIT still pending (the query's own, or
  // one of its lists'), for the caller to pass on in the next stage's StageQuery.
  std::optional<policy::Decision> defer_if_permit;
  // RCPT: the SIZE= of MAIL FROM (0 when not given), for delivery.quota (recipient_quota.h).
  uint64_t declared_size = 0;
};

// The stages (smtp::stageBit) besides RCPT and VRFY at which the listener's restriction set
// wants a verdict: client, helo and sender lists when delay_reject is off, data and
// end_of_data lists when they are set.
uint32_t verdictStages(const Snapshot& snap, const config::Listener& listener);

// The verdict for `q.stage`. `done` runs on the caller's loop, before checkStage returns when
// nothing had to wait. `trace`, when given, receives each step in words (domain class, the
// restriction that decided with the config location of its set, alias and mailbox lookups)
// and must outlive the call.
void checkStage(const Snapshot& snap, const config::Listener& listener, StageQuery q,
                StageServices services, std::vector<std::string>* trace,
                std::function<void(StageVerdict)> done);

// The RCPT verdict in place, for `petrel route`.
struct RecipientVerdict {
  bool accepted = false;
  std::vector<std::string> expand;  // final addresses when accepted
  smtp::Reply refusal;              // when refused: 550 5.1.1, 554 5.7.1, 451 4.3.0 ...
};
RecipientVerdict checkRecipient(const Snapshot& snap, const config::Listener& listener,
                                const RecipientQuery& q, std::vector<std::string>* trace = nullptr);

// Who may use `sender` as envelope sender: auth.sender_login when configured, else the
// address itself (without a recipient-delimiter extension) when its domain is local.
std::vector<std::string> senderOwners(const Snapshot& snap, std::string_view sender);

// The part of a Snapshot that routing needs: config, router, sender-login table, restriction
// lists (no TLS context, no authenticator). The server adds those; `petrel route` uses this.
// `greylist` is what check_greylist runs with; null while greylisting is enabled means
// `petrel route`'s read-only view (server/greylisting.h).
Result<Snapshot> routingSnapshot(const config::Config& cfg, const lookup::Warn& warn,
                                 std::shared_ptr<const policy::Greylist> greylist = nullptr);

}  // namespace petrel::server
