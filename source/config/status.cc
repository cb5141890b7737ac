// The `status:` section: the HTTP status endpoint's address, which must be a loopback address
// unless TLS and the login are on, and must not overlap a listener (reported at the status address, or at the listener when the
// default overlaps).
#include <fmt/format.h>

#include <optional>

#include "loader.h"

namespace petrel::config::detail {

void Loader::loadStatus(const Section& top, Config& c) {
  std::optional<YAML::Mark> address_mark;  // set when status.address was written
  if (const Field* f = top.find("status")) {
    if (f->value.IsNull()) {
      c.status.address.reset();  // "status: null" reads as "no status endpoint"
      return;
    }
    Section s(reporter_, *f);
    s.allowOnly({"address", "tls", "login"});
    setBool(s, "tls", c.status.tls);
    setBool(s, "login", c.status.login);
    if (const Field* address = s.find("address")) {
      address_mark = address->mark();
      c.status.address.reset();
      if (!address->value.IsNull()) {
        c.status.address = endpoint(*address);
      }
    }
  }
  if (!c.status.address) {
    return;
  }
  // The dashboard shows addresses and acts on the queue: beyond this host only over TLS and
  // behind a login (docs/dashboard.md).
  const std::string& host = c.status.address->host;
  if (address_mark && !host.starts_with("127.") && host != "::1" &&
      !(c.status.tls && c.status.login)) {
    reporter_.add(*address_mark,
                  fmt::format("status.address {} is not a loopback address: the status endpoint "
                              "shows addresses and acts on the queue, so beyond 127.0.0.1 and ::1 "
                              "it needs status.tls: true and status.login: true",
                              c.status.address->toString()));
  }
  for (size_t i = 0; i < c.listeners.size(); ++i) {
    const Listener& l = c.listeners[i];
    if (overlaps(*c.status.address, l.address)) {
      reporter_.add(address_mark.value_or(listener_marks_[i]),
                    fmt::format("the status endpoint {} overlaps listener '{}' ({})",
                                c.status.address->toString(), l.name, l.address.toString()));
    }
  }
}

}  // namespace petrel::config::detail
