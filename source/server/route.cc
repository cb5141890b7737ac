// `petrel route`; see headers/petrel/server/route.h.
#include "petrel/server/route.h"

#include <fmt/format.h>

#include "petrel/core/strings.h"
#include "petrel/server/canonical_headers.h"
#include "petrel/server/stage_check.h"

namespace petrel::server {

namespace {

std::string jsonString(std::string_view s) {
  std::string out(1, '"');
  out += jsonEscape(s);
  out += '"';
  return out;
}

}  // namespace

Result<const config::Listener*> chooseListener(const config::Config& cfg, const std::string& name,
                                              const std::string& sasl_user) {
  for (const auto& l : cfg.listeners) {
    if (!name.empty() ? l.name == name : (sasl_user.empty() || l.auth != config::AuthMode::None)) {
      return &l;
    }
  }
  if (name.empty() && !cfg.listeners.empty()) return &cfg.listeners.front();
  return Error::config(fmt::format("no listener named '{}'", name));
}

Result<RouteResult> explainRoute(const config::Config& cfg, const RouteRequest& request) {
  RouteResult out;
  std::vector<std::string> warnings;
  auto snap = routingSnapshot(cfg, [&warnings](const std::string& w) { warnings.push_back(w); });
  if (!snap) return snap.error();
  for (const auto& w : warnings) out.steps.push_back("warning: " + w);

  auto chosen = chooseListener(cfg, request.listener, request.sasl_user);
  if (!chosen) return chosen.error();
  const config::Listener* listener = *chosen;
  out.listener = listener->name;
  out.steps.push_back(fmt::format("listener {} ({}), restrictions '{}'; client {}{}, MAIL FROM:<{}>",
                                  listener->name, listener->address.toString(),
                                  listener->restrictions, request.client_ip,
                                  request.sasl_user.empty() ? ""
                                                            : ", authenticated as " + request.sasl_user,
                                  request.sender));

  RecipientQuery q{request.address, request.client_ip, request.helo, request.sasl_user,
                   request.sender, {}};
  RecipientVerdict v = checkRecipient(*snap, *listener, q, &out.steps);
  if (!v.accepted) {
    out.reply = v.refusal.oneLine();
    out.steps.push_back("RCPT TO:<" + request.address + ">: " + out.reply);
    return out;
  }
  out.accepted = true;
  out.reply = "250 2.1.5 Ok";
  out.steps.push_back("RCPT TO:<" + request.address + ">: " + out.reply);

  // Delivery time: the canonical maps on the sender and on the header fields, as the queue's
  // delivery job (QueueManager::runBatch) and canonicalHeaders() apply them.
  const delivery::Router& router = *snap->router;
  if (router.hasCanonicalMaps()) {
    if (auto sender = router.canonicalSender(request.sender); !sender) {
      out.steps.push_back("canonical.sender: lookup failed (delivery waits): " +
                          sender.error().message());
    } else if (*sender != request.sender) {
      out.steps.push_back(fmt::format("canonical.sender: <{}> -> <{}> (Return-Path, MAIL FROM)",
                                      request.sender, *sender));
    }
    queue::StoredMessage message;  // what the journal would record of this client
    message.client = fmt::format("unknown[{}]", request.client_ip);
    message.protocol = request.sasl_user.empty() ? "ESMTP" : "ESMTPA";
    const char* setting = cfg.canonical_headers == config::Config::HeaderRewriteClients::All ? "all"
                          : cfg.canonical_headers == config::Config::HeaderRewriteClients::None
                              ? "none"
                              : "local";
    if (auto applies = rewritesHeadersOf(*snap, message); !applies) {
      out.steps.push_back(fmt::format("header fields: relay.mynetworks lookup failed (delivery "
                                      "waits): {}",
                                      applies.error().message()));
    } else if (*applies) {
      out.steps.push_back(fmt::format(
          "header fields (canonical.headers: {}): From, Sender, Reply-To and the other sender "
          "fields through canonical.sender, To, Cc, Bcc and the other recipient fields through "
          "canonical.recipient",
          setting));
    } else {
      out.steps.push_back(fmt::format(
          "header fields keep their addresses (canonical.headers: {}{})", setting,
          cfg.canonical_headers == config::Config::HeaderRewriteClients::Local
              ? "; the client is neither in relay.mynetworks nor authenticated"
              : ""));
    }
  }

  // Queue time: the target the queue's delivery job resolves for each final address.
  for (const std::string& final_address : v.expand) {
    RouteResult::Final f;
    f.address = final_address;
    auto target = router.resolve(final_address);
    if (!target) {
      f.kind = target.error().temporary() ? "defer" : "bounce";
      f.target = target.error().message();
      out.steps.push_back(fmt::format("{}: {} ({})", f.address, f.kind, f.target));
    } else if (target->transport == delivery::Transport::Virtual) {
      f.kind = std::string(delivery::agentName(target->transport));
      f.target = target->maildir;
      out.steps.push_back(fmt::format("{}: deliver to Maildir {}", f.address, f.target));
    } else if (target->transport == delivery::Transport::Smtp) {
      f.kind = std::string(delivery::agentName(target->transport));
      const config::NextHop& hop = target->next_hop;
      f.target = hop.mx_lookup ? fmt::format("{} (MX lookup, port {})", hop.host, hop.port)
                               : hop.toString();
      f.tls = std::string(config::toString(target->tls));
      std::string by = target->transport_name == "smtp" || target->transport_name == "relay"
                           ? std::string("SMTP")
                           : fmt::format("SMTP (transport {})", target->transport_name);
      out.steps.push_back(
          fmt::format("{}: deliver by {} to {}, TLS {}", f.address, by, f.target, f.tls));
    } else {
      f.kind = std::string(delivery::agentName(target->transport));
      f.target = fmt::format("{}:{}", target->transport_name, target->nexthop);
      out.steps.push_back(fmt::format("{}: deliver by {} (transport {}) to {}", f.address,
                                      f.kind, target->transport_name, target->nexthop));
    }
    out.finals.push_back(std::move(f));
  }
  return out;
}

std::string routeText(const RouteResult& r) {
  std::string out;
  for (size_t i = 0; i < r.steps.size(); ++i) out += fmt::format("{}. {}\n", i + 1, r.steps[i]);
  return out;
}

std::string routeJson(const RouteResult& r) {
  std::string out = fmt::format("{{\"listener\":{},\"accepted\":{},\"reply\":{},\"steps\":[",
                                jsonString(r.listener), r.accepted ? "true" : "false",
                                jsonString(r.reply));
  for (size_t i = 0; i < r.steps.size(); ++i) {
    if (i > 0) out += ',';
    out += jsonString(r.steps[i]);
  }
  out += "],\"final\":[";
  for (size_t i = 0; i < r.finals.size(); ++i) {
    const auto& f = r.finals[i];
    out += fmt::format("{}{{\"address\":{},\"kind\":{},\"target\":{},\"tls\":{}}}", i ? "," : "",
                       jsonString(f.address), jsonString(f.kind), jsonString(f.target),
                       jsonString(f.tls));
  }
  return out + "]}\n";
}

}  // namespace petrel::server
