// Router: decides what happens to one recipient address, like Postfix's virtual_alias_maps
// followed by virtual_mailbox_maps.
//
// It owns the mailbox and alias tables built from the config and nothing else; it is pure
// logic over them (no I/O of its own, no SMTP replies, no logging), so the same answer serves
// RCPT time (accept / 4xx / 5xx) and delivery time (which Maildir). Const calls are
// thread-safe; refreshTables() runs on the main thread.
//
// Expansion of one address (keys are lower-cased; the domain always is, the local part keeps
// its case in the returned addresses):
//   1. non-local domain              -> a final recipient (relayed by a later feature);
//                                       at top level the outcome is NonLocalDomain instead
//   2. alias: full address, then without the recipient extension ("alice+tag" -> "alice"),
//      each key searched in every alias table in order -> expand each target recursively
//   3. mailbox table (same two keys) -> a final recipient
//   4. alias catch-all "@domain"     -> expand its targets
//   5. otherwise                     -> UnknownRecipient 5.1.1
// Step 4 comes after step 3 (Postfix puts it before): a catch-all never swallows mail for a
// user who has a mailbox, so no identity entries are needed. A target equal to the address
// being expanded is final (step 3). Loops and nesting deeper than MaxAliasDepth give
// PermanentFailure 5.4.6; a table TempFail gives TemporaryFailure 4.3.0.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/core/result.h"
#include "petrel/lookup/lookup_table.h"
#include "petrel/srs/srs.h"

namespace petrel::delivery {

// The kind of agent a final address is handed to (config::TransportType: virtual = Maildir,
// smtp, lmtp, pipe); the transport's name picks the agent itself (delivery/agent.h).
using Transport = config::TransportType;
// The word `petrel route` and the log use for an agent kind: "maildir", "smtp", "lmtp", "pipe".
std::string_view agentName(Transport transport);

// Where one final address goes: which transport, and for its agent the next hop (and outbound
// TLS policy), the Maildir, or the transport(5) nexthop as written. Recipients of one message
// with equal targets are delivered together (delivery/agent.h).
struct DeliveryTarget {
  Transport transport = Transport::Virtual;
  std::string transport_name = "virtual";          // the agent's name: "smtp", "amavis", ...
  config::NextHop next_hop;                        // Smtp
  config::TlsPolicy tls = config::TlsPolicy::May;  // Smtp: relay.tls_policy of the next hop
  std::string maildir;                             // Virtual: absolute, ending in '/'
  std::string nexthop;  // Lmtp and Pipe: "unix:/run/dovecot/lmtp"; pipe: the domain if unset
  // Smtp: the envelope sender for these recipients when it is not the message's (AgentMessage::
  // sender): the SRS address of forwarded mail (forwardingSender). Empty: the message's.
  std::string sender;
  // Smtp: recipients forwarded for a user (Router::forwarded) while arc.seal is set: the
  // delivery goes out with an ARC set on top (server/arc_sealing.h), so it is one of its own.
  bool arc_seal = false;
  bool operator==(const DeliveryTarget&) const = default;
};

struct Expansion {
  enum class Outcome {
    Accepted,
    NonLocalDomain,
    UnknownRecipient,
    TemporaryFailure,
    PermanentFailure
  };
  Outcome outcome = Outcome::UnknownRecipient;
  std::vector<std::string> recipients;  // final addresses when Accepted (deduplicated, order kept)
  std::string status;  // enhanced status code: "2.1.5" when Accepted, else e.g. "5.1.1", "4.3.0"
  // Human text, e.g. "User unknown in virtual mailbox table", "alias loop". For
  // TemporaryFailure it is the failing table's error (names files): log it, do not send it.
  std::string reason;
  // For the log only, never the reply: why an SRS address was refused ("invalid hash",
  // "expired timestamp", "bad syntax"; docs/srs.md).
  std::string log_detail;
};

class Router {
 public:
  // Alias chains longer than this are treated as loops (Postfix: virtual_alias_recursion_limit).
  static constexpr int MaxAliasDepth = 20;
  // One address may expand to at most this many final recipients
  // (Postfix: virtual_alias_expansion_limit).
  static constexpr size_t MaxExpansionRecipients = 1000;

  // Builds the tables from cfg.mailboxes / cfg.aliases via lookup::makeTable and copies what it
  // needs from `cfg` (it keeps no reference). `warn` receives table load warnings.
  Router(const config::Config& cfg, lookup::Warn warn);

