// `petrel policy test`; see headers/petrel/server/policy_probe.h.
#include "petrel/server/policy_probe.h"

#include <fmt/format.h>

#include <memory>
#include <optional>

#include "petrel/core/strings.h"
#include "petrel/dns/resolver.h"
#include "petrel/policy/policy_service.h"
#include "petrel/server/probe_loop.h"
#include "petrel/server/route.h"
#include "petrel/server/stage_check.h"

namespace petrel::server {

namespace {

// A resolver that writes each query and its answer into the trace, so the admin sees what each
// DNS list, MX or PTR lookup said ("dns: 2.0.0.127.bl.test A -> Found 127.0.0.2").
class TracingResolver final : public dns::Resolver {
 public:
  TracingResolver(dns::Resolver& inner, std::vector<std::string>& steps)
      : inner_(&inner), steps_(&steps) {}

  dns::QueryHandlePtr query(std::string name, dns::Type type, Callback done) override {
    std::string asked = fmt::format("{} {}", name, dns::typeName(type));
    return inner_->query(std::move(name), type,
                         [steps = steps_, asked, done = std::move(done)](dns::Answer a) {
                           steps->push_back(fmt::format("dns: {} -> {}", asked, describe(a)));
                           done(std::move(a));
                         });
  }
  dns::ResolverStats stats() const override { return inner_->stats(); }
  std::vector<std::string> servers() const override { return inner_->servers(); }

 private:
  static std::string describe(const dns::Answer& a) {
    std::vector<std::string> records = a.addresses;
    for (const auto& mx : a.mx) records.push_back(fmt::format("{} {}", mx.preference, mx.exchange));
    for (const auto& t : a.txt) records.push_back(fmt::format("\"{}\"", t));
    for (const auto& p : a.ptr) records.push_back(p);
    std::string out(dns::statusName(a.status));
    if (!records.empty()) out += " " + fmt::format("{}", fmt::join(records, ", "));
    if (!a.error.empty()) out += " (" + a.error + ")";
    return out;
  }

  dns::Resolver* inner_;
  std::vector<std::string>* steps_;
};

// The policy services' client of the probe: the loop's PolicyClient (the server's transport,
// with each check's timeout, try_limit and default_action), writing into the trace the
// request's attributes (those with a value) and the reply, or why there was none.
class TracingPolicyClient final : public policy::PolicyServiceClient {
 public:
  TracingPolicyClient(policy::PolicyServiceClient& inner, std::vector<std::string>& steps)
      : inner_(&inner), steps_(&steps) {}

  void request(const policy::ServiceEndpoint& endpoint,
               const policy::PolicyServiceSettings& settings, std::string request,
               Done done) override {
    std::string service = endpoint.toString();
    steps_->push_back(fmt::format("policy {}: sent {}", service, attributes(request, true)));
    inner_->request(endpoint, settings, std::move(request),
                    [steps = steps_, service, done = std::move(done)](Result<std::string> reply) {
                      if (reply) {
                        steps->push_back(fmt::format("policy {}: replied {}", service,
                                                     attributes(*reply, false)));
                      } else {
                        steps->push_back(fmt::format(
                            "policy {}: failed: {} (the check answers its default_action)",
                            service, reply.error().message()));
                      }
                      done(std::move(reply));
                    });
  }

 private:
  // "name=value" lines as "name=value name=value"; without `empty`, also those with no value.
  static std::string attributes(std::string_view text, bool skip_empty) {
    std::vector<std::string> shown;
    size_t empty = 0;
    for (auto line : split(text, '\n')) {
      if (line.empty()) continue;
      if (skip_empty && line.ends_with('=')) {
        ++empty;
        continue;
      }
      shown.push_back(probeText(line));
    }
    std::string out = fmt::format("{}", fmt::join(shown, " "));
    if (empty != 0) out += fmt::format(" ({} attributes without a value)", empty);
    return out;
  }

