// The typed, validated configuration of a Petrel instance.
//
// loadConfig() turns one YAML file into a Config, or into a list of errors, each naming
// `file:line:column`. Unknown keys are errors. Relative paths are resolved against the
// directory of the config file, so a config and the state it writes can move together.
// Only source/config/ includes yaml-cpp; every other area sees these plain structs.
// config/ knows no name an area above it defines (restriction checks): it keeps them as
// written, with their file:line:column, and the areas check them through Validators
// (server/config_checks.h) that loadConfig runs.
// docs/configuration.md documents every key; keep both in step.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "petrel/config/table_spec.h"
#include "petrel/core/result.h"

namespace petrel::config {

// "host:port" or "[v6]:port", already split.
struct Endpoint {
  std::string host;  // an IP address literal; IPv6 without brackets, in canonical form
  uint16_t port = 0;
  std::string toString() const;  // "127.0.0.1:25", "[::1]:25"
  bool operator==(const Endpoint&) const = default;
};

// Parses "192.0.2.1:25" or "[2001:db8::1]:25". The host must be an IP address literal
// (listeners bind to it, so no name resolution happens here); the port must be 1..65535.
Result<Endpoint> parseEndpoint(std::string_view text);

// A next hop as Postfix writes it (relayhost, transport entries): "[host]:port" or "[host]"
// connects to host itself; "host:port" or "host" looks up host's MX records first. An
// optional "smtp:" prefix is accepted. The port defaults to 25.
struct NextHop {
  std::string host;  // lower-cased domain, or an IP literal (IPv6 without brackets)
  uint16_t port = 25;
  bool mx_lookup = true;  // false for the bracketed form
  std::string toString() const;  // "[10.0.0.5]:25", "example.org"
  bool operator==(const NextHop&) const = default;
};
Result<NextHop> parseNextHop(std::string_view text);

// Outbound STARTTLS policy per destination, as Postfix's smtp_tls_security_level.
enum class TlsPolicy { None, May, Encrypt, Verify };
std::optional<TlsPolicy> parseTlsPolicy(std::string_view word);  // "none" | "may" | ...
std::string_view toString(TlsPolicy policy);

// STARTTLS policy of a listener (RFC 3207, RFC 8314).
enum class TlsMode {
  None,      // no STARTTLS
  Optional,  // STARTTLS offered (port 25 style)
  Required,  // STARTTLS offered; MAIL/AUTH refused before it (530 5.7.0)
  Implicit,  // TLS from the first byte (port 465)
};

enum class AuthMode {
  None,      // AUTH not offered
  Optional,  // AUTH offered (over TLS unless auth_plaintext)
  Required,  // MAIL refused before AUTH (530 5.7.0)
};

// A Sendmail milter (protocol version 6) that sees every message at its end of data (Postfix
// smtpd_milters; docs/milter.md).
struct MilterEndpoint {
  enum class Kind : uint8_t { Inet, Unix };
  Kind kind = Kind::Inet;
  std::string host;  // Inet: an IP literal (IPv6 without brackets)
  uint16_t port = 0;
  std::string path;  // Unix
  std::string text;  // as written: "inet:127.0.0.1:8891", "unix:/run/opendkim/opendkim.sock"
  bool operator==(const MilterEndpoint&) const = default;
};
// "inet:host:port" (host an IP literal, IPv6 in brackets) or "unix:/path"; Postfix's syntax.
Result<MilterEndpoint> parseMilterEndpoint(std::string_view text);

// A before-queue content filter (Postfix smtpd_proxy_filter, SMTPD_PROXY_README;
// docs/filters.md): every transaction of the listener is relayed to it as it arrives, and the
// filter hands the mail to another listener. The endpoint uses the milter syntax's kinds.
struct ProxyFilter {
  MilterEndpoint endpoint;  // "127.0.0.1:10025", "inet:127.0.0.1:10025" or "unix:/path"
  // smtpd_proxy_timeout: each wait for the filter (connect, each reply); Default: 100s
  uint64_t timeout = 100;
  // smtpd_proxy_ehlo: the name we give in EHLO to the filter; Default: empty = hostname
  std::string ehlo;
  bool operator==(const ProxyFilter&) const = default;
};
// "host:port" (an IP literal, IPv6 in brackets), "inet:host:port" or "unix:/path".
Result<MilterEndpoint> parseProxyFilterEndpoint(std::string_view text);
// "name:nexthop" as transport(5) writes it, split; nexthop may be empty ("dovecot:").
struct TransportRef {
  std::string name;
  std::string nexthop;
  bool operator==(const TransportRef&) const = default;
};

// Postfix receive_override_options of a listener (the reinjection listener of an after-queue
// content filter, docs/filters.md): what the mail it receives is spared.
struct ReceiveOverrides {
  bool no_header_body_checks = false;        // checks: are not run
  bool no_milters = false;                   // no milter sees it
  bool no_unknown_recipient_checks = false;  // unknown local recipients are taken at RCPT
  bool no_address_mappings = false;          // no canonical.recipient, no alias expansion
  bool operator==(const ReceiveOverrides&) const = default;
};

struct Listener {
  std::string name;  // e.g. "mx"; appears in logs
  Endpoint address;
  TlsMode tls = TlsMode::None;        // Default: none
  AuthMode auth = AuthMode::None;     // Default: none
  bool auth_plaintext = false;        // offer AUTH before TLS; Default: false
  std::string restrictions = "default";  // a key of Config::restrictions; Default: "default"
  std::string origin;                 // "file:line:column" of the listener entry
  // smtp.greet_pause for this listener, in seconds (0 = off). Default: unset = smtp.greet_pause,
  // except on listeners with auth: required or tls: implicit (submission), which get 0.
  std::optional<uint64_t> greet_pause;
  // This listener's milters instead of filters.milters (Postfix's master.cf
  // "-o smtpd_milters=..."); an empty list for none. Default: unset = filters.milters
  std::optional<std::vector<MilterEndpoint>> milters;
  // proxy_filter (+ proxy_timeout, proxy_ehlo): this listener relays each transaction to a
  // before-queue filter and queues nothing itself (docs/filters.md). Default: unset = none
  std::optional<ProxyFilter> proxy_filter;
  // After-queue content filter (docs/filters.md). content_filter: this listener's instead of
  // filters.content_filter (Postfix's "-o content_filter="); a ref with an empty name is
  // `false`: none. Default: unset = filters.content_filter. receive_override_options:
  // Default: none.
  std::optional<TransportRef> content_filter;
  ReceiveOverrides receive_override;
};

enum class BareLineEnding { Reject, Normalize };

// Per-client event rates, as Postfix's anvil counts them (smtpd_client_*_rate_limit): events of
// one client address within `time_unit` (anvil_rate_time_unit). 0 turns a limit off.
struct RateLimits {
  uint32_t connections = 0;       // smtpd_client_connection_rate_limit; Default: 0 (off)
  uint32_t messages = 0;          // MAIL commands, smtpd_client_message_rate_limit; Default: 0
  uint32_t recipients = 0;        // RCPT commands, smtpd_client_recipient_rate_limit; Default: 0
  uint32_t auth = 0;              // AUTH commands, smtpd_client_auth_rate_limit; Default: 0
  uint32_t new_tls_sessions = 0;  // smtpd_client_new_tls_session_rate_limit; Default: 0
  uint64_t time_unit = 60;        // seconds; Default: 60s
  // Clients no rate limit applies to (smtpd_client_event_limit_exceptions), as networks.
  // Default: unset = relay.mynetworks.
  std::optional<std::vector<std::string>> exceptions;
};

struct Limits {
  uint64_t message_size = 25ull * 1024 * 1024;  // Default: 25MB
  uint32_t recipients_per_message = 1000;       // Default: 1000
  uint32_t connections = 500;                   // Default: 500
  uint32_t connections_per_client = 50;         // Default: 50 (Postfix smtpd_client_connection_count_limit)
  uint32_t command_line_length = 512;           // Default: 512 (RFC 5321 4.5.3.1.4)
  uint32_t text_line_length = 1000;             // Default: 1000 (RFC 5321 4.5.3.1.6)
  uint32_t errors_per_session = 10;             // Default: 10; then 421 and disconnect
  uint64_t idle_timeout = 300;                  // seconds; Default: 5m (RFC 5321 4.5.3.2.7)
  uint64_t data_timeout = 600;                  // seconds between DATA/BDAT reads; Default: 10m
  uint64_t session_timeout = 3600;              // whole connection; Default: 1h
  uint32_t auth_failures_per_client = 10;       // then 421 4.7.0 and disconnect; Default: 10
  RateLimits rate;                              // Default: every rate limit off
};

struct Smtp {
  BareLineEnding bare_line_endings = BareLineEnding::Reject;  // Default: reject
  bool vrfy = false;       // Default: false (VRFY answers 252)
  std::string banner;      // Default: "<hostname> ESMTP Petrel"
  // Look up the client's name at connect (PTR, then forward confirmation), as Postfix's
  // smtpd_peername_lookup; off, every client is "unknown". Default: true
  bool peername_lookup = true;
  // Seconds to wait before the 220 greeting; a client that talks meanwhile is refused (554
  // 5.5.1) and disconnected (postscreen's pregreet test). Default: 0 (off).
  uint64_t greet_pause = 0;
  // Postfix's parent_domain_matches_subdomains: the features in which a parent domain key
  // "example.com" matches its subdomains. Petrel acts on smtpd_access_maps (the access maps of
  // check_*_access); Postfix's other names are accepted and change nothing here. Written as a
  // list of names, a main.cf-style string or a bool (true: all, false: none).
  // Default: Postfix's, every name in ParentDomainFeatures.
  static constexpr std::array<std::string_view, 7> ParentDomainFeatures{
      "debug_peer_list",           "fast_flush_domains", "mynetworks",
      "permit_mx_backup_networks", "qmqpd_authorized_clients", "relay_domains",
      "smtpd_access_maps"};
  // Postfix's permit_mx_backup_networks: permit_mx_backup permits only for domains whose
  // primary MX hosts have an address in these networks (canonical CIDR text). Default: empty,
  // no such restriction (Postfix's default).
  std::vector<std::string> permit_mx_backup_networks;
  std::vector<std::string> parent_domain_matches_subdomains{ParentDomainFeatures.begin(),
                                                           ParentDomainFeatures.end()};
  bool parentDomainMatchesSubdomains(std::string_view feature) const {
    return std::find(parent_domain_matches_subdomains.begin(),
                     parent_domain_matches_subdomains.end(),
                     feature) != parent_domain_matches_subdomains.end();
  }
};

struct Queue {
  uint64_t max_lifetime = 5 * 86400;  // seconds; Default: 5d
  uint64_t min_backoff = 300;         // seconds; Default: 5m
  uint64_t max_backoff = 4 * 3600;    // seconds; Default: 4h
  uint32_t delivery_concurrency = 0;  // parallel delivery jobs; Default: 0 = 4 x cores
  uint64_t delay_warning = 0;         // seconds; one "delayed" DSN after this; Default: 0 = off
};

// A delivery transport (Postfix's master.cf service used as transport(5)'s "transport:nexthop"):
// the name that transport tables and delivery.transport write, the kind of agent that delivers
// for it, and that kind's settings. Built in, without an entry under `transports:`: `virtual`
// (the Maildir agent), `smtp` and `relay` (the relay agent, relay.* settings) and `lmtp`; an
// entry with a built-in name other than `virtual` replaces its settings (docs/transports.md).
enum class TransportType { Virtual, Smtp, Lmtp, Pipe };
std::string_view toString(TransportType type);  // "virtual", "smtp", "lmtp", "pipe"

// The settings of each agent kind, as `transports.<name>:` writes them besides `type:`. Each
// kind's keys are read by its own function in source/config/transports.cc.
struct SmtpTransportSettings {
  // Connections per destination of this transport (Postfix maxproc and
  // <transport>_destination_concurrency_limit; the course's amavis: 5). Default: unset =
  // relay.destination_concurrency, shared with the relay agent's other mail.
  std::optional<uint32_t> concurrency;
  // Send XFORWARD with the original client's facts when the peer offers it (Postfix
  // smtp_send_xforward_command). Default: false
  bool xforward = false;
  // Seconds to wait for the reply to the end of DATA (Postfix smtp_data_done_timeout; the
  // course's amavis: 1200). Default: unset = relay.timeouts.data_done
  std::optional<uint64_t> data_timeout;
  // Whether any key beyond type: is set (the transport then has an agent of its own).
  bool any() const { return concurrency || xforward || data_timeout; }
};
// type lmtp (Postfix's lmtp(8) settings, lmtp_* in main.cf): per destination (transport and
// nexthop), at most `concurrency` connections, idle ones kept `connection_cache_time` for the
// next message. Every wait has its timeout.
struct LmtpTransportSettings {
  uint32_t concurrency = 20;         // lmtp_destination_concurrency_limit; Default: 20
  uint64_t connection_cache_time = 2;  // seconds, lmtp_connection_cache_time_limit; Default: 2s
  struct Timeouts {  // seconds; Postfix's lmtp_*_timeout defaults, connect bounded
    uint64_t connect = 30, greeting = 300, command = 300, data_init = 120, data_block = 180,
             data_done = 600;
  } timeouts;
};
// type pipe (Postfix's pipe(8) master.cf attributes; docs/pipe.md). Read by
// Loader::loadPipeTransport; the agent is server/pipe_agent.cc.
struct PipeTransportSettings {
  // argv: the program and its arguments, never through a shell; argv[0] an absolute path.
  // Macros (${recipient}, $sender, $(user), $$ for '$') as splitPipeArgument() reads them; a
  // value replaces its macro inside one argument. Required.
  std::vector<std::string> argv;
  // user: "user[:group]" the program runs as when Petrel runs as root (never root). Default:
  // none (Petrel's own user; when Petrel runs as root a user is required).
  std::string user;
  std::string group;
  // flags: Postfix's letters: B D F O R X h q u . > (docs/pipe.md). Default: none.
  std::string flags;
  uint64_t size_limit = 0;     // size_limit: bytes; larger messages bounce 5.2.3. Default: 0 (none)
  uint64_t time_limit = 1000;  // time_limit: seconds (command_time_limit). Default: 1000s
  // max_recipients (transport_destination_recipient_limit): recipients per run. Default: 0 =
  // 1 when argv has a per-recipient macro or flags has D or O, else all of the delivery.
  uint32_t max_recipients = 0;
  std::string directory;  // directory: the working directory. Default: "/"
  std::vector<std::pair<std::string, std::string>> env;  // env: extra variables. Default: none
  std::string null_sender = "MAILER-DAEMON";  // null_sender: what <> expands to. Default: same
};
// One piece of a pipe argv element: literal text or a macro name ("recipient").
struct PipeArgumentPart {
  bool macro = false;
  std::string text;
};
// Splits one argv element of a pipe transport into literal text and macros (${name},
// $name, $(name); "$$" is a '$'); an error names an unknown macro or a malformed one.
// transports.cc.
Result<std::vector<PipeArgumentPart>> splitPipeArgument(std::string_view text);
// The macros that take a value per recipient (${recipient}, ${user}, ...).
bool isPerRecipientPipeMacro(std::string_view name);

struct TransportConfig {
  std::string name;  // a config name (isName); never "virtual"
  TransportType type = TransportType::Smtp;
  SmtpTransportSettings smtp;  // type smtp
  LmtpTransportSettings lmtp;  // type lmtp
  PipeTransportSettings pipe;  // type pipe
  std::string origin;          // "file:line:column" of the entry
};

// The transport called `name` among `configured` (the `transports:` entries) or the built-in
// ones; nullopt when there is none. transports.cc.
std::optional<TransportConfig> findTransport(const std::vector<TransportConfig>& configured,
                                             std::string_view name);
// "name:nexthop" (or a bare "name") when findTransport() knows `name`; nullopt otherwise (a
// relay.transport value may also be a plain next hop).
std::optional<TransportRef> transportRef(const std::vector<TransportConfig>& configured,
                                         std::string_view text);

struct Delivery {
  bool maildir_fsync = true;  // delivery.maildir.fsync; Default: true
  // delivery.transport (Postfix's virtual_transport): how mail for mailboxes of local domains
  // is delivered when no relay.transport entry says otherwise, e.g. {"lmtp",
  // "unix:/run/dovecot/lmtp"}. Default: {"virtual", ""}, the Maildir agent.
  TransportRef transport{"virtual", ""};
  // delivery.sieve: Sieve scripts run when the Maildir agent delivers (docs/sieve.md): a global
  // script before the user's own and one after it (Dovecot's sieve_before / sieve_after), and
  // the users' scripts as <user_scripts>/<domain>/<local part>.sieve. Default: none.
  struct Sieve {
    std::string global_before;  // absolute paths; empty: none
    std::string global_after;
    std::string user_scripts;
    std::string origin;  // "file:line:column" of the section, for errors found later
    bool enabled() const {
      return !global_before.empty() || !global_after.empty() || !user_scripts.empty();
    }
  } sieve;
  // delivery.vacation: auto-replies from a table (PostfixAdmin's `vacation`, docs/vacation.md):
  // the table answers for a recipient with the subject on the first line and the body after
  // it; at most one reply per sender and recipient per once_per. Default: no table.
  struct Vacation {
    std::optional<TableSpec> table;
    uint64_t once_per = 7 * 86400;  // Default: 7d
  } vacation;
  // delivery.quota: per-mailbox quotas kept in Maildir++ `maildirsize` files as Dovecot's
  // `quota = maildir` backend keeps them (docs/quota.md). Default: off (no accounting).
  struct Quota {
    bool enabled = false;  // the key is present
    // address -> "bytes" or "bytes,messages" (0 = unlimited), e.g. PostfixAdmin's
    // mailbox.quota. Default: none (every mailbox gets `default`).
    std::optional<TableSpec> table;
    uint64_t default_bytes = 0;  // delivery.quota.default; Default: 0 (unlimited)
    // delivery.quota.over_quota: defer (452 4.2.2 at RCPT, deferral at delivery, bounced at
    // queue.max_lifetime) or bounce (552 5.2.2, bounced at delivery: Dovecot's
    // quota_full_tempfail = no). Default: defer.
    bool bounce = false;
  } quota;
};

struct Tls {
  struct Certificate {
    std::string cert;  // absolute path, PEM chain
    std::string key;   // absolute path, PEM key
  };
  // First = default, others by SNI. Default: empty; a listener with tls != none then gets a
  // self-signed certificate generated into <state_dir>/tls/ on first start.
  std::vector<Certificate> certificates;
  std::string min_version = "1.2";  // "1.2" | "1.3"; Default: "1.2"
};

struct Auth {
  std::string backend = "table";      // "table" | "dovecot" | "lookup"; Default: table
  std::string credentials_db;         // absolute; Default: <state_dir>/credentials.db
  std::string dovecot_socket;         // required when backend is dovecot
  // backend lookup: user name -> crypt(3) hash (a "{SCHEME}" prefix is skipped), any table.
  std::optional<TableSpec> credentials;
  std::vector<std::string> mechanisms = {"PLAIN", "LOGIN"};  // upper-cased
  // sender address -> comma-separated users allowed to use it (smtpd_sender_login_maps).
  // Default: none (then every address in a local domain belongs to the user of that name).
  std::optional<TableSpec> sender_login;
};

// Outbound SMTP (docs/relay.md).
struct Relay {
  // Clients allowed to relay by permit_mynetworks. Default: [127.0.0.1/32, "::1/128"]
  std::vector<std::string> mynetworks = {"127.0.0.1/32", "::1/128"};
  std::string mynetworks_origin;  // "file:line:column" of the list, for error messages
  // mynetworks written as a table reference (e.g. "cidr:/etc/petrel/mynetworks"): a client is
  // in it when the table finds its address. Then `mynetworks` is empty.
  std::optional<TableSpec> mynetworks_table;
  std::optional<NextHop> relayhost;  // Default: null (deliver by MX)
  struct Credentials {
    std::string user;
    std::string password;       // first line of password_file, read at load time
    std::string password_file;  // absolute
    bool plaintext = false;     // AUTH allowed without TLS; Default: false
  };
  std::optional<Credentials> relayhost_auth;  // Default: null
  std::optional<TableSpec> transport;         // domain -> next hop; Default: null
  TlsPolicy tls = TlsPolicy::May;             // Default: may
  std::optional<TableSpec> tls_policy;        // domain -> none|may|encrypt|verify
  std::string tls_ca_file = "/etc/ssl/certs/ca-certificates.crt";
  uint32_t destination_concurrency = 20;      // Default: 20
  uint64_t connection_cache_time = 5;         // seconds; Default: 5s
  struct Timeouts {  // seconds; defaults from RFC 5321 4.5.3.2
    uint64_t connect = 30, greeting = 300, command = 300, data_init = 120, data_block = 180,
             data_done = 600;
  } timeouts;
};

struct Dns {
  // "ip[:port]" entries. Default: empty = the nameservers of /etc/resolv.conf.
  std::vector<std::string> servers;
};

// One check of a restriction list, kept as written: the config does not know check names.
// policy/ interprets the text; server/config_checks.cc validates it when the config loads.
struct CheckSpec {
  std::string text;    // "permit_mynetworks", "check_client_access cidr:/etc/petrel/x.cidr"
  std::string origin;  // "file:line:column" of the entry, or "(built-in)"
  // Where it sits in the file's structure, for messages: "restrictions.default.recipient[2]".
  std::string path;
  bool operator==(const CheckSpec&) const = default;
};

// Postfix-style restriction lists for one listener; check names as in Postfix.
struct RestrictionSet {
  // Per stage (Postfix smtpd_client_restrictions, smtpd_helo_restrictions, ...), in order.
  // Default: empty. An entry "NAME ARG" whose ARG resolves as a table reference (a name under
  // tables:, or "type:argument") has that table in access_tables under ARG, and its text reads
  // "NAME ARG" with single spacing; any other entry keeps its text as written.
  std::vector<CheckSpec> client, helo, sender, recipient;
  // The DATA stage (before the 354; smtpd_data_restrictions) and the end of data (after the
  // content, before the 250; smtpd_end_of_data_restrictions). Default: empty.
  std::vector<CheckSpec> data, end_of_data;
  // smtpd_delay_reject: evaluate the client, helo and sender lists at RCPT rather than at
  // their own stages. Default: true.
  bool delay_reject = true;
  std::string origin;  // "file:line:column"
  // The tables the checks' arguments name, by their reference text.
  std::map<std::string, TableSpec> access_tables;
  // Arguments that looked like a table reference but did not resolve, with the loader's text
  // for the problem ("unknown table 'x'", "'cidr:' needs a path, ..."); empty when the table
  // is declared but broken (its own error says so). Reported only by a check that takes a
  // table (the config cannot know which do): see config_checks.cc.
  std::map<std::string, std::string> table_errors;

