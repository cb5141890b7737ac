// The `transports:` section and delivery.transport: the named delivery transports (Postfix's
// master.cf services that transport(5) entries name) and how "name:nexthop" is read. Each
// agent kind reads its own settings in its own function below; the agents themselves are made
// by server/transport_agents.cc.
#include <fmt/format.h>

#include "loader.h"
#include "petrel/core/strings.h"

namespace petrel::config {

namespace {

// The transports that need no entry; an entry may replace the settings of all but `virtual`.
struct BuiltIn {
  std::string_view name;
  TransportType type;
};
constexpr std::array<BuiltIn, 4> BuiltIns = {{{"virtual", TransportType::Virtual},
                                              {"smtp", TransportType::Smtp},
                                              {"relay", TransportType::Smtp},
                                              {"lmtp", TransportType::Lmtp}}};

}  // namespace

std::string_view toString(TransportType type) {
  switch (type) {
    case TransportType::Virtual: return "virtual";
    case TransportType::Smtp: return "smtp";
    case TransportType::Lmtp: return "lmtp";
    case TransportType::Pipe: return "pipe";
  }
  return "?";
}

std::optional<TransportConfig> findTransport(const std::vector<TransportConfig>& configured,
                                             std::string_view name) {
  for (const TransportConfig& t : configured) {
    if (t.name == name) return t;
  }
  for (const BuiltIn& b : BuiltIns) {
    if (b.name == name) {
      TransportConfig t;
      t.name = std::string(name);
      t.type = b.type;
      t.origin = std::string(detail::BuiltIn);
      return t;
    }
  }
  return std::nullopt;
}

std::optional<TransportRef> transportRef(const std::vector<TransportConfig>& configured,
                                         std::string_view text) {
  text = trim(text);
  size_t colon = text.find(':');
  std::string_view name = text.substr(0, colon);
  if (!findTransport(configured, name)) return std::nullopt;
  TransportRef ref;
  ref.name = std::string(name);
  if (colon != std::string_view::npos) ref.nexthop = std::string(trim(text.substr(colon + 1)));
  return ref;
}

namespace detail {

void Loader::loadTransports(const Section& top, Config& c) {
  const Field* f = top.find("transports");
  if (f == nullptr) {
    return;
  }
  Section transports(reporter_, *f);
  for (const Field& t : transports.fields()) {
    if (!isName(t.key)) {
      reporter_.add(t.key_node.Mark(),
                    fmt::format("transports: '{}' is not a valid transport name (use letters, "
                                "digits, '-', '_' and '.')",
                                t.key));
      continue;
    }
    if (t.key == "virtual") {
      reporter_.add(t.key_node.Mark(),
                    "transports: 'virtual' is the built-in Maildir agent; its settings are "
                    "under delivery.maildir");
      continue;
    }
    Section s(reporter_, t);
    if (!s.isMapping()) {
      continue;
    }
    TransportConfig out;
    out.name = t.key;
    out.origin = reporter_.where(t.key_node.Mark());
    const Field* type = s.require("type", "(smtp, lmtp or pipe)");
    if (type == nullptr) {
      continue;
    }
    using T = TransportType;
    auto kind = oneOf<T>(*type, {{"smtp", T::Smtp}, {"lmtp", T::Lmtp}, {"pipe", T::Pipe}});
    if (!kind) {
      continue;
    }
    out.type = *kind;
    switch (out.type) {
      case T::Smtp: loadSmtpTransport(s, out.smtp); break;
      case T::Lmtp: loadLmtpTransport(s, out.lmtp); break;
      case T::Pipe: loadPipeTransport(s, out.pipe); break;
      case T::Virtual: break;
    }
    c.transports.push_back(std::move(out));
  }
}

// delivery.transport, once `transports:` is read: it must name a transport that exists.
void Loader::loadDeliveryTransport(const Field& f, Config& c) {
  auto v = text(f);
  if (!v) {
    return;
  }
  std::optional<TransportRef> ref = c.transportRef(*v);
  if (!ref) {
    report(f, fmt::format("'{}': expected transport:nexthop with a transport that is built in "
                          "(virtual, smtp, relay, lmtp) or under transports:",
                          *v));
    return;
  }
  c.delivery.transport = std::move(*ref);
}

// The keys of Postfix's master.cf line and its -o overrides that an after-queue content
// filter needs (maxproc, smtp_send_xforward_command, smtp_data_done_timeout).
void Loader::loadSmtpTransport(const Section& s, SmtpTransportSettings& out) {
  s.allowOnly({"type", "concurrency", "xforward", "data_timeout"});
  if (const Field* f = s.find("concurrency")) {
    if (auto v = number(*f, 1, 1000)) {
      out.concurrency = uint32_t(*v);
    }
  }
  if (const Field* f = s.find("xforward")) {
    if (auto v = boolean(*f)) {
      out.xforward = *v;
    }
  }
  if (const Field* f = s.find("data_timeout")) {
    if (auto v = duration(*f)) {  // never zero
      out.data_timeout = *v;
    }
  }
}

void Loader::loadLmtpTransport(const Section& s, LmtpTransportSettings& out) {
  s.allowOnly({"type", "concurrency", "connection_cache_time", "timeouts"});
  setNumber(s, "concurrency", out.concurrency, 1);
  setDuration(s, "connection_cache_time", out.connection_cache_time);
  if (const Field* t = s.find("timeouts")) {
    Section ts(reporter_, *t);
    ts.allowOnly({"connect", "greeting", "command", "data_init", "data_block", "data_done"});
    setDuration(ts, "connect", out.timeouts.connect);
    setDuration(ts, "greeting", out.timeouts.greeting);
    setDuration(ts, "command", out.timeouts.command);
    setDuration(ts, "data_init", out.timeouts.data_init);
    setDuration(ts, "data_block", out.timeouts.data_block);
    setDuration(ts, "data_done", out.timeouts.data_done);
  }
}

void Loader::loadPipeTransport(const Section& s, PipeTransportSettings& out) {
  (void)out;
  s.allowOnly({"type"});
}

}  // namespace detail
}  // namespace petrel::config