  policy::PolicyServiceClient* inner_;
  std::vector<std::string>* steps_;
};

}  // namespace

Result<PolicyProbeResult> probePolicy(const config::Config& cfg, const PolicyProbeRequest& request) {
  PolicyProbeResult out;
  std::vector<std::string> warnings;
  auto snap = routingSnapshot(cfg, [&warnings](const std::string& w) { warnings.push_back(w); });
  if (!snap) return snap.error();
  for (const auto& w : warnings) out.steps.push_back("warning: " + w);
  auto listener = chooseListener(cfg, request.listener, request.sasl_user);
  if (!listener) return listener.error();
  out.listener = (*listener)->name;
  out.steps.push_back(fmt::format("listener {} ({}), restrictions '{}'", (*listener)->name,
                                  (*listener)->address.toString(), (*listener)->restrictions));

  ProbeLoop loop;
  if (Status st = loop.start(cfg); !st) return st.error();
  TracingResolver resolver(loop.resolver(), out.steps);
  TracingPolicyClient policy_client(loop.policyClient(), out.steps);
  StageServices services;  // no offload: blocking tables answer in place, as in `petrel route`
  services.resolver = &resolver;
  services.policy_client = &policy_client;

  RecipientQuery who{{}, request.client_ip, request.helo, request.sasl_user, request.sender, {}};
  // The DEFER_IF_PERMIT that CONNECT, HELO and MAIL leave pending (delay_reject off), carried
  // to the next stage as the session driver does; every RCPT starts from MAIL's.
  std::optional<policy::Decision> defer_if_permit;
  // One stage: its verdict, noted in the trace; false when it refused.
  auto stage = [&](smtp::Stage s, std::string address, std::string shown, size_t count) {
    StageQuery q;
    q.stage = s;
    q.who = who;
    q.who.address = std::move(address);
    q.recipient_count = count;
    q.defer_if_permit = defer_if_permit;
    // What the driver's clientFacts() says of a session that sent EHLO (the trace shows one).
    if (s != smtp::Stage::Connect) q.who.client.protocol_name = "ESMTP";
    q.who.client.instance = "petrel-policy-test";
    std::optional<StageVerdict> verdict;
    checkStage(*snap, **listener, std::move(q), services, &out.steps,
               [&verdict](StageVerdict v) { verdict = std::move(v); });
    loop.runUntil([&verdict] { return verdict.has_value(); });
    if (s == smtp::Stage::Connect || s == smtp::Stage::Helo || s == smtp::Stage::Mail) {
      defer_if_permit = verdict->defer_if_permit;
    }
    std::string reply = verdict->verdict.accepted() ? "accepted"
                                                    : verdict->verdict.reply.oneLine();
    out.steps.push_back(fmt::format("{}: {}", shown, reply));
    for (const auto& a : verdict->actions) {
      out.steps.push_back(fmt::format("  action for the message: {}", a.text));
    }
    if (!verdict->verdict.accepted()) {
      out.refused_at = std::string(smtp::toString(s));
      out.reply = verdict->verdict.reply.oneLine();
    }
    return verdict->verdict.accepted();
  };

  out.steps.push_back(fmt::format("client {}{}", request.client_ip,
                                  request.sasl_user.empty()
                                      ? ""
                                      : ", authenticated as " + request.sasl_user));
  if (!stage(smtp::Stage::Connect, {}, "CONNECT", 0)) return out;
  if (!stage(smtp::Stage::Helo, request.helo, "EHLO " + request.helo, 0)) return out;
  if (!stage(smtp::Stage::Mail, request.sender, "MAIL FROM:<" + request.sender + ">", 0)) {
    return out;
  }
  size_t accepted = 0;
  for (const std::string& rcpt : request.recipients) {
    if (stage(smtp::Stage::Rcpt, rcpt, "RCPT TO:<" + rcpt + ">", accepted)) ++accepted;
  }
  if (accepted == 0) return out;
  out.refused_at.clear();
  out.reply.clear();
  if (!stage(smtp::Stage::Data, {}, "DATA", accepted)) return out;
  out.accepted = true;
  out.reply = "354 End data with <CR><LF>.<CR><LF>";
  return out;
}

std::string policyProbeText(const PolicyProbeResult& r) {
  std::string out;
  for (size_t i = 0; i < r.steps.size(); ++i) out += fmt::format("{}. {}\n", i + 1, r.steps[i]);
  out += r.accepted ? "=> the message would be accepted for its accepted recipients\n"
                    : fmt::format("=> refused at {}: {}\n", r.refused_at, r.reply);
  return out;
}

}  // namespace petrel::server
