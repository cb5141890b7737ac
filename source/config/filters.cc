// The `filters:` section: content filters on receipt. The milters (Postfix smtpd_milters,
// milter_default_action, milter_*_timeout; docs/milter.md): where each is, what its failure
// means and how long each step may take. Whether a milter answers is learnt per message.
// The after-queue content filter (Postfix content_filter, docs/filters.md), also per listener
// with the listener's receive_override_options.
#include <fmt/format.h>

#include "loader.h"
#include "petrel/core/strings.h"

namespace petrel::config {

Result<MilterEndpoint> parseMilterEndpoint(std::string_view text) {
  MilterEndpoint m;
  m.text = std::string(text);
  if (text.starts_with("unix:") || text.starts_with("local:")) {
    std::string_view path = text.substr(text.find(':') + 1);
    if (!path.starts_with('/')) return Error::config("a unix: milter needs an absolute path");
    if (path.size() > 107) return Error::config("the socket path is longer than 107 octets");
    m.kind = MilterEndpoint::Kind::Unix;
    m.path = std::string(path);
    return m;
  }
  if (!text.starts_with("inet:")) {
    return Error::config("expected inet:host:port or unix:/path (Postfix's milter syntax)");
  }
  Result<Endpoint> e = parseEndpoint(text.substr(5));
  if (!e) return e.error();
  m.kind = MilterEndpoint::Kind::Inet;
  m.host = e->host;
  m.port = e->port;
  return m;
}

Result<MilterEndpoint> parseProxyFilterEndpoint(std::string_view text) {
  // Postfix's smtpd_proxy_filter takes a bare host:port as inet.
  if (text.starts_with("unix:") || text.starts_with("inet:")) return parseMilterEndpoint(text);
  if (text.starts_with("local:")) return Error::config("expected host:port, inet:host:port or unix:/path");
  Result<MilterEndpoint> m = parseMilterEndpoint(fmt::format("inet:{}", text));
  if (m) m->text = std::string(text);
  return m;
}

namespace detail {

std::optional<std::vector<MilterEndpoint>> Loader::milterList(const Field& m) {
  if (!m.value.IsSequence()) {
    report(m, "expected a list of milters (\"inet:127.0.0.1:8891\", \"unix:/path\")");
    return std::nullopt;
  }
  std::vector<MilterEndpoint> out;
  for (size_t i = 0; i < m.value.size(); ++i) {
    Field e = element(m, m.value[i], i);
    auto t = text(e);
    if (!t) {
      continue;
    }
    if (auto ep = parseMilterEndpoint(trim(*t))) {
      out.push_back(std::move(*ep));
    } else {
      report(e, fmt::format("'{}': {}", *t, ep.error().message()));
    }
  }
  return out;
}

std::optional<TransportRef> Loader::contentFilterRef(const Field& f, const Config& c) {
  if (f.value.IsScalar() && (f.value.Scalar() == "false" || f.value.Scalar().empty())) {
    return TransportRef{};  // Postfix's "-o content_filter=": none
  }
  auto v = text(f);
  if (!v) {
    return std::nullopt;
  }
  std::optional<TransportRef> ref = c.transportRef(*v);
  if (!ref) {
    report(f, fmt::format("'{}': expected transport:nexthop with a transport that is built in "
                          "(smtp, relay, lmtp) or under transports:, or false",
                          *v));
    return std::nullopt;
  }
  std::optional<TransportConfig> t = findTransport(c.transports, ref->name);
  if (t->type == TransportType::Virtual) {
    report(f, fmt::format("'{}': a content filter is a transport that sends the mail on "
                          "(smtp, lmtp or pipe), not the Maildir",
                          *v));
    return std::nullopt;
  }
  if (t->type != TransportType::Pipe && ref->nexthop.empty()) {
    report(f, fmt::format("'{}': a content filter needs its next hop, e.g. "
                          "{}:[127.0.0.1]:10024",
                          *v, ref->name));
    return std::nullopt;
  }
  if (t->type == TransportType::Smtp) {
    if (auto hop = parseNextHop(ref->nexthop); !hop) {
      report(f, fmt::format("'{}': {}", *v, hop.error().message()));
      return std::nullopt;
    }
  }
  return ref;
}

void Loader::loadReceiveOverrides(const Field& f, ReceiveOverrides& out) {
  if (!f.value.IsSequence()) {
    report(f, "expected a list (no_header_body_checks, no_milters, no_unknown_recipient_checks, "
              "no_address_mappings)");
    return;
  }
  for (size_t i = 0; i < f.value.size(); ++i) {
    Field e = element(f, f.value[i], i);
    using R = ReceiveOverrides;
    using P = bool R::*;
    if (auto member = oneOf<P>(e, {{"no_header_body_checks", &R::no_header_body_checks},
                                   {"no_milters", &R::no_milters},
                                   {"no_unknown_recipient_checks", &R::no_unknown_recipient_checks},
                                   {"no_address_mappings", &R::no_address_mappings}})) {
      out.*(*member) = true;
    }
  }
}

void Loader::loadFilters(const Section& top, Config& c) {
  for (auto& [index, field] : listener_filters_) {  // after `transports:`
    if (auto ref = contentFilterRef(field, c)) {
      c.listeners[index].content_filter = std::move(*ref);
    }
  }
  listener_filters_.clear();
  const Field* f = top.find("filters");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"milters", "milter_default_action", "milter_connect_timeout",
               "milter_command_timeout", "milter_content_timeout", "content_filter"});
  Filters& out = c.filters;
  if (const Field* cf = s.find("content_filter")) {
    if (auto ref = contentFilterRef(*cf, c); ref && !ref->name.empty()) {
      out.content_filter = std::move(*ref);
    }
  }
  if (const Field* m = s.find("milters")) {
    if (auto list = milterList(*m)) {
      out.milters = std::move(*list);
    }
  }
  if (const Field* a = s.find("milter_default_action")) {
    using A = Filters::MilterDefaultAction;
    if (auto v = oneOf<A>(*a, {{"tempfail", A::Tempfail}, {"accept", A::Accept},
                               {"reject", A::Reject}})) {
      out.milter_default_action = *v;
    }
  }
  for (auto [key, value] :
       {std::pair<std::string_view, uint64_t*>{"milter_connect_timeout",
                                               &out.milter_connect_timeout},
        {"milter_command_timeout", &out.milter_command_timeout},
        {"milter_content_timeout", &out.milter_content_timeout}}) {
    if (const Field* d = s.find(key)) {
      if (auto v = duration(*d)) {
        *value = *v;
      }
    }
  }
}

}  // namespace detail
}  // namespace petrel::config
