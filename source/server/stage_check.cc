// The verdicts of the SMTP stages: restriction lists, then at RCPT the router. Shared by the
// SMTP session driver and `petrel route`, so that what the command explains is what the server
// does.
#include "petrel/server/stage_check.h"

#include <fmt/format.h>
#include <uv.h>

#include <array>
#include <memory>
#include <tuple>

#include "petrel/core/assert.h"
#include "petrel/core/cidr.h"
#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"
#include "petrel/log/mail_log.h"
#include "petrel/policy/restrictions.h"
#include "petrel/server/greylisting.h"
#include "petrel/server/recipient_quota.h"

namespace petrel::server {

namespace {

using Kind = delivery::Router::DomainKind;
using Outcome = delivery::Expansion::Outcome;

const char* verdictWord(const policy::Decision& d) {
  return d.kind == policy::Decision::Kind::Permit   ? "permit"
         : d.kind == policy::Decision::Kind::Reject ? "reject"
         : d.kind == policy::Decision::Kind::Defer  ? "defer"
                                                    : "nothing (dunno)";
}

// The restriction lists that run at an SMTP stage (Postfix smtpd_delay_reject: with it, the
// client, helo and sender lists wait for RCPT and run there before the recipient list).
std::vector<const policy::RestrictionList*> listsAt(const RestrictionLists& set, smtp::Stage at) {
  using policy::Stage;
  std::vector<const policy::RestrictionList*> out;
  auto add = [&](Stage s) {
    if (const policy::RestrictionList* l = set.list(s)) out.push_back(l);
  };
  switch (at) {
    case smtp::Stage::Connect:
      if (!set.delay_reject) add(Stage::Client);
      break;
    case smtp::Stage::Helo:
      if (!set.delay_reject) add(Stage::Helo);
      break;
    case smtp::Stage::Mail:
      if (!set.delay_reject) add(Stage::Sender);
      break;
    case smtp::Stage::Rcpt:
    case smtp::Stage::Vrfy:
      if (set.delay_reject) {
        add(Stage::Client);
        add(Stage::Helo);
        add(Stage::Sender);
      }
      add(Stage::Recipient);
      break;
    case smtp::Stage::Data:
      add(Stage::Data);
      break;
    case smtp::Stage::EndOfData:
      add(Stage::EndOfData);
      break;
    case smtp::Stage::Auth:
      break;
  }
  return out;
}

smtp::Reply refusal(const policy::Decision& d) { return smtp::Reply(d.code, d.enhanced, d.text); }

// reject_unlisted_sender / reject_unlisted_recipient (Postfix check_rcpt_maps): an address of a
// local domain is listed when canonical.recipient maps it or the router expands it (alias or
// mailbox); other domains are not ours to judge (Petrel has no relay_recipient_maps).
policy::AddressListing addressListing(const delivery::Router& router, std::string_view address) {
  using L = policy::AddressListing;
  MailAddress a(address);
  if (a.hasDomain()) {
    Kind k = router.classifyDomain(a.domain()).kind;
    if (k == Kind::TempFail) return L::TempFail;
    if (k != Kind::Local) return L::NotOurs;
  }
  auto canon = router.canonicalRecipient(address);
  if (!canon) return L::TempFail;
  if (*canon != address) return L::Listed;
  switch (router.expand(address).outcome) {
    case Outcome::Accepted: return L::Listed;
    case Outcome::UnknownRecipient: return L::Unlisted;
    case Outcome::TemporaryFailure: return L::TempFail;
    case Outcome::NonLocalDomain: return L::NotOurs;
    // It is in the tables (an alias loop, say): the router answers for it at RCPT.
    case Outcome::PermanentFailure: return L::Listed;
  }
  return L::Listed;
}

bool sameIp(std::string_view a, std::string_view b) {
  auto x = IpAddress::parse(a);
  auto y = IpAddress::parse(b);
  if (!x || !y) return false;
  IpAddress u = x->unmapped(), v = y->unmapped();
  return u.v6 == v.v6 && u.bytes == v.bytes;
}

// permit_mx_backup: is `ip` one we receive mail on (Postfix own_inet_addr)? The address this
// client reached, every listener's address, and for a listener on the wildcard address every
// interface address.
bool isOurAddress(const config::Config& cfg, std::string_view local, std::string_view ip) {
  if (!local.empty() && sameIp(local, ip)) return true;
  bool wildcard = false;
  for (const auto& l : cfg.listeners) {
    if (l.address.host == "0.0.0.0" || l.address.host == "::") {
      wildcard = true;
    } else if (sameIp(l.address.host, ip)) {
      return true;
    }
  }
  if (!wildcard) return false;
  uv_interface_address_t* ifs = nullptr;
  int count = 0;
  if (uv_interface_addresses(&ifs, &count) != 0) return false;
  bool found = false;
  for (int i = 0; i < count && !found; ++i) {
    char text[INET6_ADDRSTRLEN] = {};
    if (ifs[i].address.address4.sin_family == AF_INET) {
      uv_ip4_name(&ifs[i].address.address4, text, sizeof text);
    } else {
      uv_ip6_name(&ifs[i].address.address6, text, sizeof text);
    }
    found = sameIp(text, ip);
  }
  uv_free_interface_addresses(ifs, count);
  return found;
}

// One stage's verdict in flight. Holds the snapshot (and so the lists and tables) until done.
class StageRun : public std::enable_shared_from_this<StageRun> {
 public:
  StageRun(const Snapshot& snap, const config::Listener& listener, StageQuery q,
           StageServices services, std::vector<std::string>* trace,
           std::function<void(StageVerdict)> done)
      : snap_(snap), listener_(&listener), q_(std::move(q)), services_(std::move(services)),
        trace_(trace), done_(std::move(done)) {}

