// The settings of inbound SMTP sessions: `limits:`, `smtp:`, `tls:` and `auth:` (read by
// source/config/{limits,smtp,tls,auth}.cc).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/table_spec.h"

namespace petrel::config {

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

}  // namespace petrel::config
