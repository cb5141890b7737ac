// Runtime: what the threads of one Petrel process share.
//
// The config and the router are swapped together on SIGHUP; a session takes a Snapshot when
// it starts and keeps it, so a reload never changes the rules under an established session.
// Metrics are plain atomics read by the status endpoint. Queue ids are unique and increasing.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "petrel/config/config.h"
#include "petrel/delivery/quota.h"
#include "petrel/delivery/router.h"
#include "petrel/delivery/sieve_filter.h"
#include "petrel/delivery/generated_mail.h"
#include "petrel/dmarc/public_suffix.h"
#include "petrel/dmarc/report_store.h"
#include "petrel/dns/hosts.h"
#include "petrel/event/dispatcher.h"
#include "petrel/auth/authenticator.h"
#include "petrel/dkim/signer.h"
#include "petrel/lookup/lookup_table.h"
#include "petrel/policy/greylist.h"
#include "petrel/policy/restrictions.h"
#include "petrel/queue/journal.h"
#include "petrel/server/client_rates.h"
#include "petrel/server/header_checks_stage.h"
#include "petrel/server/spool_slots.h"
#include "petrel/tls/tls.h"

namespace petrel::server {

class QueueManager;
struct ArcSealing;  // server/arc_sealing.h

// One restriction set of the config, compiled: a list per stage that has one (the recipient
// list always), and whether client, helo and sender lists wait for RCPT (smtpd_delay_reject).
struct RestrictionLists {
  std::string origin;  // "file:line:column" of the set, for `petrel route`
  bool delay_reject = true;
  std::map<policy::Stage, policy::RestrictionList> lists;
  // Each list's entries as written, for `petrel route` / `petrel policy test` to name the
  // deciding check's file:line:column.
  std::map<policy::Stage, std::vector<config::CheckSpec>> specs;
  const policy::RestrictionList* list(policy::Stage stage) const {
    auto it = lists.find(stage);
    return it == lists.end() ? nullptr : &it->second;
  }
};

struct Snapshot {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const delivery::Router> router;
  std::shared_ptr<tls::ServerContext> tls;            // null when no listener uses TLS
  std::shared_ptr<auth::Authenticator> authenticator;  // null when no listener offers AUTH
  std::shared_ptr<const lookup::LookupTable> sender_login;  // auth.sender_login, or null
  // Restriction sets by name, compiled (server/stage_check.h runs them).
  std::shared_ptr<const std::map<std::string, RestrictionLists>> restrictions;
  // relay.mynetworks for decisions outside the restriction lists (canonical.headers: local):
  // the blocks, and the table when it is one (the same instance the lists use).
  std::shared_ptr<const CidrList> mynetworks;
  lookup::TablePtr mynetworks_table;
  // limits.rate.exceptions when the config lists them; null: relay.mynetworks is the list.
  std::shared_ptr<const CidrList> rate_exceptions;
  // greylisting (check_greylist): settings, store and counters; null when it is off. A
  // reload hands the store on to the next snapshot (server/greylisting.h).
  std::shared_ptr<const policy::Greylist> greylist;
  // dmarc.public_suffix_list, read when dmarc.verify is on (at start and on reload); null
  // when it is off.
  dmarc::PublicSuffixListPtr public_suffixes;
  // delivery.sieve's global scripts, compiled (delivery/sieve_filter.h); null when none.
  delivery::SieveScriptsPtr sieve;
  // delivery.vacation and the vacation store's path (delivery/generated_mail.h); never null.
  delivery::AutoReplyPtr auto_replies;
  // delivery.quota (delivery/quota.h): checked at RCPT and by the Maildir agent; null when off.
  delivery::MailboxQuotaPtr quota;
  // dkim.sign's keys, read when the snapshot is made (server/dkim_signing_stage.h); null or
  // empty: nothing signs.
  std::shared_ptr<const std::vector<dkim::SignSpec>> dkim_signing;
  // arc.seal's key and our authserv-id (server/arc_sealing.h); null: forwarded mail is not
  // sealed.
  std::shared_ptr<const ArcSealing> arc_seal;
  // checks: (header and body checks) opened; null when the config has none.
  std::shared_ptr<const CheckTables> checks;
};

struct Metrics {
  std::atomic<uint64_t> connections_total{0};
  std::atomic<int64_t> connections_active{0};
  std::atomic<uint64_t> messages_received{0};
  std::atomic<uint64_t> deliveries_sent{0};
  std::atomic<uint64_t> deliveries_deferred{0};
  std::atomic<uint64_t> deliveries_bounced{0};
  // check_greylist's outcomes, shared by every snapshot's Greylist.
  std::shared_ptr<policy::GreylistCounters> greylist = std::make_shared<policy::GreylistCounters>();

  void countRejection(const std::string& stage, int code, const std::string& status);
  std::map<std::string, uint64_t> rejections() const;  // label text -> count
  // A refusal by a restriction check, counted by check name and, for DNS lists, by list (the
  // labels come from the config, never from the client).
  void countCheckRejection(std::string_view rule);
  std::map<std::string, uint64_t> checkRejections() const;    // check name -> count
  std::map<std::string, uint64_t> dnsListRejections() const;  // list domain -> count
  // Refusals by limits.rate (index: RateEvent).
  std::array<std::atomic<uint64_t>, RateEventCount> rate_limited{};

 private:
  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> rejections_;
  std::map<std::string, uint64_t> by_check_;
  std::map<std::string, uint64_t> by_dns_list_;
};

// Connections in total and per client address (limits.connections*).
class ConnectionLimiter {
 public:
  // false: over a limit; `why` says which.
  bool tryAcquire(const std::string& ip, uint32_t max_total, uint32_t max_per_client,
                  std::string& why);
  void release(const std::string& ip);

 private:
  std::mutex mutex_;
  uint32_t total_ = 0;
  std::unordered_map<std::string, uint32_t> per_client_;
};

// Failed AUTH attempts per client address over the last hour (limits.auth_failures_per_client).
class AuthFailures {
 public:
  // Records a failure; returns the count within the window, this one included.
  uint32_t record(const std::string& ip);
  uint32_t count(const std::string& ip);

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::vector<int64_t>> failures_;  // ip -> unix seconds
};

class Runtime {
 public:
  Snapshot snapshot() const;
  void install(Snapshot s);

  queue::Journal* journal = nullptr;
  event::Dispatcher* main = nullptr;  // the main loop: queue manager, control, status
  QueueManager* queue_manager = nullptr;  // lives on `main`
  std::string spool_dir;
  SpoolSlots* spool_slots = nullptr;  // owned by the process, lives as long as the workers
  // /etc/hosts as read at start, asked before DNS for the client's name (client_name.h).
  std::shared_ptr<const dns::HostsFile> hosts = std::make_shared<dns::HostsFile>();
  // dmarc.reports: the records of evaluated messages for aggregate reports, opened at start
  // when enabled (a change needs a restart); null when off. Blocking: use it on the pool.
  std::shared_ptr<dmarc::ReportStore> dmarc_reports;
  Metrics metrics;
  ConnectionLimiter limiter;
  AuthFailures auth_failures;
  ClientRates rates;  // limits.rate, shared by every worker (client_rates.h says why)

 private:
  mutable std::mutex mutex_;
  Snapshot current_;
};

// Queue ids: 12 upper-case hex digits of microseconds since 2024-01-01, strictly increasing
// within the process and above every id already in the queue (seedQueueIds).
std::string nextQueueId();
void seedQueueIds(const std::string& highest_existing);

// Microseconds since the epoch (wall clock), for arrival times and delays.
int64_t nowMicros();

}  // namespace petrel::server
