// The `limits:` section: sizes, counts and timeouts of an SMTP session (server/ and smtp/
// enforce them). RFC 5321's minimum line lengths are the lowest values accepted.
#include <fmt/format.h>

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
               "data_timeout", "session_timeout", "auth_failures_per_client"});
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
}

}  // namespace petrel::config::detail
