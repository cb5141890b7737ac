// The `dns:` section: the nameservers the resolver asks (addresses only: names would need
// a resolver to resolve).
#include <fmt/format.h>

#include "loader.h"

namespace petrel::config::detail {

void Loader::loadDns(const Section& top, Config& c) {
  const Field* f = top.find("dns");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"servers"});
  const Field* servers = s.find("servers");
  if (servers == nullptr || servers->value.IsNull()) {
    return;
  }
  if (!servers->value.IsSequence()) {
    report(*servers, fmt::format("expected a list such as [\"127.0.0.1:53\"], got {}",
                                 describe(servers->value)));
    return;
  }
  size_t i = 0;
  for (const YAML::Node& node : servers->value) {
    Field item = element(*servers, node, i++);
    auto v = scalar(item, "a server address such as 192.0.2.53 or 127.0.0.1:5353");
    if (!v) {
      continue;
    }
    // "ip", "ip:port", "v6", "[v6]:port": an endpoint, or an address given without a port.
    bool ok = parseEndpoint(*v).ok() || parseEndpoint(*v + ":53").ok() ||
              parseEndpoint("[" + *v + "]:53").ok();
    if (!ok) {
      report(item, fmt::format("'{}' is not a server address (ip, ip:port or [ipv6]:port; "
                               "names are not resolved)",
                               *v));
      continue;
    }
    c.dns.servers.push_back(*v);
  }
}

}  // namespace petrel::config::detail
