// The `transports:` section and delivery.transport: the named delivery transports (Postfix's
// master.cf services that transport(5) entries name) and how "name:nexthop" is read. Each
// agent kind reads its own settings in its own function below; the agents themselves are made
// by server/transport_agents.cc.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

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

namespace {

// pipe(8)'s macros; those of the second row take one value per recipient.
constexpr std::array<std::string_view, 12> MessageMacros = {
    "sender",          "nexthop",       "size",        "client_address",
    "client_hostname", "client_helo",   "client_port", "client_protocol",
    "sasl_method",     "sasl_username", "queue_id",    "domain"};
constexpr std::array<std::string_view, 5> RecipientMacros = {"recipient", "user", "extension",
                                                             "mailbox", "original_recipient"};

bool isMacroName(std::string_view name) {
  return std::find(MessageMacros.begin(), MessageMacros.end(), name) != MessageMacros.end() ||
         std::find(RecipientMacros.begin(), RecipientMacros.end(), name) != RecipientMacros.end();
}

}  // namespace

bool isPerRecipientPipeMacro(std::string_view name) {
  // ${domain} is per recipient too (the recipient's domain): one delivery has one target, but
  // recipients of a pipe target may still be in different domains.
  return name == "domain" ||
         std::find(RecipientMacros.begin(), RecipientMacros.end(), name) != RecipientMacros.end();
}

Result<std::vector<PipeArgumentPart>> splitPipeArgument(std::string_view text) {
  std::vector<PipeArgumentPart> parts;
  auto literal = [&parts](std::string_view t) {
    if (parts.empty() || parts.back().macro) parts.push_back(PipeArgumentPart{false, ""});
    parts.back().text.append(t);
  };
  size_t i = 0;
  while (i < text.size()) {
    size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      literal(text.substr(i));
      break;
    }
    if (dollar > i) literal(text.substr(i, dollar - i));
    i = dollar + 1;
    if (i < text.size() && text[i] == '$') {
      literal("$");
      ++i;
      continue;
    }
    std::string_view name;
    if (i < text.size() && (text[i] == '{' || text[i] == '(')) {
      char close = text[i] == '{' ? '}' : ')';
      size_t end = text.find(close, i + 1);
      if (end == std::string_view::npos) {
        return Error::config(fmt::format("'{}': unterminated macro (write $$ for a '$')", text));
      }
      name = text.substr(i + 1, end - i - 1);
      i = end + 1;
    } else {
      size_t start = i;
      while (i < text.size() && (isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_')) {
        ++i;
      }
      name = text.substr(start, i - start);
    }
    if (!isMacroName(name)) {
      return Error::config(
          fmt::format("'{}': unknown macro '${{{}}}' (write $$ for a '$')", text, name));
    }
    parts.push_back(PipeArgumentPart{true, std::string(name)});
  }
  return parts;
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
  s.allowOnly({"type", "argv", "user", "flags", "size_limit", "time_limit", "max_recipients",
               "directory", "env", "null_sender"});
  if (const Field* f = s.require("argv", "(the program and its arguments, a list)")) {
    if (!f->value.IsSequence() || f->value.size() == 0) {
      report(*f,
             "expected a list such as [/usr/lib/dovecot/deliver, -d, \"${recipient}\"]; "
             "there is no shell");
    } else {
      size_t i = 0;
      for (const YAML::Node& node : f->value) {
        Field item = element(*f, node, i);
        auto v = scalar(item, "a string");
        if (!v) {
          ++i;
          continue;
        }
        if (i == 0 && (v->empty() || (*v)[0] != '/' || v->find('$') != std::string::npos)) {
          report(item,
                 fmt::format("'{}': the program must be an absolute path without macros", *v));
        } else if (auto parts = splitPipeArgument(*v); !parts) {
          report(item, parts.error().message());
        }
        out.argv.push_back(*v);
        ++i;
      }
    }
  }
  if (const Field* f = s.find("user")) {
    if (auto v = text(*f)) {
      size_t colon = v->find(':');
      out.user = v->substr(0, colon);
      out.group = colon == std::string::npos ? "" : v->substr(colon + 1);
      if (out.user.empty() || (colon != std::string::npos && out.group.empty())) {
        report(*f, fmt::format("'{}': expected user or user:group", *v));
      } else if (out.user == "root" || out.user == "0") {
        // pipe(8) refuses root: a program fed by remote senders never runs with all rights.
        report(*f, "the pipe transport never runs a program as root");
      }
    }
  }
  if (const Field* f = s.find("flags")) {
    if (auto v = text(*f)) {
      for (char c : *v) {
        if (std::string_view("BDFORXhqu.>").find(c) == std::string_view::npos) {
          report(*f, fmt::format("unknown flag '{}' (known: B D F O R X h q u . >)", c));
          break;
        }
      }
      out.flags = *v;
    }
  }
  setSize(s, "size_limit", out.size_limit);
  setDuration(s, "time_limit", out.time_limit);
  if (out.time_limit == 0) {
    reporter_.add(s.find("time_limit")->mark(), "transports: time_limit must be more than 0");
  }
  setNumber(s, "max_recipients", out.max_recipients, 0);
  bool per_recipient = out.flags.find_first_of("DO") != std::string::npos;
  for (const std::string& arg : out.argv) {
    if (auto parts = splitPipeArgument(arg)) {
      for (const PipeArgumentPart& p : *parts) {
        per_recipient = per_recipient || (p.macro && isPerRecipientPipeMacro(p.text));
      }
    }
  }
  if (const Field* f = s.find("max_recipients")) {
    if (out.max_recipients != 1 && out.flags.find_first_of("DO") != std::string::npos) {
      report(*f, "flags D and O (Delivered-To, X-Original-To) need max_recipients: 1");
    }
  } else {
    out.max_recipients = per_recipient ? 1 : 0;
  }
  setPath(s, "directory", out.directory);
  if (const Field* f = s.find("env")) {
    Section env(reporter_, *f);
    if (env.isMapping()) {
      for (const Field& e : env.fields()) {
        auto v = text(e);
        if (!v) {
          continue;
        }
        if (e.key.empty() || e.key.find('=') != std::string::npos) {
          reporter_.add(e.key_node.Mark(), fmt::format("{}: not a variable name", e.path));
          continue;
        }
        out.env.emplace_back(e.key, *v);
      }
    }
  }
  if (const Field* f = s.find("null_sender")) {
    out.null_sender = text(*f).value_or(out.null_sender);
  }
}

}  // namespace detail
}  // namespace petrel::config
