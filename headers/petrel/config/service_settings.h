// `status:`, `log:` and `doctor:` (read by source/config/{status,log,doctor}.cc).
#pragma once

#include <optional>
#include <cstdint>
#include <string>
#include <vector>

#include "petrel/config/endpoints.h"

namespace petrel::config {

struct Status {
  std::optional<Endpoint> address;  // Default: 127.0.0.1:8025; null disables
  // HTTPS with the host's certificates (tls.certificates, else the self-signed one), and an
  // HTTP Basic login of an admin user of the credentials database (`petrel user admin`). Both
  // are required for an address that is not loopback. Default: false, false.
  bool tls = false;
  bool login = false;
};

struct Log {
  std::optional<std::string> file;  // Default: null = stderr only
  std::string syslog_name = "petrel";
  bool debug = false;
};

// doctor: `petrel doctor` and the server's periodic run of it (docs/doctor.md).
struct Doctor {
  // How often the server runs the checks (the first run is shortly after start); 0: only
  // `petrel doctor`. Default: 6h.
  uint64_t interval = 6 * 3600;
  // The host's public (outbound) addresses, for PTR, SPF, DNS lists and the MX check.
  // Default: empty = the A and AAAA records of the host name.
  std::vector<std::string> addresses;
  // The DNS lists to look the addresses up in. Default: unset = the zones of every
  // reject_rbl_client in restrictions:, or zen.spamhaus.org and bl.spamcop.net when none.
  std::optional<std::vector<std::string>> dns_lists;
  // The address the open-relay self-test connects from (bound locally). Default: empty = the
  // first of the addresses outside relay.mynetworks, else the system's choice.
  std::string relay_test_source;
  uint64_t min_free_space = 1ull << 30;    // bytes; warn below, fail below a tenth; Default: 1GB
  uint64_t certificate_warning = 14 * 86400;  // seconds; warn when less is left; Default: 14d
};

}  // namespace petrel::config