  void start() {
    const bool rcpt = q_.stage == smtp::Stage::Rcpt || q_.stage == smtp::Stage::Vrfy;
    if (!rcpt) return restrictions();
    MailAddress address(q_.who.address);
    has_domain_ = address.hasDomain();
    domain_ = std::string(address.domain());
    inPlaceOrOffloaded(
        snap_.router->blocking(),
        [self = shared_from_this()] {
          self->domain_class_ = !self->has_domain_
                                    ? delivery::Router::DomainClass{Kind::Local, {}}
                                    : self->snap_.router->classifyDomain(self->domain_);
        },
        [self = shared_from_this()] { self->classified(); });
  }

 private:
  void note(std::string line) {
    if (trace_ != nullptr) trace_->push_back(std::move(line));
  }

  // Runs `work` on the pool when it may block and an offload exists, else here; then `next`.
  void inPlaceOrOffloaded(bool blocks, std::function<void()> work, std::function<void()> next) {
    if (blocks && services_.offload) {
      services_.offload(std::move(work), std::move(next));
      return;
    }
    work();
    next();
  }

  void classified() {
    const std::string& address = q_.who.address;
    if (domain_class_.kind == Kind::TempFail) {
      log::mail::warning(log::Program::Smtpd, fmt::format("domain lookup for {} failed: {}",
                                                          address, domain_class_.error));
      note(fmt::format("domain {}: lookup failed: {}", domain_, domain_class_.error));
      return refuse(smtp::Reply(451, "4.3.0",
                                fmt::format("<{}>: Temporary lookup failure", address)));
    }
    if (has_domain_) {
      note(fmt::format("domain {}: {}", domain_,
                       domain_class_.kind == Kind::Local   ? "local (domains.local)"
                       : domain_class_.kind == Kind::Relay ? "relayed for (domains.relay)"
                                                           : "not ours"));
    }
    restrictions();
  }