  // What a domain is to us: domains.local, domains.relay (any recipient accepted and relayed:
  // backup MX, gateway), or another domain. Case-insensitive. Either list may be a table;
  // when one fails the answer is TempFail (`error` names the table) and the caller answers
  // 4xx: a database that is down never turns into "Relay access denied".
  enum class DomainKind { Local, Relay, Other, TempFail };
  struct DomainClass {
    DomainKind kind = DomainKind::Other;
    std::string error;
  };
  DomainClass classifyDomain(std::string_view domain) const;
  // Shorthands: false on TempFail.
  bool isLocalDomain(std::string_view domain) const;
  bool isRelayDomain(std::string_view domain) const;

  // Where SMTP mail for a non-local `domain` goes (docs/relay.md): the relay.transport entry
  // of the domain (then of each parent as ".parent") when it is a next hop, else
  // relay.relayhost (not for domains.relay), else the domain itself by MX. A failing table or
  // an unusable entry is a temporary error: mail waits for the admin. Source: relay_route.cc.
  Result<config::NextHop> nextHop(std::string_view domain) const;
  // The outbound TLS policy for `domain`: its relay.tls_policy entry, else relay.tls. An
  // unknown word in the table falls back to the stricter of `encrypt` and relay.tls.
  config::TlsPolicy tlsPolicy(std::string_view domain) const;

  // The target of a final address from expand(), as the queue delivers it and `petrel route`
  // shows it (docs/transports.md). The transport is the relay.transport entry of the address
  // (with, then without its extension), of its domain or a parent (".parent"): a
  // "transport:nexthop" naming a transport (config::Config::transportRef), or a plain next
  // hop for smtp. Without an entry, a local domain uses delivery.transport (the Maildir of
  // maildirFor by default) and any other domain goes by SMTP (nextHop). An SMTP target has
  // its TLS policy (tlsPolicy of the domain for an MX lookup, else of the host).
  // Errors are temporary (a table failed, an unusable entry: mail waits) or permanent (no
  // mailbox: bounce). `attempted`, when given, receives the transport the address was for,
  // also on error (the queue logs a failed next hop as the smtp agent's deferral).
  Result<DeliveryTarget> resolve(std::string_view address, Transport* attempted = nullptr) const;
  // The target of `address` when `ref` chooses its transport instead of the tables: an
  // after-queue content filter (filters.content_filter or a FILTER action) that takes every
  // recipient of a message (docs/filters.md). As a transport(5) entry: an empty smtp nexthop
  // is the recipient domain by MX. A transport the config no longer has is a temporary error.
  Result<DeliveryTarget> resolveVia(const config::TransportRef& ref, std::string_view address,
                                    Transport* attempted = nullptr) const;
  // The routing step of a delivery job for a recipient of a queued message, in one place:
  // `content_filter` (queue::StoredMessage::content_filter, "transport:nexthop") when the
  // message has one, else resolve(). A filter whose transport the config no longer has
  // (removed by a reload) is a temporary error: the mail waits for the admin.
  Result<DeliveryTarget> resolveMessage(std::string_view address, std::string_view content_filter,
                                        Transport* attempted = nullptr) const;

  // `address` is the RCPT TO address without angle brackets. A bare "postmaster" (any case)
  // means postmaster@<first local domain> (RFC 5321 4.5.1).
  // canonical.recipient / canonical.sender (Postfix canonical_maps; header fields too, see
  // delivery/header_rewrite.h and server/canonical_headers.h): the
  // address as the table maps it, looked up as "user@domain", then "@domain"; a value
  // "@other.example" keeps the user part. Unchanged when there is no table or no entry; an
  // error when the table fails (the caller answers 4xx / defers).
  Result<std::string> canonicalRecipient(std::string_view address) const;
  Result<std::string> canonicalSender(std::string_view address) const;
  bool hasCanonicalMaps() const { return canonical_sender_ || canonical_recipient_; }

  // `trace`, when given, receives each step in words (`petrel route`).
  Expansion expand(std::string_view address, std::vector<std::string>* trace = nullptr) const;

  // Absolute Maildir directory (ending in '/') for a final local address from expand(). Errors:
  // permanent when the address has no mailbox or is not local; temporary when a table failed
  // or the mailbox entry is unusable (e.g. a ".." component), so mail waits for the admin.
  Result<std::string> maildirFor(std::string_view address) const;

  // Whether a lookup may wait on a server (a table's blocking()): callers on a loop then call
  // expand() and the rest from the thread pool.
  bool blocking() const;

