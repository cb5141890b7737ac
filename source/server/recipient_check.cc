// The RCPT decision: restrictions of the listener, then the router. Shared by the SMTP
// session driver and `petrel route`, so that what the command explains is what the server does.
#include "petrel/server/recipient_check.h"

#include <fmt/format.h>

#include <array>
#include <tuple>

#include "petrel/core/strings.h"
#include "petrel/log/mail_log.h"

namespace petrel::server {

// Runs on the worker loop, or on the thread pool when a table may block: it touches only its
// arguments (the snapshot is immutable) and the thread-safe log.
smtp::RecipientVerdict checkRecipient(const Snapshot& snap, const config::Listener& listener,
                                      const RecipientQuery& q, std::vector<std::string>* trace) {
  using Outcome = delivery::Expansion::Outcome;
  const delivery::Router& router = *snap.router;
  const std::string& address = q.address;
  smtp::RecipientVerdict v;
  auto at = address.rfind('@');
  std::string_view domain =
      at == std::string::npos ? std::string_view() : std::string_view(address).substr(at + 1);
  using Kind = delivery::Router::DomainKind;
  delivery::Router::DomainClass domain_class =
      at == std::string::npos ? delivery::Router::DomainClass{Kind::Local, {}}
                              : router.classifyDomain(domain);
  auto note = [trace](std::string line) {
    if (trace != nullptr) trace->push_back(std::move(line));
  };
  if (domain_class.kind == Kind::TempFail) {
    v.refusal = smtp::Reply(451, "4.3.0", fmt::format("<{}>: Temporary lookup failure", address));
    log::mail::warning(log::Program::Smtpd,
                       fmt::format("domain lookup for {} failed: {}", address, domain_class.error));
    note(fmt::format("domain {}: lookup failed: {}", domain, domain_class.error));
    return v;
  }
  if (at != std::string::npos) {
    note(fmt::format("domain {}: {}", domain,
                     domain_class.kind == Kind::Local   ? "local (domains.local)"
                     : domain_class.kind == Kind::Relay ? "relayed for (domains.relay)"
                                                        : "not ours"));
  }
  // Restrictions first (relay permission, sender ownership), as smtpd_recipient_restrictions.
  auto sets = snap.recipient_restrictions;
  auto it = sets->find(listener.restrictions);
  if (it != sets->end()) {
    const config::RestrictionSet& set = snap.config->restrictions.at(listener.restrictions);
    auto verdictWord = [](const policy::Decision& d) {
      return d.kind == policy::Decision::Kind::Permit   ? "permit"
             : d.kind == policy::Decision::Kind::Reject ? "reject"
             : d.kind == policy::Decision::Kind::Defer  ? "defer"
                                                        : "nothing (dunno)";
    };
    policy::PolicyContext ctx;
    ctx.client_ip = q.client_ip;
    ctx.helo = q.helo;
    ctx.sasl_user = q.sasl_user;
    ctx.sender = q.sender;
    ctx.recipient = address;
    ctx.is_our_destination = [&router, domain, &domain_class](std::string_view d) {
      Kind k = d == domain ? domain_class.kind : router.classifyDomain(d).kind;
      return k == Kind::Local || k == Kind::Relay;
    };
    ctx.sender_owners = [&snap](std::string_view s) { return senderOwners(snap, s); };
    // Client, HELO and sender lists first; each decides only its own stage (a permit there
    // does not skip the recipient list).
    if (auto early = snap.early_restrictions->find(listener.restrictions);
        early != snap.early_restrictions->end()) {
      for (const auto& stage : early->second) {
        policy::Decision d = stage.list.evaluate(ctx);
        note(fmt::format("restrictions '{}' ({} stage, {}): {} decided {}",
                         listener.restrictions, stage.stage, set.origin,
                         d.rule.empty() ? "no check" : d.rule, verdictWord(d)));
        if (d.kind == policy::Decision::Kind::Reject || d.kind == policy::Decision::Kind::Defer) {
          v.refusal = smtp::Reply(d.code, d.enhanced, d.text);
          return v;
        }
      }
    }
    policy::Decision d = it->second.evaluate(ctx);
    note(fmt::format("restrictions '{}' (recipient stage, {}): {} decided {}", listener.restrictions,
                     set.origin, d.rule.empty() ? "no check" : d.rule, verdictWord(d)));
    if (d.kind == policy::Decision::Kind::Reject || d.kind == policy::Decision::Kind::Defer) {
      v.refusal = smtp::Reply(d.code, d.enhanced, d.text);
      return v;
    }
  }
  // canonical.recipient: the restrictions saw the address as given; routing uses the
  // canonical one (as Postfix's cleanup rewrites before virtual alias expansion).
  std::string routed = address;
  if (auto canon = router.canonicalRecipient(address); !canon) {
    v.refusal = smtp::Reply(451, "4.3.0", fmt::format("<{}>: Temporary lookup failure", address));
    log::mail::warning(log::Program::Smtpd, fmt::format("canonical lookup for {} failed: {}",
                                                        address, canon.error().message()));
    note(fmt::format("canonical.recipient: lookup failed: {}", canon.error().message()));
    return v;
  } else if (*canon != address) {
    routed = *canon;
    note(fmt::format("canonical.recipient: {} -> {}", address, routed));
    auto rat = routed.rfind('@');
    domain_class = router.classifyDomain(std::string_view(routed).substr(rat + 1));
    if (domain_class.kind == Kind::TempFail) {
      v.refusal =
          smtp::Reply(451, "4.3.0", fmt::format("<{}>: Temporary lookup failure", address));
      return v;
    }
  }
  if (domain_class.kind != Kind::Local) {
    // Permitted relaying: the recipient stays as given and waits for the outbound relay.
    v.accepted = true;
    v.expand = {routed};
    return v;
  }
  auto e = router.expand(routed, trace);
  switch (e.outcome) {
    case Outcome::Accepted:
      v.accepted = true;
      v.expand = std::move(e.recipients);
      break;
    case Outcome::NonLocalDomain:
      v.refusal = smtp::Reply(554, "5.7.1", fmt::format("<{}>: Relay access denied", address));
      break;
    case Outcome::UnknownRecipient:
      v.refusal = smtp::Reply(
          550, e.status.empty() ? "5.1.1" : e.status,
          fmt::format("<{}>: Recipient address rejected: {}", address, e.reason));
      break;
    case Outcome::TemporaryFailure:
      v.refusal = smtp::Reply(451, e.status.empty() ? "4.3.0" : e.status,
                              fmt::format("<{}>: Temporary lookup failure", address));
      log::mail::warning(log::Program::Smtpd,
                         fmt::format("recipient lookup for {} failed: {}", address, e.reason));
      break;
    case Outcome::PermanentFailure:
      v.refusal = smtp::Reply(
          550, e.status.empty() ? "5.1.0" : e.status,
          fmt::format("<{}>: Recipient address rejected: {}", address, e.reason));
      break;
  }
  return v;
}

// Who may use `sender` as envelope sender: auth.sender_login when configured, else the
// address itself (without a recipient-delimiter extension) when its domain is local.
std::vector<std::string> senderOwners(const Snapshot& snap, std::string_view sender) {
  std::vector<std::string> owners;
  if (snap.sender_login) {
    auto r = snap.sender_login->lookup(toLower(sender));
    if (r.status == lookup::LookupStatus::Found) {
      for (auto part : split(r.value, ',')) {
        auto t = trim(part);
        if (!t.empty()) owners.push_back(toLower(t));
      }
    }
    return owners;
  }
  auto at = sender.rfind('@');
  if (at == std::string_view::npos || !snap.router->isLocalDomain(sender.substr(at + 1))) {
    return owners;
  }
  std::string local(sender.substr(0, at));
  const std::string& delim = snap.config->recipient_delimiter;
  if (!delim.empty()) {
    auto cut = local.find_first_of(delim);
    if (cut != std::string::npos && cut > 0) local.resize(cut);
  }
  owners.push_back(toLower(local + "@" + std::string(sender.substr(at + 1))));
  return owners;
}

Result<Snapshot> routingSnapshot(const config::Config& cfg, const lookup::Warn& warn) {
  Snapshot s;
  s.config = std::make_shared<const config::Config>(cfg);
  s.router = std::make_shared<const delivery::Router>(cfg, warn);
  if (cfg.auth.sender_login) s.sender_login = lookup::makeTable(*cfg.auth.sender_login, warn);
  std::vector<Cidr> blocks;
  for (const auto& n : cfg.relay.mynetworks) {
    auto c = Cidr::parse(n);
    if (!c) return c.error();
    blocks.push_back(*c);
  }
  lookup::TablePtr mynetworks_table;
  if (cfg.relay.mynetworks_table) {
    mynetworks_table = lookup::makeTable(*cfg.relay.mynetworks_table, warn);
  }
  s.mynetworks = std::make_shared<const CidrList>(blocks);
  s.mynetworks_table = mynetworks_table;
  auto sets = std::make_shared<std::map<std::string, policy::RestrictionList>>();
  auto early = std::make_shared<std::map<std::string, std::vector<Snapshot::StageList>>>();
  for (const auto& [name, set] : cfg.restrictions) {
    std::map<std::string, lookup::TablePtr> tables;
    for (const auto& [ref, spec] : set.access_tables) tables[ref] = lookup::makeTable(spec, warn);
    auto build =
        [&](policy::Stage stage,
            const std::vector<config::CheckSpec>& specs) -> Result<policy::RestrictionList> {
      std::vector<std::string> checks;
      for (const config::CheckSpec& spec : specs) checks.push_back(spec.text);
      auto list = policy::RestrictionList::parse(
          stage, checks, CidrList(blocks), [&tables](const std::string& ref) -> lookup::TablePtr {
            auto it = tables.find(ref);
            return it == tables.end() ? nullptr : it->second;
          });
      if (list && mynetworks_table) list->setMynetworksTable(mynetworks_table);
      return list;
    };
    using StageChecks =
        std::tuple<const char*, policy::Stage, const std::vector<config::CheckSpec>*>;
    const std::array<StageChecks, 3> stages{{{"client", policy::Stage::Client, &set.client},
                                             {"helo", policy::Stage::Helo, &set.helo},
                                             {"sender", policy::Stage::Sender, &set.sender}}};
    for (const auto& [stage_name, stage, checks] : stages) {
      if (checks->empty()) continue;
      auto list = build(stage, *checks);
      if (!list) return list.error();
      (*early)[name].push_back({stage_name, std::move(list.value())});
    }
    auto list = build(policy::Stage::Recipient, set.recipient);
    if (!list) return list.error();
    sets->emplace(name, std::move(list.value()));
  }
  s.recipient_restrictions = std::move(sets);
  s.early_restrictions = std::move(early);
  return s;
}

}  // namespace petrel::server