  // The listener's lists for this stage (relay permission, sender ownership, ...).
  void restrictions() {
    // Postfix's defer_if_permit crosses CONNECT, HELO and MAIL to be applied at RCPT (VRFY);
    // DATA and END-OF-DATA start without one.
    const bool rcpt = q_.stage == smtp::Stage::Rcpt || q_.stage == smtp::Stage::Vrfy;
    const bool carries = q_.stage == smtp::Stage::Connect || q_.stage == smtp::Stage::Helo ||
                         q_.stage == smtp::Stage::Mail;
    std::optional<policy::Decision> carried;
    if (rcpt || carries) carried = std::move(q_.defer_if_permit);
    carried_in_ = carried.has_value();
    if (carried) {
      note(fmt::format("DEFER_IF_PERMIT pending from an earlier stage ({}): {} {} {}",
                       carried->rule, carried->code, carried->enhanced, carried->text));
    }
    auto it = snap_.restrictions->find(listener_->restrictions);
    if (it == snap_.restrictions->end()) return restricted(policy::Decision{}, std::nullopt);
    set_ = &it->second;
    std::vector<const policy::RestrictionList*> lists = listsAt(*set_, q_.stage);
    if (lists.empty() && !carried) return restricted(policy::Decision{}, std::nullopt);
    if (services_.policy_client == nullptr) {
      // `petrel route`: asking would change the service's state (postgrey records a triplet).
      for (const policy::RestrictionList* l : lists) {
        for (const std::string& check : l->checks()) {
          if (!check.starts_with("check_policy_service")) continue;
          note(fmt::format("{} ({} stage): not asked here, so it decides nothing (the server "
                           "asks it)",
                           check, policy::toString(l->stage())));
        }
      }
    }
    ctx_.client_ip = q_.who.client_ip;
    ctx_.helo = q_.who.helo;
    ctx_.sasl_user = q_.who.sasl_user;
    ctx_.sender = q_.who.sender;
    ctx_.recipient = q_.who.address;
    ctx_.message_size = q_.message_size;
    ctx_.recipient_count = q_.recipient_count;
    ctx_.client = q_.who.client;
    const delivery::Router* router = snap_.router.get();
    ctx_.is_our_destination = [router, self = this](std::string_view d) {
      Kind k = d == self->domain_ ? self->domain_class_.kind : router->classifyDomain(d).kind;
      return k == Kind::Local || k == Kind::Relay;
    };
    ctx_.sender_owners = [self = this](std::string_view s) { return senderOwners(self->snap_, s); };
    ctx_.address_listing = [router](std::string_view a) { return addressListing(*router, a); };
    ctx_.is_our_hostname = [cfg = snap_.config.get()](std::string_view host) {
      return iequals(host, cfg->hostname);
    };
    ctx_.is_our_address = [cfg = snap_.config.get(),
                           local = ctx_.client.server_address](std::string_view ip) {
      return isOurAddress(*cfg, local, ip);
    };
    ctx_.callbacks_block =
        router->blocking() || (snap_.sender_login && snap_.sender_login->blocking());
    ctx_.offload = services_.offload;
    ctx_.resolver = services_.resolver;
    ctx_.policy_client = services_.policy_client;
    // The command being answered: with delay_reject the client list runs at RCPT too. BDAT is
    // reported as DATA, as Postfix does.
    ctx_.protocol_state = std::string(smtp::toString(q_.stage));
    policy::evaluateLists(
        std::move(lists), ctx_, std::move(carried), /*apply_pending=*/!carries,
        [self = shared_from_this()](const policy::RestrictionList& l, const policy::Decision& d) {
          if (d.kind == policy::Decision::Kind::Reject || d.kind == policy::Decision::Kind::Defer) {
            self->list_refused_ = true;
          }
          self->note(fmt::format("restrictions '{}' ({} stage, {}): {} decided {}",
                                 self->listener_->restrictions, policy::toString(l.stage()),
                                 self->set_->origin, self->describeRule(l.stage(), d.rule),
                                 verdictWord(d)));
        },
        [self = shared_from_this()](policy::Decision d, std::optional<policy::Decision> pending) {
          self->restricted(std::move(d), std::move(pending));
        });
  }

