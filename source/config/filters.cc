// The `filters:` section: content filters on receipt. Today the milters (Postfix smtpd_milters,
// milter_default_action, milter_*_timeout; docs/milter.md): where each is, what its failure
// means and how long each step may take. Whether a milter answers is learnt per message.
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

void Loader::loadFilters(const Section& top, Config& c) {
  const Field* f = top.find("filters");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"milters", "milter_default_action", "milter_connect_timeout",
               "milter_command_timeout", "milter_content_timeout"});
  Filters& out = c.filters;
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
