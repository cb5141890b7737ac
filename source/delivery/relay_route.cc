// Router: the delivery target of a final address (resolve), and the next hop and TLS policy
// of a non-local domain (docs/relay.md, "Routing").
#include <fmt/format.h>

#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"
#include "petrel/delivery/router.h"

namespace petrel::delivery {

namespace {

// The domain itself, then each parent as ".parent" (Postfix transport_maps matching with
// parent_domain_matches_subdomains off: "example.org" does not match "a.example.org", but
// ".example.org" does).
std::vector<std::string> domainKeys(std::string_view domain) {
  std::vector<std::string> keys{std::string(domain)};
  for (size_t dot = domain.find('.'); dot != std::string_view::npos;
       dot = domain.find('.', dot + 1)) {
    keys.push_back(std::string(domain.substr(dot)));
  }
  return keys;
}

}  // namespace

std::string_view toString(Transport transport) {
  switch (transport) {
    case Transport::Maildir: return "maildir";
    case Transport::Smtp: return "smtp";
  }
  return "?";
}

Result<DeliveryTarget> Router::resolve(std::string_view address, Transport* attempted) const {
  MailAddress parsed(address);
  std::string_view domain = parsed.hasDomain() ? parsed.domain() : std::string_view();
  DomainClass c = classifyDomain(domain);
  DeliveryTarget target;
  target.transport = c.kind == DomainKind::Local || c.kind == DomainKind::TempFail
                         ? Transport::Maildir
                         : Transport::Smtp;
  if (attempted != nullptr) *attempted = target.transport;
  if (c.kind == DomainKind::TempFail) return Error::temporary(c.error);
  if (target.transport == Transport::Maildir) {
    auto dir = maildirFor(address);
    if (!dir) return dir.error();
    target.maildir = std::move(dir.value());
    return target;
  }
  auto hop = nextHop(domain);
  if (!hop) return hop.error();
  target.tls = tlsPolicy(hop->mx_lookup ? domain : std::string_view(hop->host));
  target.next_hop = std::move(hop.value());
  return target;
}

bool Router::isRelayDomain(std::string_view domain) const {
  return classifyDomain(domain).kind == DomainKind::Relay;
}

Result<config::NextHop> Router::nextHop(std::string_view domain_text) const {
  std::string domain = toLower(domain_text);
  if (transport_) {
    for (const std::string& key : domainKeys(domain)) {
      lookup::LookupResult r = transport_->lookup(key);
      if (r.status == lookup::LookupStatus::NotFound) continue;
      if (r.status != lookup::LookupStatus::Found) return Error::temporary(r.error);
      auto hop = config::parseNextHop(r.value);
      if (!hop) {
        return Error::temporary(fmt::format("{}: entry for {}: {}", transport_->describe(), key,
                                            hop.error().message()));
      }
      return hop;
    }
  }
  // As Postfix's relay_transport: mail for domains we relay for goes to their own MX (we are
  // their backup MX or gateway), not to the smarthost meant for the rest of the world.
  if (relayhost_) {
    DomainClass c = classifyDomain(domain);
    if (c.kind == DomainKind::TempFail) return Error::temporary(c.error);
    if (c.kind != DomainKind::Relay) return *relayhost_;
  }
  config::NextHop hop;
  hop.host = domain;
  return hop;
}

config::TlsPolicy Router::tlsPolicy(std::string_view domain_text) const {
  if (!tls_policy_) return default_tls_;
  for (const std::string& key : domainKeys(toLower(domain_text))) {
    lookup::LookupResult r = tls_policy_->lookup(key);
    if (r.status == lookup::LookupStatus::NotFound) continue;
    if (r.status == lookup::LookupStatus::Found) {
      if (auto p = config::parseTlsPolicy(trim(r.value))) return *p;
    }
    // A broken entry or table must not weaken TLS.
    return std::max(default_tls_, config::TlsPolicy::Encrypt);
  }
  return default_tls_;
}

}  // namespace petrel::delivery