  // The deciding check with its place in the file: "reject_rbl_client bl.test (petrel.yaml:
  // 12:7)"; the implicit end of a recipient list says so.
  std::string describeRule(policy::Stage stage, const std::string& rule) const {
    if (rule.empty()) return "no check";
    if (auto it = set_->specs.find(stage); it != set_->specs.end()) {
      for (const config::CheckSpec& spec : it->second) {
        if (spec.text == rule || spec.text == "warn_if_reject " + rule) {
          return fmt::format("{} ({})", rule, spec.origin);
        }
      }
    }
    return stage == policy::Stage::Recipient && rule == "reject_unauth_destination"
               ? "reject_unauth_destination (implicit at the end of every recipient list)"
               : rule;
  }

  void restricted(policy::Decision d, std::optional<policy::Decision> pending) {
    actions_ = std::move(d.actions);
    if (d.kind == policy::Decision::Kind::Reject || d.kind == policy::Decision::Kind::Defer) {
      if (!list_refused_) {
        // No list refused: a DEFER_IF_PERMIT still pending at the end turned the pass into it.
        note(fmt::format("DEFER_IF_PERMIT of {} still pending at the end: the pass becomes its "
                         "deferral",
                         d.rule));
      }
      rule_ = d.rule;
      return refuse(refusal(d));
    }
    if (pending && !carried_in_) {
      note(fmt::format("DEFER_IF_PERMIT pending ({}: {} {} {}): carried to RCPT, where a permit "
                       "becomes this deferral",
                       pending->rule, pending->code, pending->enhanced, pending->text));
    }
    defer_if_permit_ = std::move(pending);
    if (q_.stage != smtp::Stage::Rcpt && q_.stage != smtp::Stage::Vrfy) {
      return finish(smtp::Verdict::accept());
    }
    // delivery.quota reads maildirsize files: always off the loop.
    inPlaceOrOffloaded(
        snap_.router->blocking() || snap_.quota != nullptr,
        [self = shared_from_this()] {
          self->route();
          self->routed_ = checkRecipientQuota(self->snap_, self->q_.who.address,
                                               self->q_.declared_size,
                                               std::move(self->routed_), self->trace_);
        },
        [self = shared_from_this()] { self->finish(std::move(self->routed_)); });
  }

