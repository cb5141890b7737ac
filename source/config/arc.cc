// The `arc:` section: the key ARC sets are sealed with (seal: domain, selector, key,
// algorithm, headers), read like a dkim.sign entry. Which mail is sealed is not configured:
// the mail Petrel forwards for its users (docs/arc.md). The key file is read by
// server/config_checks.cc (config/ has no crypto).
#include <fmt/format.h>

#include "loader.h"

namespace petrel::config::detail {

void Loader::loadArc(const Section& top, Config& c) {
  const Field* f = top.find("arc");
  if (f == nullptr || f->value.IsNull()) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"seal"});
  const Field* seal = s.find("seal");
  if (seal == nullptr || seal->value.IsNull()) {
    return;
  }
  if (!seal->value.IsMap()) {
    report(*seal, fmt::format("expected a map (domain, selector, key), got {}",
                              describe(seal->value)));
    return;
  }
  Dkim::SignEntry out;
  if (loadSigningEntry(*seal, out, true)) {
    c.arc.seal = std::move(out);
  }
}

}  // namespace petrel::config::detail
