// `status:` and `log:` (read by source/config/{status,log}.cc).
#pragma once

#include <optional>
#include <string>

#include "petrel/config/endpoints.h"

namespace petrel::config {

struct Status {
  std::optional<Endpoint> address;  // Default: 127.0.0.1:8025; null disables
};

struct Log {
  std::optional<std::string> file;  // Default: null = stderr only
  std::string syslog_name = "petrel";
  bool debug = false;
};

}  // namespace petrel::config