  // canonical.recipient, then the router's expansion (aliases, mailboxes).
  void route() {
    const delivery::Router& router = *snap_.router;
    const std::string& address = q_.who.address;
    auto tempfail = [&address] {
      return smtp::Verdict::refuse(
          smtp::Reply(451, "4.3.0", fmt::format("<{}>: Temporary lookup failure", address)));
    };
    // canonical.recipient: the restrictions saw the address as given; routing uses the
    // canonical one (as Postfix's cleanup rewrites before virtual alias expansion).
    // receive_override_options of a reinjection listener (docs/filters.md): the mail comes
    // back from a content filter with the final addresses it was sent with.
    const config::ReceiveOverrides& overrides = listener_->receive_override;
    std::string routed = address;
    if (overrides.no_address_mappings) {
      // no canonical.recipient
    } else if (auto canon = router.canonicalRecipient(address); !canon) {
      log::mail::warning(log::Program::Smtpd, fmt::format("canonical lookup for {} failed: {}",
                                                          address, canon.error().message()));
      note(fmt::format("canonical.recipient: lookup failed: {}", canon.error().message()));
      routed_ = tempfail();
      return;
    } else if (*canon != address) {
      routed = *canon;
      note(fmt::format("canonical.recipient: {} -> {}", address, routed));
      domain_class_ = router.classifyDomain(MailAddress(routed).domain());
      if (domain_class_.kind == Kind::TempFail) {
        routed_ = tempfail();
        return;
      }
    }
    if (domain_class_.kind != Kind::Local) {
      // Permitted relaying: the recipient stays as given and waits for the outbound relay.
      routed_ = smtp::Verdict::accept({routed});
      return;
    }
    if (overrides.no_address_mappings && overrides.no_unknown_recipient_checks) {
      routed_ = smtp::Verdict::accept({routed});
      return;
    }
    auto e = router.expand(routed, trace_);
    if (e.outcome == Outcome::UnknownRecipient && overrides.no_unknown_recipient_checks) {
      note("receive_override_options no_unknown_recipient_checks: taken as it is");
      e.outcome = Outcome::Accepted;
      e.recipients = {routed};
    }
    switch (e.outcome) {
      case Outcome::Accepted:
        if (overrides.no_address_mappings) e.recipients = {routed};  // no alias expansion
        routed_ = smtp::Verdict::accept(std::move(e.recipients));
        break;
      case Outcome::NonLocalDomain:
        routed_ = smtp::Verdict::refuse(
            smtp::Reply(554, "5.7.1", fmt::format("<{}>: Relay access denied", address)));
        break;
      case Outcome::UnknownRecipient:
        if (!e.log_detail.empty()) {  // an SRS address that does not reverse (docs/srs.md)
          log::mail::info(log::Program::Smtpd,
                          fmt::format("srs: reverse of <{}> failed: {}", address, e.log_detail));
        }
        routed_ = smtp::Verdict::refuse(smtp::Reply(
            550, e.status.empty() ? "5.1.1" : e.status,
            fmt::format("<{}>: Recipient address rejected: {}", address, e.reason)));
        break;
      case Outcome::TemporaryFailure:
        routed_ = smtp::Verdict::refuse(
            smtp::Reply(451, e.status.empty() ? "4.3.0" : e.status,
                        fmt::format("<{}>: Temporary lookup failure", address)));
        log::mail::warning(log::Program::Smtpd,
                           fmt::format("recipient lookup for {} failed: {}", address, e.reason));
        break;
      case Outcome::PermanentFailure:
        routed_ = smtp::Verdict::refuse(smtp::Reply(
            550, e.status.empty() ? "5.1.0" : e.status,
            fmt::format("<{}>: Recipient address rejected: {}", address, e.reason)));
        break;
    }
  }

  void refuse(smtp::Reply reply) { finish(smtp::Verdict::refuse(std::move(reply))); }

  void finish(smtp::Verdict verdict) {
    auto done = std::move(done_);
    if (!verdict.accepted()) defer_if_permit_.reset();
    done(StageVerdict{std::move(verdict), std::move(actions_), std::move(rule_),
                      std::move(defer_if_permit_)});
  }

