// check_policy_service: Postfix's policy delegation (SMTPD_POLICY_README). The protocol's pure
// half lives here: the service's endpoint and per-check settings as written in the list
// ("inet:127.0.0.1:10023" or "{ inet:..., timeout=10s, default_action=DUNNO }"), the request
// (every attribute Postfix sends, cleaned of control characters), the reply's end and its
// action, which is an access(5) action and goes through the access maps' parser.
//
// It does no I/O: the request goes to PolicyContext::policy_client (the loop's transport,
// server/policy_client.cc), which reuses connections, applies the timeouts and retries. When
// the service cannot be asked or answers nonsense the check answers default_action, by
// default 451 4.3.5, as Postfix does; where there is no client (a command-line tool, a golden
// test without one) it answers dunno without asking.
#include "petrel/policy/policy_service.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <memory>

#include "checks.h"
#include "petrel/core/strings.h"

namespace petrel::policy {

namespace {

bool isDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<uint64_t> number(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Postfix time values: a number with an optional unit s, m, h, d, w (seconds without one).
std::optional<uint64_t> durationMs(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t unit = 1000;
  switch (text.back()) {
    case 's': unit = 1000; break;
    case 'm': unit = 60'000; break;
    case 'h': unit = 3'600'000; break;
    case 'd': unit = 86'400'000; break;
    case 'w': unit = 7 * 86'400'000ull; break;
    default: unit = 0;
  }
  if (unit != 0) {
    text.remove_suffix(1);
  } else {
    unit = 1000;
  }
  auto v = number(text);
  if (!v || *v > 10ull * 365 * 86400) return std::nullopt;
  return *v * unit;
}

// A value as it goes on the wire: one line, bounded.
std::string clean(std::string_view value) {
  std::string out(value.substr(0, MaxAttributeValue));
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 32 || u == 127) c = '?';
  }
  return out;
}

// How Postfix names what a policy reply refuses, per list (smtpd_check.c's reply name and
// class): "<a@b>: Recipient address rejected", "<host[ip]>: Client host rejected".
std::string replySubject(const PolicyContext& ctx, Stage stage) {
  switch (stage) {
    case Stage::Client:
      return fmt::format("<{}[{}]>: Client host rejected", clean(ctx.client.client_name),
                         ctx.client_ip);
    case Stage::Helo: return fmt::format("<{}>: Helo command rejected", clean(ctx.helo));
    case Stage::Sender: return fmt::format("<{}>: Sender address rejected", clean(ctx.sender));
    case Stage::Recipient:
      return fmt::format("<{}>: Recipient address rejected", clean(ctx.recipient));
    case Stage::Data: return "<DATA>: Data command rejected";
    case Stage::EndOfData: return "<END-OF-MESSAGE>: End-of-data rejected";
  }
  return "<>: rejected";
}

class CheckPolicyService final : public Check {
 public:
  CheckPolicyService(std::string rule, Stage stage, PolicyServiceSpec spec)
      : rule_(std::move(rule)), stage_(stage), spec_(std::move(spec)) {}

  void run(const PolicyContext& ctx, Done done) const override {
    if (ctx.policy_client == nullptr) {
      // Nowhere to send it (petrel route): not asked, so no opinion.
      Decision d = checks::dunno();
      d.rule = rule_ + " (not asked: no policy client here)";
      done(std::move(d));
      return;
    }
    std::string request = encodePolicyRequest(ctx, stage_, spec_.settings.policy_context);
    ctx.policy_client->request(
        spec_.endpoint, spec_.settings, std::move(request),
        [rule = rule_, subject = replySubject(ctx, stage_),
         fallback = spec_.settings.default_action,
         done = std::move(done)](Result<std::string> reply) {
          Result<std::string> action =
              reply ? parsePolicyReply(*reply) : Result<std::string>(reply.error());
          done(checks::accessAction(rule, action ? *action : fallback, subject));
        });
  }

 private:
  std::string rule_;
  Stage stage_;
  PolicyServiceSpec spec_;
};

}  // namespace

std::string ServiceEndpoint::toString() const {
  if (kind == Kind::Unix) return "unix:" + path;
  if (host.find(':') != std::string::npos) return fmt::format("inet:[{}]:{}", host, port);
  return fmt::format("inet:{}:{}", host, port);
}