  // The stage lists with their keys, in the order a session meets them.
  std::array<std::pair<std::string_view, const std::vector<CheckSpec>*>, 6> stages() const;
};

// Built-in greylisting for check_greylist (docs/configuration.md; postgrey's options).
struct Greylisting {
  bool enabled = false;                // Default: false (check_greylist is then an error)
  uint64_t delay = 300;                // seconds; Default: 5m (postgrey --delay)
  uint64_t max_age = 2 * 86400;        // seconds not seen before forgotten; Default: 2d
  uint32_t auto_whitelist_after = 5;   // Default: 5; 0 = off (--auto-whitelist-clients)
  uint32_t ipv4_prefix = 24;           // networks.ipv4; Default: 24 (--ipv4cidr)
  uint32_t ipv6_prefix = 64;           // networks.ipv6; Default: 64 (--ipv6cidr)
  std::string database;                // absolute; Default: <state_dir>/greylist.db
};

// srs: the Sender Rewriting Scheme for mail we forward (docs/srs.md; postsrsd's settings under
// its names). Present = on: forwarded mail gets an SRS0/SRS1 envelope sender at `domain`, and
// RCPT TO an SRS address at `domain` is reversed (hash and age checked).
struct Srs {
  std::string domain;                        // SRS_DOMAIN, lower-cased; empty: SRS is off
  std::vector<std::string> secrets;          // the first signs, all verify; never logged
  std::string secrets_file;                  // absolute, or empty (secrets given inline)
  std::vector<std::string> exclude_domains;  // SRS_EXCLUDE_DOMAINS: ".x" = below x only
  uint64_t max_age = 21 * 86400;             // seconds, whole days; Default: 21d
  uint32_t hash_length = 4;                  // SRS_HASHLENGTH; Default: 4
  uint32_t hash_min = 4;                     // SRS_HASHMIN; Default: hash_length
  char separator = '=';                      // SRS_SEPARATOR: = + -; Default: =
  bool enabled() const { return !domain.empty(); }
};

// dkim: DKIM verification on receipt and signing of our users' mail (docs/dkim.md). The key
// files are checked when the config loads (server/config_checks.cc: readable, a PEM key of the
// algorithm's type, RSA of at least 1024 bits).
struct Dkim {
  bool verify = true;  // verify signatures on receipt; Default: true
  struct SignEntry {
    std::string domain;                    // d=, lower-cased
    std::string selector;                  // s=
    std::string key;                       // absolute path of the PEM private key
    std::string algorithm = "rsa-sha256";  // rsa-sha256 | ed25519-sha256; Default: rsa-sha256
    std::vector<std::string> headers;      // fields to sign; Default: empty = the built-in list
    std::string origin;                    // "file:line:column" of the entry
    std::string key_origin;                // of its key: value
  };
  // Every entry of a domain signs (two selectors during a key rotation). Default: none.
  std::vector<SignEntry> sign;
};

// dmarc: DMARC (RFC 7489) verification of received mail: what Petrel does when the From:
// domain's policy says reject or quarantine (docs/dmarc.md, docs/configuration.md).
struct Dmarc {
  // Evaluate DMARC for mail from outside (not mynetworks, not authenticated) and write the
  // result into Authentication-Results. Default: true.
  bool verify = true;
  // A failing message whose policy is p=reject: reject -> 550 5.7.1; quarantine -> as
  // on_quarantine says; none -> deliver (the header says dis=none). Default: reject.
  enum class OnReject { Reject, Quarantine, None };
  OnReject on_reject = OnReject::Reject;
  // p=quarantine (and a reject sampled out by pct=): hold -> held in the queue (Postfix HOLD);
  // header -> delivered, Authentication-Results says dis=quarantine for the mailbox's spam
  // rule; none -> delivered, dis=none. Default: header.
  enum class OnQuarantine { Hold, Header, None };
  OnQuarantine on_quarantine = OnQuarantine::Header;
  // The Public Suffix List, read at start and on reload. Default: Debian's
  // /usr/share/publicsuffix/public_suffix_list.dat (package publicsuffix).
  std::string public_suffix_list = "/usr/share/publicsuffix/public_suffix_list.dat";
  // Aggregate reports (rua=, RFC 7489 7.2): record each evaluated message. Default: off.
  struct Reports {
    bool enabled = false;
    std::string database;  // absolute; Default: <state_dir>/dmarc.db
    std::string org_name;  // <org_name> of the report; Default: the hostname
    std::string email;     // <email> of the report and its sender; Default: postmaster@hostname
  } reports;
};

// checks: Postfix's built-in content inspection (header_checks(5)) in the content pass on
// receipt (docs/checks.md): each a table reference, normally "regexp:/etc/petrel/x" or
// "pcre:/etc/petrel/x"; its value is an action (REJECT, WARN, HOLD, PREPEND, ...). Tables that
// answer from memory only (inline, file, regexp, pcre, cidr): the pass runs on the loop.
struct Checks {
  std::optional<TableSpec> header;         // header_checks; Default: none
  std::optional<TableSpec> mime_header;    // mime_header_checks; Default: header
  std::optional<TableSpec> nested_header;  // nested_header_checks; Default: header
  std::optional<TableSpec> body;           // body_checks; Default: none
  // body_checks_size_limit: octets of each MIME part's body that body checks read.
  // Default: 51200.
  uint64_t body_size_limit = 51200;
  bool any() const { return header || mime_header || nested_header || body; }
};

// restriction_classes (Postfix smtpd_restriction_classes): named lists of checks that an access
// map's value may name, run in place of the value ("from_outside: [permit_mynetworks,
// reject]"). Tables of their checks resolve as in a RestrictionSet. Default: none.
struct RestrictionClasses {
  std::map<std::string, std::vector<CheckSpec>> lists;
  std::map<std::string, std::string> origins;  // of each class name, "file:line:column"
  std::map<std::string, TableSpec> access_tables;
  std::map<std::string, std::string> table_errors;
};

struct Status {
  std::optional<Endpoint> address;  // Default: 127.0.0.1:8025; null disables
};

// policy_service: check_policy_service's client settings where a check does not override them
// (Postfix's smtpd_policy_service_*; docs/configuration.md).
struct PolicyService {
  uint64_t timeout = 100;      // seconds, per try (connect, write, read); Default: 100s
  uint64_t max_idle = 300;     // seconds an unused connection stays open; Default: 300s
  uint64_t max_ttl = 1000;     // seconds after which a connection is not reused; Default: 1000s
  uint32_t try_limit = 2;      // tries per request; Default: 2
  uint64_t retry_delay = 1;    // seconds between tries; Default: 1s
  uint32_t request_limit = 0;  // requests per connection, 0 = no limit; Default: 0
  // The access(5) action when the service fails. Default: "451 4.3.5 Server configuration
  // problem"
  std::string default_action = "451 4.3.5 Server configuration problem";
  std::string policy_context;  // sent as the policy_context attribute; Default: empty
};

// filters: content filters on receipt (docs/milter.md).
struct Filters {
  std::vector<MilterEndpoint> milters;  // Default: none
  // What a milter that cannot be reached, times out or breaks the protocol means (Postfix
  // milter_default_action). Default: tempfail
  enum class MilterDefaultAction { Tempfail, Accept, Reject };
  MilterDefaultAction milter_default_action = MilterDefaultAction::Tempfail;
  uint64_t milter_connect_timeout = 30;   // seconds; Default: 30s
  uint64_t milter_command_timeout = 30;   // seconds, each command but the content; Default: 30s
  uint64_t milter_content_timeout = 300;  // seconds, body chunks and end of message; Default: 300s
  // After-queue content filter (Postfix content_filter, docs/filters.md): every message
  // received is delivered to this transport:nexthop for all its recipients instead of their
  // targets; the filter re-injects it. Default: unset = none
  std::optional<TransportRef> content_filter;
};

struct Log {
  std::optional<std::string> file;  // Default: null = stderr only
  std::string syslog_name = "petrel";
  bool debug = false;
};

struct Config {
  std::string source_file;  // absolute path of the YAML file
  std::string hostname;     // Default: the system host name
  std::string mail_root;    // absolute; Default: /var/lib/petrel/mail
  std::string state_dir;    // absolute; Default: /var/lib/petrel
  uint32_t workers = 0;     // reactor threads; Default: auto (0 = number of cores)
  std::vector<Listener> listeners;
  std::vector<std::string> local_domains;  // lower-cased
  std::vector<std::string> local_domain_origins;  // "file:line:column" of each, same order
  std::vector<std::string> relay_domains;  // domains.relay, lower-cased; Default: none
  // domains.local / domains.relay written as a table reference instead of a list: a domain is
  // a member when the table finds it (PostfixAdmin's domain table).
  std::optional<TableSpec> local_domains_table;
  std::optional<TableSpec> relay_domains_table;
  std::map<std::string, TableSpec> tables;
  std::optional<TableSpec> mailboxes;  // address -> Maildir path below mail_root
  std::vector<TableSpec> aliases;      // searched in order
  std::string recipient_delimiter;     // Default: "" (none); e.g. "+"
  // canonical.sender / canonical.recipient: address rewriting of the envelope and, for the
  // clients canonical.headers names, of header fields (Postfix canonical_maps;
  // docs/configuration.md). Default: none.
  std::optional<TableSpec> canonical_sender;
  std::optional<TableSpec> canonical_recipient;
  // local: mail from relay.mynetworks or an authenticated client (Postfix
  // local_header_rewrite_clients = permit_mynetworks, permit_sasl_authenticated); all; none.
  enum class HeaderRewriteClients { Local, All, None };
  HeaderRewriteClients canonical_headers = HeaderRewriteClients::Local;
  Limits limits;
  Tls tls;
  Auth auth;
  Relay relay;
  // Named restriction sets; listeners pick one by name. Defaults (always present unless the
  // config defines a set of the same name):
  //   default:    recipient: [permit_mynetworks, permit_sasl_authenticated,
  //                           reject_unauth_destination]
  //   submission: recipient: [reject_sender_login_mismatch, permit_sasl_authenticated, reject]
  std::map<std::string, RestrictionSet> restrictions;
  RestrictionClasses restriction_classes;
  Smtp smtp;
  Queue queue;
  Delivery delivery;
  // transports: the named transports besides the built-in ones (TransportConfig), in config
  // order; findTransport() also knows the built-in ones.
  std::vector<TransportConfig> transports;
  // findTransport() and transportRef() over these.
  std::optional<TransportConfig> findTransport(std::string_view name) const {
    return config::findTransport(transports, name);
  }
  std::optional<TransportRef> transportRef(std::string_view text) const {
    return config::transportRef(transports, text);
  }
  Dns dns;
  Status status;
  Log log;
  PolicyService policy_service;
  Greylisting greylisting;
  Dkim dkim;
  Dmarc dmarc;
  Checks checks;
  Filters filters;
  Srs srs;
};

// The milters of a listener's sessions: its own list, or filters.milters.
inline const std::vector<MilterEndpoint>& listenerMilters(const Config& c, const Listener& l) {
  if (l.receive_override.no_milters) {
    static const std::vector<MilterEndpoint> none;
    return none;
  }
  return l.milters ? *l.milters : c.filters.milters;
}

// The after-queue content filter of mail received on `l`: its own, or filters.content_filter.
inline std::optional<TransportRef> listenerContentFilter(const Config& c, const Listener& l) {
  if (l.content_filter) {
    if (l.content_filter->name.empty()) return std::nullopt;
    return l.content_filter;
  }
  return c.filters.content_filter;
}

// One problem found in the file; `where` is "file:line:column".
struct ConfigError {
  std::string where;
  std::string message;
  std::string toString() const { return where + ": " + message; }
};

struct LoadResult {
  std::optional<Config> config;       // set only when errors is empty
  std::vector<ConfigError> errors;    // all of them, sorted by line and column
};

// A table reference as the config's keys take it, for `petrel table query`: the name of an
// entry under `c.tables`, or an inline "type:path" of a file-based type (file, regexp, cidr),
// a relative path being relative to the directory of c.source_file. Config errors name the
// problem the way the loader would ("unknown table type 'x' (known: ...)").
Result<TableSpec> resolveTableReference(const Config& c, std::string_view ref);

// A check that an area runs over a parsed Config, adding what it finds wrong (`where` as
// "file:line:column", usually a CheckSpec's origin). Validators run whenever the YAML could be
// read, also when the loader found problems (so that one run names every error); they must not
// assume that references resolve. Their errors are sorted in with the loader's. An error at
// the origin of a check in a restriction set marks that set broken: a listener naming it gets
// no second "unknown restriction set" error, and the set is not listed as known.
using Validator = std::function<void(const Config&, std::vector<ConfigError>&)>;

// Reads and validates the YAML file at `path`. Never throws (nor may the validators).
LoadResult loadConfig(const std::string& path, const std::vector<Validator>& validators = {});
// Same, from text (tests); `name` plays the file name in messages and becomes
// Config::source_file; relative paths resolve against `base_dir` (made absolute first).
LoadResult loadConfigFromString(const std::string& yaml, const std::string& name,
                                const std::string& base_dir,
                                const std::vector<Validator>& validators = {});

}  // namespace petrel::config