  Snapshot snap_;
  const config::Listener* listener_;  // in snap_.config
  StageQuery q_;
  StageServices services_;
  std::vector<std::string>* trace_;
  std::function<void(StageVerdict)> done_;
  bool has_domain_ = false;  // the recipient has an '@'
  std::string domain_;       // its domain as written
  delivery::Router::DomainClass domain_class_;
  const RestrictionLists* set_ = nullptr;
  policy::PolicyContext ctx_;
  std::vector<policy::PolicyAction> actions_;
  std::string rule_;  // the check that refused
  std::optional<policy::Decision> defer_if_permit_;  // pending after CONNECT, HELO, MAIL
  bool carried_in_ = false;  // the query brought one (the trace names it once)
  bool list_refused_ = false;  // a list's own decision refused (not a pending DEFER_IF_PERMIT)
  smtp::Verdict routed_;
};

}  // namespace

uint32_t verdictStages(const Snapshot& snap, const config::Listener& listener) {
  auto it = snap.restrictions->find(listener.restrictions);
  if (it == snap.restrictions->end()) return 0;
  uint32_t stages = 0;
  for (smtp::Stage s : {smtp::Stage::Connect, smtp::Stage::Helo, smtp::Stage::Mail,
                        smtp::Stage::Data, smtp::Stage::EndOfData}) {
    if (!listsAt(it->second, s).empty()) stages |= smtp::stageBit(s);
  }
  // DMARC may refuse a message at its end (dmarc.on_reject: reject).
  if (snap.public_suffixes && snap.config->dmarc.on_reject == config::Dmarc::OnReject::Reject) {
    stages |= smtp::stageBit(smtp::Stage::EndOfData);
  }
  // Header and body checks may refuse it too (REJECT, DEFER).
  if (snap.checks) stages |= smtp::stageBit(smtp::Stage::EndOfData);
  // So may a milter (filters.milters, server/milter_stage.h).
  if (!config::listenerMilters(*snap.config, listener).empty()) stages |= smtp::stageBit(smtp::Stage::EndOfData);
  return stages;
}

void checkStage(const Snapshot& snap, const config::Listener& listener, StageQuery q,
                StageServices services, std::vector<std::string>* trace,
                std::function<void(StageVerdict)> done) {
  std::make_shared<StageRun>(snap, listener, std::move(q), std::move(services), trace,
                             std::move(done))
      ->start();
}

RecipientVerdict checkRecipient(const Snapshot& snap, const config::Listener& listener,
                                const RecipientQuery& q, std::vector<std::string>* trace) {
  RecipientVerdict out;
  bool answered = false;
  checkStage(snap, listener, StageQuery{smtp::Stage::Rcpt, q, 0, 0, std::nullopt},
             StageServices{}, trace, [&out, &answered](StageVerdict v) {
               answered = true;
               out.accepted = v.verdict.accepted();
               if (out.accepted) {
                 out.expand = std::move(v.verdict.expand);
               } else {
                 out.refusal = std::move(v.verdict.reply);
               }
             });
  // Without an offload or a resolver every step runs in place, so the answer is here.
  PETREL_ASSERT(answered);
  return out;
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
  MailAddress address(sender);
  if (!address.hasDomain() || !snap.router->isLocalDomain(address.domain())) return owners;
  owners.push_back(toLower(address.withoutExtension(snap.config->recipient_delimiter)));
  return owners;
}

Result<Snapshot> routingSnapshot(const config::Config& cfg, const lookup::Warn& warn,
                                 std::shared_ptr<const policy::Greylist> greylist) {
  Snapshot s;
  s.greylist = greylist ? std::move(greylist) : inspectGreylist(cfg, warn);
  s.config = std::make_shared<const config::Config>(cfg);
  if (cfg.dmarc.verify) {
    auto psl = dmarc::PublicSuffixList::load(cfg.dmarc.public_suffix_list);
    if (!psl) {
      return Error::config(fmt::format(
          "dmarc.public_suffix_list: {} (install Debian's publicsuffix package, or set "
          "dmarc.verify: false)",
          psl.error().message()));
    }
    s.public_suffixes = std::make_shared<const dmarc::PublicSuffixList>(std::move(psl.value()));
  }
  auto sieve = delivery::loadSieveScripts(cfg, warn);
  if (!sieve) return sieve.error();
  s.sieve = std::move(sieve.value());
  s.auto_replies = delivery::loadAutoReplies(cfg, warn);
  s.router = std::make_shared<const delivery::Router>(cfg, warn);
  s.quota = delivery::makeMailboxQuota(cfg, warn);
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
  std::vector<Cidr> mx_backup_blocks;
  for (const auto& n : cfg.smtp.permit_mx_backup_networks) {
    auto c = Cidr::parse(n);
    if (!c) return c.error();
    mx_backup_blocks.push_back(*c);
  }
  s.mynetworks_table = mynetworks_table;
  s.checks = openCheckTables(cfg.checks, warn);
  if (cfg.limits.rate.exceptions) {
    std::vector<Cidr> exceptions;
    for (const auto& n : *cfg.limits.rate.exceptions) {
      auto c = Cidr::parse(n);
      if (!c) return c.error();
      exceptions.push_back(*c);
    }
    s.rate_exceptions = std::make_shared<const CidrList>(std::move(exceptions));
  }
  auto sets = std::make_shared<std::map<std::string, RestrictionLists>>();
  // restriction_classes, built once for every set (Postfix smtpd_restriction_classes).
  std::shared_ptr<const policy::RestrictionClasses> classes;
  if (!cfg.restriction_classes.lists.empty()) {
    auto tables = std::make_shared<std::map<std::string, lookup::TablePtr>>();
    for (const auto& [ref, spec] : cfg.restriction_classes.access_tables) {
      (*tables)[ref] = lookup::makeTable(spec, warn);
    }
    policy::CheckEnvironment env(CidrList(blocks), [tables](const std::string& ref) {
      auto it = tables->find(ref);
      return it == tables->end() ? nullptr : it->second;
    });
    env.mynetworks->table = mynetworks_table;
    env.parent_domain_matches_subdomains =
        cfg.smtp.parentDomainMatchesSubdomains("smtpd_access_maps");
    env.recipient_delimiter = cfg.recipient_delimiter;
    env.mx_backup_networks = CidrList(mx_backup_blocks);
    policy::RestrictionClasses::Spec spec;
    for (const auto& [name, checks] : cfg.restriction_classes.lists) {
      std::vector<std::string>& list = spec[name];
      for (const config::CheckSpec& c : checks) list.push_back(c.text);
    }
    auto built = policy::RestrictionClasses::build(spec, env);
    if (!built) return built.error();
    classes = *built;
  }
  for (const auto& [name, set] : cfg.restrictions) {
    auto tables = std::make_shared<std::map<std::string, lookup::TablePtr>>();
    for (const auto& [ref, spec] : set.access_tables) (*tables)[ref] = lookup::makeTable(spec, warn);
    policy::CheckEnvironment env(CidrList(blocks), [tables](const std::string& ref) {
      auto it = tables->find(ref);
      return it == tables->end() ? nullptr : it->second;
    });
    env.mynetworks->table = mynetworks_table;
    env.parent_domain_matches_subdomains =
        cfg.smtp.parentDomainMatchesSubdomains("smtpd_access_maps");
    env.recipient_delimiter = cfg.recipient_delimiter;
    env.mx_backup_networks = CidrList(mx_backup_blocks);
    const config::PolicyService& ps = cfg.policy_service;
    env.policy_service.timeout_ms = ps.timeout * 1000;
    env.policy_service.max_idle_ms = ps.max_idle * 1000;
    env.policy_service.max_ttl_ms = ps.max_ttl * 1000;
    env.policy_service.try_limit = ps.try_limit;
    env.policy_service.retry_delay_ms = ps.retry_delay * 1000;
    env.policy_service.request_limit = ps.request_limit;
    env.policy_service.default_action = ps.default_action;
    env.policy_service.policy_context = ps.policy_context;
    env.greylist = s.greylist;
    env.classes = classes;
    RestrictionLists compiled;
    compiled.origin = set.origin;
    compiled.delay_reject = set.delay_reject;
    const std::array<std::pair<policy::Stage, const std::vector<config::CheckSpec>*>, 6> stages{{
        {policy::Stage::Client, &set.client},
        {policy::Stage::Helo, &set.helo},
        {policy::Stage::Sender, &set.sender},
        {policy::Stage::Recipient, &set.recipient},
        {policy::Stage::Data, &set.data},
        {policy::Stage::EndOfData, &set.end_of_data},
    }};
    for (const auto& [stage, specs] : stages) {
      // The recipient list is always there: its implicit reject_unauth_destination guards relay.
      if (specs->empty() && stage != policy::Stage::Recipient) continue;
      std::vector<std::string> checks;
      for (const config::CheckSpec& c : *specs) checks.push_back(c.text);
      auto list = policy::RestrictionList::parse(stage, checks, env);
      if (!list) return list.error();
      compiled.lists.emplace(stage, std::move(list.value()));
      compiled.specs.emplace(stage, *specs);
    }
    sets->emplace(name, std::move(compiled));
  }
  s.restrictions = std::move(sets);
  return s;
}

}  // namespace petrel::server
