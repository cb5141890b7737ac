// The `tls:` section: certificate files (resolved, not opened: tls/ reports files it cannot
// read when it starts) and the lowest protocol version.
#include <fmt/format.h>

#include "loader.h"

namespace petrel::config::detail {

void Loader::loadTls(const Section& top, Config& c) {
  const Field* f = top.find("tls");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"certificates", "min_version"});
  if (const Field* certs = s.find("certificates"); certs != nullptr && !certs->value.IsNull()) {
    if (!certs->value.IsSequence()) {
      report(*certs, fmt::format("expected a list of {{cert, key}} entries, got {}",
                                 describe(certs->value)));
    } else {
      size_t i = 0;
      for (const YAML::Node& node : certs->value) {
        Section entry(reporter_, element(*certs, node, i++));
        if (!entry.isMapping()) {
          continue;
        }
        entry.allowOnly({"cert", "key"});
        // Only resolved here: the TLS area reports files it cannot read when it starts.
        const Field* cert = entry.require("cert");
        const Field* key = entry.require("key");
        std::optional<std::string> cert_path = cert ? path(*cert) : std::nullopt;
        std::optional<std::string> key_path = key ? path(*key) : std::nullopt;
        if (cert_path && key_path) {
          c.tls.certificates.push_back({*cert_path, *key_path});
        }
      }
    }
  }
  if (const Field* v = s.find("min_version")) {
    // Quoted or not: YAML reads 1.2 as the scalar "1.2" either way.
    if (auto version = oneOf<std::string_view>(*v, {{"1.2", "1.2"}, {"1.3", "1.3"}})) {
      c.tls.min_version = *version;
    }
  }
}

}  // namespace petrel::config::detail
