// `status:` and `log:` (read by source/config/{status,log}.cc).
#pragma once

#include <optional>
#include <string>

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

}  // namespace petrel::config
