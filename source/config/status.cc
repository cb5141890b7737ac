// The `status:` section: the HTTP status endpoint's address, which must be a loopback address
// and must not overlap a listener (reported at the status address, or at the listener when the
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
    s.allowOnly({"address"});
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
  // The dashboard shows addresses and acts on the queue; without TLS and a login (not built
  // yet, docs/dashboard.md) it may only be reached from this host.
  const std::string& host = c.status.address->host;
  if (address_mark && !host.starts_with("127.") && host != "::1") {
    reporter_.add(*address_mark,
                  fmt::format("status.address {} is not a loopback address: the status endpoint "
                              "has no TLS or login yet, so it listens on 127.0.0.1 or ::1 only "
                              "(put a TLS proxy with a login in front for remote use)",
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