Result<ServiceEndpoint> parseServiceEndpoint(std::string_view text) {
  ServiceEndpoint ep;
  if (text.starts_with("unix:")) {
    ep.kind = ServiceEndpoint::Kind::Unix;
    ep.path = std::string(text.substr(5));
    if (ep.path.empty() || ep.path.front() != '/') {
      return Error::config(fmt::format("'{}': a unix socket needs an absolute path", text));
    }
    return ep;
  }
  if (!text.starts_with("inet:")) {
    return Error::config(
        fmt::format("'{}' is not a policy service (inet:HOST:PORT or unix:PATH)", text));
  }
  std::string_view rest = text.substr(5);
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Error::config(fmt::format("'{}': expected inet:HOST:PORT", text));
  }
  std::string_view host = rest.substr(0, colon);
  auto port = number(rest.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535) {
    return Error::config(fmt::format("'{}': bad port '{}'", text, rest.substr(colon + 1)));
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  // Names other than localhost would need a lookup per connection: take addresses only.
  std::string literal(host);
  in6_addr buf;
  if (inet_pton(AF_INET, literal.c_str(), &buf) != 1 &&
      inet_pton(AF_INET6, literal.c_str(), &buf) != 1) {
    return Error::config(fmt::format("'{}': the host must be an IP address or localhost", text));
  }
  ep.host = std::string(host);
  ep.port = static_cast<uint16_t>(*port);
  return ep;
}

Result<PolicyServiceSpec> parsePolicyServiceArgument(std::string_view argument,
                                                     const PolicyServiceSettings& defaults) {
  PolicyServiceSpec spec;
  spec.settings = defaults;
  std::string_view a = trim(argument);
  if (!a.starts_with('{')) {
    auto ep = parseServiceEndpoint(a);
    if (!ep) return ep.error();
    spec.endpoint = std::move(*ep);
    return spec;
  }
  if (!a.ends_with('}')) return Error::config(fmt::format("'{}': missing '}}'", a));
  a = trim(a.substr(1, a.size() - 2));
  bool first = true;
  for (std::string_view item : split(a, ',')) {
    item = trim(item);
    if (first) {
      first = false;
      auto ep = parseServiceEndpoint(item);
      if (!ep) return ep.error();
      spec.endpoint = std::move(*ep);
      continue;
    }
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Error::config(fmt::format("'{}': expected name=value", item));
    }
    std::string_view name = trim(item.substr(0, eq));
    std::string_view value = trim(item.substr(eq + 1));
    // "{ text with spaces }" as Postfix writes such values; commas cannot appear in one.
    if (value.size() >= 2 && value.front() == '{' && value.back() == '}') {
      value = trim(value.substr(1, value.size() - 2));
    }
    PolicyServiceSettings& s = spec.settings;
    auto setDuration = [&](uint64_t& out) -> Status {
      auto v = durationMs(value);
      if (!v || (*v == 0 && name != "retry_delay")) {
        return Error::config(fmt::format("{}: '{}' is not a time such as 10s or 5m", name, value));
      }
      out = *v;
      return okStatus();
    };
    Status st = okStatus();
    if (name == "timeout") {
      st = setDuration(s.timeout_ms);
    } else if (name == "max_idle") {
      st = setDuration(s.max_idle_ms);
    } else if (name == "max_ttl") {
      st = setDuration(s.max_ttl_ms);
    } else if (name == "retry_delay") {
      st = setDuration(s.retry_delay_ms);
    } else if (name == "try_limit" || name == "request_limit") {
      auto v = isDigits(value) ? number(value) : std::nullopt;
      if (!v || *v > 1000 || (name == "try_limit" && *v == 0)) {
        return Error::config(fmt::format("{}: '{}' is not a number{}", name, value,
                                         name == "try_limit" ? " from 1 to 1000" : ""));
      }
      (name == "try_limit" ? s.try_limit : s.request_limit) = static_cast<uint32_t>(*v);
    } else if (name == "default_action") {
      if (value.empty()) return Error::config("default_action: empty");
      s.default_action = clean(value);
    } else if (name == "policy_context") {
      s.policy_context = clean(value);
    } else {
      return Error::config(fmt::format(
          "unknown policy service setting '{}' (known: timeout, max_idle, max_ttl, try_limit, "
          "retry_delay, request_limit, default_action, policy_context)",
          name));
    }
    if (!st) return st.error();
  }
  if (first) return Error::config("'{ }': no policy service named");
  return spec;
}

