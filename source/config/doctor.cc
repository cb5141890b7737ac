// The `doctor:` section: how often the server runs `petrel doctor`'s checks, the host's public
// addresses, the DNS lists, the open-relay test's source address and the thresholds
// (docs/doctor.md).
#include <fmt/format.h>

#include "loader.h"
#include "petrel/core/cidr.h"
#include "petrel/core/strings.h"

namespace petrel::config::detail {

namespace {

bool isAddress(std::string_view s) { return IpAddress::parse(s).has_value(); }

}  // namespace

void Loader::loadDoctor(const Section& top, Config& c) {
  const Field* f = top.find("doctor");
  if (f == nullptr || f->value.IsNull()) {
    return;
  }
  Section s(reporter_, *f);
  if (!s.isMapping()) {
    return;  // Section said so
  }
  s.allowOnly({"interval", "addresses", "dns_lists", "relay_test_source", "min_free_space",
               "certificate_warning"});
  Doctor& d = c.doctor;
  setDuration(s, "interval", d.interval);
  setSize(s, "min_free_space", d.min_free_space);
  setDuration(s, "certificate_warning", d.certificate_warning);
  auto list = [&](const char* key, std::string_view expected, auto&& valid,
                  std::vector<std::string>& out) {
    const Field* l = s.find(key);
    if (l == nullptr) return false;
    if (l->value.IsNull()) return true;
    if (!l->value.IsSequence()) {
      report(*l, fmt::format("expected a list ({}), got {}", expected, describe(l->value)));
      return false;
    }
    size_t i = 0;
    for (const YAML::Node& node : l->value) {
      Field item = element(*l, node, i++);
      if (auto v = scalar(item, expected)) {
        if (!valid(*v)) {
          report(item, fmt::format("'{}' is not {}", *v, expected));
        } else {
          out.push_back(toLower(*v));
        }
      }
    }
    return true;
  };
  list("addresses", "an IP address", isAddress, d.addresses);
  std::vector<std::string> zones;
  if (list("dns_lists", "a DNS list zone such as zen.spamhaus.org",
           [](std::string_view z) { return looksLikeDomain(z); }, zones)) {
    d.dns_lists = std::move(zones);
  }
  if (const Field* r = s.find("relay_test_source")) {
    if (auto v = text(*r)) {
      if (!isAddress(*v)) {
        report(*r, fmt::format("'{}' is not an IP address of this host", *v));
      } else {
        d.relay_test_source = *v;
      }
    }
  }
}

}  // namespace petrel::config::detail
