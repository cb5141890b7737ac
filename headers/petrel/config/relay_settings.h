// `relay:` and `dns:`: outbound SMTP and the resolver (read by source/config/{relay,dns}.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "petrel/config/endpoints.h"
#include "petrel/config/table_spec.h"

namespace petrel::config {

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

}  // namespace petrel::config