std::string_view defaultProtocolState(Stage stage) {
  switch (stage) {
    case Stage::Client: return "CONNECT";
    case Stage::Helo: return "EHLO";
    case Stage::Sender: return "MAIL";
    case Stage::Recipient: return "RCPT";
    case Stage::Data: return "DATA";
    case Stage::EndOfData: return "END-OF-MESSAGE";
  }
  return "RCPT";
}

std::string encodePolicyRequest(const PolicyContext& ctx, Stage stage,
                                std::string_view policy_context) {
  const ClientFacts& f = ctx.client;
  std::string out;
  out.reserve(1024);
  auto add = [&out](std::string_view name, std::string_view value) {
    out += name;
    out += '=';
    out += clean(value);
    out += '\n';
  };
  // Postfix's order (smtpd_check.c); the attributes it sends that Petrel cannot know (client
  // certificates, ETRN, sasl_sender) go with empty values, as Postfix sends them then.
  add("request", "smtpd_access_policy");
  std::string_view state =
      ctx.protocol_state.empty() ? defaultProtocolState(stage) : ctx.protocol_state;
  add("protocol_state", state);
  add("protocol_name", f.protocol_name.empty() ? "SMTP" : f.protocol_name);
  add("helo_name", ctx.helo);
  add("queue_id", f.queue_id);
  add("sender", ctx.sender);
  add("recipient", ctx.recipient);
  // SMTPD_POLICY_README: non-zero only in the DATA and END-OF-MESSAGE states (the recipients
  // accepted); at RCPT Postfix sends 0, though the context counts those accepted so far.
  bool counted = state == "DATA" || state == "END-OF-MESSAGE";
  add("recipient_count", std::to_string(counted ? ctx.recipient_count : 0));
  add("client_address", ctx.client_ip);
  add("client_name", f.client_name);
  add("reverse_client_name", f.reverse_client_name);
  add("instance", f.instance);
  add("sasl_method", ctx.sasl_user.empty() ? "" : f.sasl_method);
  add("sasl_username", ctx.sasl_user);
  add("sasl_sender", "");
  add("size", std::to_string(ctx.message_size));
  add("ccert_subject", "");
  add("ccert_issuer", "");
  add("ccert_fingerprint", "");
  add("ccert_pubkey_fingerprint", "");
  add("encryption_protocol", f.tls_protocol);
  add("encryption_cipher", f.tls_cipher);
  add("encryption_keysize", std::to_string(f.tls_protocol.empty() ? 0 : f.tls_keysize));
  add("etrn_domain", "");
  add("stress", "");
  add("client_port", f.client_port == 0 ? "" : std::to_string(f.client_port));
  add("policy_context", policy_context);
  add("server_address", f.server_address);
  add("server_port", f.server_port == 0 ? "" : std::to_string(f.server_port));
  out += '\n';
  return out;
}

size_t policyReplyEnd(std::string_view received) {
  if (received.starts_with('\n')) return 1;
  size_t end = received.find("\n\n");
  return end == std::string_view::npos ? std::string_view::npos : end + 2;
}

Result<std::string> parsePolicyReply(std::string_view reply) {
  std::optional<std::string> action;
  for (std::string_view line : split(reply, '\n')) {
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Error::temporary(fmt::format("malformed reply line '{}'", clean(line.substr(0, 80))));
    }
    if (line.substr(0, eq) == "action") action = std::string(trim(line.substr(eq + 1)));
  }
  if (!action) return Error::temporary("reply without action attribute");
  if (action->empty()) return Error::temporary("reply with an empty action");
  return clean(*action);
}

namespace checks {

Result<CheckPtr> makeCheckPolicyService(const CheckArgs& args) {
  auto spec = parsePolicyServiceArgument(args.argument, args.env.policy_service);
  if (!spec) return Error::config(fmt::format("{}: {}", args.name, spec.error().message()));
  return CheckPtr(std::make_unique<CheckPolicyService>(
      fmt::format("{} {}", args.name, spec->endpoint.toString()), args.stage, std::move(*spec)));
}

}  // namespace checks

}  // namespace petrel::policy
