// The `limits:` section: sizes, counts and timeouts of an SMTP session (server/ and smtp/
// enforce them). RFC 5321's minimum line lengths are the lowest values accepted.
// `limits.rate` holds the per-client event rates of Postfix's anvil (0 = off).
#include <fmt/format.h>

#include "petrel/core/cidr.h"

#include "loader.h"

namespace petrel::config::detail {

void Loader::loadLimits(const Section& top, Config& c) {
  const Field* f = top.find("limits");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"message_size", "recipients_per_message", "connections", "connections_per_client",
               "command_line_length", "text_line_length", "errors_per_session", "idle_timeout",
               "data_timeout", "session_timeout", "auth_failures_per_client", "rate"});
  Limits& l = c.limits;
  setSize(s, "message_size", l.message_size);
  setNumber(s, "recipients_per_message", l.recipients_per_message, 1);
  setNumber(s, "connections", l.connections, 1);
  setNumber(s, "connections_per_client", l.connections_per_client, 1);
  setNumber(s, "command_line_length", l.command_line_length, MinCommandLineLength);
  setNumber(s, "text_line_length", l.text_line_length, MinTextLineLength);
  setNumber(s, "errors_per_session", l.errors_per_session, 1);
  setDuration(s, "idle_timeout", l.idle_timeout);
  setDuration(s, "data_timeout", l.data_timeout);
  setDuration(s, "session_timeout", l.session_timeout);
  setNumber(s, "auth_failures_per_client", l.auth_failures_per_client, 1);
  if (const Field* r = s.find("rate")) {
    loadRateLimits(*r, l.rate);
  }
}

// limits.rate: events per time unit and client address; 0 (the default) turns one off.
void Loader::loadRateLimits(const Field& f, RateLimits& r) {
  Section s(reporter_, f);
  s.allowOnly({"connections", "messages", "recipients", "auth", "new_tls_sessions", "time_unit",
               "exceptions"});
  setNumber(s, "connections", r.connections, 0);
  setNumber(s, "messages", r.messages, 0);
  setNumber(s, "recipients", r.recipients, 0);
  setNumber(s, "auth", r.auth, 0);
  setNumber(s, "new_tls_sessions", r.new_tls_sessions, 0);
  setDuration(s, "time_unit", r.time_unit);
  const Field* e = s.find("exceptions");
  if (e == nullptr) {
    return;
  }
  if (!e->value.IsSequence()) {
    report(*e, fmt::format("expected a list of networks such as [127.0.0.1/32] ([] for none), "
                           "got {}",
                           describe(e->value)));
    return;
  }
  std::vector<std::string> blocks;
  size_t i = 0;
  for (const YAML::Node& node : e->value) {
    Field item = element(*e, node, i++);
    auto text = scalar(item, "a network such as 192.0.2.0/24");
    if (!text) {
      continue;
    }
    Result<Cidr> cidr = Cidr::parse(*text);
    if (!cidr) {
      report(item, cidr.error().message());
      continue;
    }
    blocks.push_back(cidr->toString());
  }
  r.exceptions = std::move(blocks);
}

}  // namespace petrel::config::detail