  // SRS (docs/srs.md; source: forwarding.cc). Whether srs: is configured.
  bool srsEnabled() const { return srs_.has_value(); }
  // Whether a recipient is forwarded mail: given in RCPT TO at one of our domains (local or
  // srs.domain; a bare "postmaster" too) and delivered to another host (`target` is smtp).
  // Recipients relayed for a client that may relay (mynetworks, SASL) were given at another
  // domain and are not forwarded.
  bool forwarded(std::string_view orig_address, const DeliveryTarget& target) const;
  // The envelope sender to use for mail we forward from `sender`: its SRS0 address at
  // srs.domain (SRS1 when it already is SRS), or `sender` itself when SRS is off, for <>, an
  // address without a domain, a domain of ours (local, srs.domain) or in srs.exclude_domains,
  // or an address the scheme cannot rewrite. The alias path (queue) and Sieve redirect both
  // call this.
  std::string forwardingSender(std::string_view sender) const;
  // Seconds since the epoch for the SRS timestamps; tests pin it.
  void setClockForTest(std::function<int64_t()> now) { now_ = std::move(now); }

  // Calls refresh() on each table. Main thread only. Const because the Router's own state does
  // not change (the tables swap their contents atomically), so a shared_ptr<const Router>
  // can be refreshed while reactors use it.
  void refreshTables() const;

 private:
  struct Address;      // defined in router.cc
  struct TableAnswer;  // defined in router.cc
  struct ExpandState;  // defined in router.cc

  std::optional<Address> parseAddress(std::string_view text) const;
  std::vector<std::string> lookupKeys(const Address& address) const;
  std::vector<std::string> addressKeys(std::string_view address) const;  // lookupKeys or none
  struct TransportEntry;  // defined in relay_route.cc
  Result<TransportEntry> transportEntry(std::string_view address, std::string_view domain) const;
  Result<DeliveryTarget> smtpTarget(std::string_view domain, std::string_view nexthop,
                                    bool from_table) const;
  Result<DeliveryTarget> targetOf(const config::TransportRef& ref, std::string_view address,
                                  std::string_view domain, bool from_table,
                                  Transport* attempted) const;
  static TableAnswer search(const std::vector<lookup::TablePtr>& tables,
                            const std::vector<std::string>& keys);
  Result<std::string> mailboxPath(const Address& address, const TableAnswer& mailbox) const;
  bool expandAddress(const Address& address, int depth, ExpandState& state) const;
  bool expandTargets(const Address& address, const TableAnswer& alias, int depth,
                     ExpandState& state) const;
  bool finishWithMailbox(const Address& address, const TableAnswer& mailbox,
                         ExpandState& state) const;
  // An SRS address at srs.domain: reversed and expanded on (forwarding.cc). Returns
  // nullopt when `address` is not one, else expandAddress()'s answer.
  std::optional<bool> expandSrs(const Address& address, int depth, ExpandState& state) const;

  std::vector<std::string> local_domains_;            // lower-cased, config order
  std::unordered_set<std::string> local_domain_set_;  // the same, for lookups
  std::string mail_root_;                             // absolute, no trailing '/'
  std::string delimiters_;                            // any of these chars starts an extension
  std::vector<lookup::TablePtr> mailboxes_;           // zero or one table
  std::vector<lookup::TablePtr> aliases_;
  std::unordered_set<std::string> relay_domain_set_;
  lookup::TablePtr local_domain_table_;  // domains.local as a table, or null
  lookup::TablePtr relay_domain_table_;  // domains.relay as a table, or null
  lookup::TablePtr transport_;   // or null
  lookup::TablePtr canonical_sender_;     // or null
  lookup::TablePtr canonical_recipient_;  // or null
  lookup::TablePtr tls_policy_;  // or null
  std::optional<config::NextHop> relayhost_;
  std::vector<config::TransportConfig> transports_;  // `transports:`, for transportRef()
  config::TransportRef local_transport_;             // delivery.transport
  config::TlsPolicy default_tls_ = config::TlsPolicy::May;
  std::optional<srs::Rewriter> srs_;          // srs: configured
  std::vector<std::string> srs_exclude_;      // srs.exclude_domains, lower-cased
  std::function<int64_t()> now_;              // unix seconds
};

// The sender to use when forwarding mail from `sender` through `router`'s snapshot:
// router.forwardingSender(sender) (for callers that hold the snapshot, e.g. Sieve redirect).
inline std::string forwardingSender(const Router& router, std::string_view sender) {
  return router.forwardingSender(sender);
}

// RFC 5321 4.5.1: every local domain must accept mail for postmaster. Returns one error per
// local domain whose postmaster address does not reach a mailbox (table failures excepted:
// they are temporary and logged by the table itself).
std::vector<config::ConfigError> checkPostmaster(const config::Config& cfg, const Router& router);

}  // namespace petrel::delivery
