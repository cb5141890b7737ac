// One `listeners:` entry (source/config/listeners.cc reads it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "petrel/config/endpoints.h"

namespace petrel::config {

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

}  // namespace petrel::config
