// `checks:` and `filters:`: content inspection on receipt (read by source/config/{checks,
// filters}.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "petrel/config/endpoints.h"
#include "petrel/config/table_spec.h"

namespace petrel::config {

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

}  // namespace petrel::config
