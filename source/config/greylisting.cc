// The `greylisting:` section: the settings of the built-in greylisting that check_greylist
// applies (postgrey's options under clear names: delay = --delay, max_age = --max-age,
// auto_whitelist_after = --auto-whitelist-clients, networks = --ipv4cidr/--ipv6cidr of
// --lookup-by-subnet). Whether a restriction list uses check_greylist while the section is
// disabled is checked by server/config_checks.cc, which knows the check names.
#include <fmt/format.h>

#include "loader.h"

namespace petrel::config::detail {

void Loader::loadGreylisting(const Section& top, Config& c) {
  Greylisting& g = c.greylisting;
  g.database = resolvePath(c.state_dir, GreylistDbName);
  const Field* f = top.find("greylisting");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"enabled", "delay", "max_age", "auto_whitelist_after", "networks", "database"});
  setBool(s, "enabled", g.enabled);
  setDuration(s, "delay", g.delay);
  setDuration(s, "max_age", g.max_age);
  setNumber(s, "auto_whitelist_after", g.auto_whitelist_after, 0);
  setPath(s, "database", g.database);
  if (g.max_age <= g.delay) {
    // A triplet would be forgotten before its retry could pass.
    const Field* at = s.find("max_age") ? s.find("max_age") : s.find("delay");
    reporter_.add(at ? at->mark() : s.mark(),
                  fmt::format("greylisting.max_age ({}) must be longer than greylisting.delay ({})",
                              formatDuration(g.max_age), formatDuration(g.delay)));
  }
  if (const Field* n = s.find("networks")) {
    Section nets(reporter_, *n);
    nets.allowOnly({"ipv4", "ipv6"});
    if (const Field* v4 = nets.find("ipv4")) {
      if (auto v = number(*v4, 8, 32)) g.ipv4_prefix = static_cast<uint32_t>(*v);
    }
    if (const Field* v6 = nets.find("ipv6")) {
      if (auto v = number(*v6, 16, 128)) g.ipv6_prefix = static_cast<uint32_t>(*v);
    }
  }
}

}  // namespace petrel::config::detail
