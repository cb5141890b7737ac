// Router: the delivery target of a final address (resolve: its transport and, per agent kind,
// next hop, Maildir or nexthop), and the next hop and TLS policy of a non-local domain
// (docs/relay.md, "Routing"; docs/transports.md).
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

std::string_view agentName(Transport transport) {
  switch (transport) {
    case Transport::Virtual: return "maildir";
    case Transport::Smtp: return "smtp";
    case Transport::Lmtp: return "lmtp";
    case Transport::Pipe: return "pipe";
  }
  return "?";
}

// What relay.transport says for an address: nothing, a transport with its nexthop, or (the
// value is a plain next hop) smtp with that next hop.
struct Router::TransportEntry {
  bool found = false;
  config::TransportRef ref;
};

Result<Router::TransportEntry> Router::transportEntry(std::string_view address,
                                                      std::string_view domain) const {
  TransportEntry entry;
  if (!transport_) return entry;
  std::vector<std::string> keys = addressKeys(address);  // Postfix's order
  for (std::string& key : domainKeys(toLower(domain))) keys.push_back(std::move(key));
  for (const std::string& key : keys) {
    lookup::LookupResult r = transport_->lookup(key);
    if (r.status == lookup::LookupStatus::NotFound) continue;
    if (r.status != lookup::LookupStatus::Found) return Error::temporary(r.error);
    entry.found = true;
    if (auto ref = config::transportRef(transports_, r.value)) {
      entry.ref = std::move(*ref);
      return entry;
    }
    if (auto hop = config::parseNextHop(r.value); !hop) {
      return Error::temporary(fmt::format("{}: entry for {}: {}", transport_->describe(), key,
                                          hop.error().message()));
    }
    entry.ref = {"smtp", std::string(trim(r.value))};
    return entry;
  }
  return entry;
}

// An SMTP target for `domain`: `nexthop` when given; else, for an entry that names a transport
// with an empty nexthop ("smtp:"), the domain by MX as in transport(5); else relayhost or MX.
Result<DeliveryTarget> Router::smtpTarget(std::string_view domain, std::string_view nexthop,
                                          bool from_table) const {
  config::NextHop hop;
  if (!nexthop.empty()) {
    auto parsed = config::parseNextHop(nexthop);
    if (!parsed) {
      return Error::temporary(fmt::format("next hop '{}': {}", nexthop, parsed.error().message()));
    }
    hop = std::move(parsed.value());
  } else if (from_table) {
    hop.host = toLower(domain);
  } else {
    auto fallback = nextHop(domain);
    if (!fallback) return fallback.error();
    hop = std::move(fallback.value());
  }
  DeliveryTarget target;
  target.transport = Transport::Smtp;
  target.tls = tlsPolicy(hop.mx_lookup ? domain : std::string_view(hop.host));
  target.next_hop = std::move(hop);
  return target;
}

Result<DeliveryTarget> Router::resolve(std::string_view address, Transport* attempted) const {
  MailAddress parsed(address);
  std::string_view domain = parsed.hasDomain() ? parsed.domain() : std::string_view();
  DomainClass c = classifyDomain(domain);
  bool local = c.kind == DomainKind::Local;
  auto report = [&](Transport t) {
    if (attempted != nullptr) *attempted = t;
  };
  if (c.kind == DomainKind::TempFail) {
    report(Transport::Virtual);
    return Error::temporary(c.error);
  }
  auto entry = transportEntry(address, domain);
  if (!entry) {
    report(local ? Transport::Virtual : Transport::Smtp);
    return entry.error();
  }
  config::TransportRef ref = entry->found ? entry->ref
                             : local      ? local_transport_
                                          : config::TransportRef{"smtp", ""};
  return targetOf(ref, address, domain, entry->found || local, attempted);
}

Result<DeliveryTarget> Router::resolveVia(const config::TransportRef& ref,
                                          std::string_view address,
                                          Transport* attempted) const {
  MailAddress parsed(address);
  std::string_view domain = parsed.hasDomain() ? parsed.domain() : std::string_view();
  return targetOf(ref, address, domain, true, attempted);
}

Result<DeliveryTarget> Router::resolveMessage(std::string_view address,
                                             std::string_view content_filter,
                                             Transport* attempted) const {
  if (content_filter.empty()) return resolve(address, attempted);
  std::optional<config::TransportRef> ref = config::transportRef(transports_, content_filter);
  if (!ref) {
    if (attempted != nullptr) *attempted = Transport::Smtp;
    return Error::temporary(fmt::format(
        "content filter {}: the configuration has no such transport", content_filter));
  }
  return resolveVia(*ref, address, attempted);
}

Result<DeliveryTarget> Router::targetOf(const config::TransportRef& ref, std::string_view address,
                                        std::string_view domain, bool from_table,
                                        Transport* attempted) const {
  auto report = [&](Transport t) {
    if (attempted != nullptr) *attempted = t;
  };
  std::optional<config::TransportConfig> transport = config::findTransport(transports_, ref.name);
  if (!transport) {  // a transport removed by a reload, or (resolve) cannot happen
    report(Transport::Smtp);
    return Error::temporary(fmt::format("unknown transport '{}'", ref.name));
  }
  report(transport->type);
  DeliveryTarget target;
  switch (transport->type) {
    case Transport::Virtual: {
      auto dir = maildirFor(address);
      if (!dir) return dir.error();
      target.maildir = std::move(dir.value());
      break;
    }
    case Transport::Smtp: {
      auto smtp = smtpTarget(domain, ref.nexthop, from_table);
      if (!smtp) return smtp.error();
      target = std::move(smtp.value());
      break;
    }
    case Transport::Lmtp:
      if (ref.nexthop.empty()) {
        return Error::temporary(fmt::format(
            "transport {} has no next hop: write {}:unix:/path or {}:inet:host:port", ref.name,
            ref.name, ref.name));
      }
      target.nexthop = ref.nexthop;
      break;
    case Transport::Pipe:
      target.nexthop = ref.nexthop.empty() ? toLower(domain) : ref.nexthop;  // as pipe(8)
      break;
  }
  target.transport = transport->type;
  target.transport_name = ref.name;
  return target;
}

bool Router::isRelayDomain(std::string_view domain) const {
  return classifyDomain(domain).kind == DomainKind::Relay;
}

Result<config::NextHop> Router::nextHop(std::string_view domain_text) const {
  std::string domain = toLower(domain_text);
  auto entry = transportEntry("", domain);
  if (!entry) return entry.error();
  if (entry->found) {
    auto t = config::findTransport(transports_, entry->ref.name);
    if (t && t->type == Transport::Smtp && entry->ref.nexthop.empty()) {
      config::NextHop hop;  // "smtp:": the domain itself, as transport(5)
      hop.host = domain;
      return hop;
    }
    if (t && t->type == Transport::Smtp) {
      auto hop = config::parseNextHop(entry->ref.nexthop);
      if (!hop) {
        return Error::temporary(fmt::format("{}: entry for {}: {}", transport_->describe(),
                                            domain, hop.error().message()));
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
