// Router: recipient address -> final recipients (aliases) -> Maildir (mailboxes).
//
// See headers/petrel/delivery/router.h for the expansion order. This file owns address
// normalisation, lookup key construction, recursive alias expansion with loop detection and the
// Maildir path rules. It does no I/O of its own (the tables may) and formats no SMTP replies:
// callers turn an Expansion's status/reason into one.
#include "petrel/delivery/router.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <optional>

#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"
#include "petrel/srs/srs.h"

namespace petrel::delivery {

using lookup::LookupStatus;
using Outcome = Expansion::Outcome;

// An address with its domain lower-cased; the local part keeps the case it was given in.
struct Router::Address : MailAddress {
  Address(std::string_view local, std::string_view domain)
      : MailAddress(fmt::format("{}@{}", local, toLower(domain))) {}
  explicit Address(const MailAddress& a) : Address(a.local(), a.domain()) {}
};

// A search over several tables with several keys.
struct Router::TableAnswer {
  lookup::LookupResult result;
  std::string key;    // the key that was found
  std::string table;  // and the table that found it (describe())
};

// The work of one expand() call. Every method returning bool returns false after recording
// the failure that ends the expansion.
struct Router::ExpandState {
  std::string top_key;
  std::vector<std::string> recipients;
  std::unordered_set<std::string> recipient_keys;  // for deduplication (case-insensitive)
  std::unordered_set<std::string> on_path;         // aliases being expanded: loop detection
  std::unordered_set<std::string> done;            // addresses fully expanded already
  std::optional<Expansion> failure;
  std::vector<std::string>* trace = nullptr;  // `petrel route`: each step in words

  void note(std::string line) {
    if (trace != nullptr) trace->push_back(std::move(line));
  }

  bool fail(Outcome outcome, std::string_view status, std::string reason) {
    failure = Expansion{outcome, {}, std::string(status), std::move(reason), {}};
    return false;
  }

  // The reason is the table's own error text (it names the table and the cause) for the log;
  // callers reply with a generic text such as Postfix's "Temporary lookup failure".
  bool tableFailed(const TableAnswer& answer) {
    bool temporary = answer.result.status == lookup::LookupStatus::TempFail;
    std::string reason = answer.result.error;
    if (reason.empty()) {
      reason = temporary ? "Temporary lookup failure" : "Server configuration error";
    }
    return fail(Outcome::TemporaryFailure, temporary ? "4.3.0" : "4.3.5", std::move(reason));
  }

  bool unknown(const Address& address) {
    constexpr std::string_view UnknownUser = "User unknown in virtual mailbox table";
    if (address.key() == top_key) {
      return fail(Outcome::UnknownRecipient, "5.1.1", std::string(UnknownUser));
    }
    return fail(Outcome::UnknownRecipient, "5.1.1",
                fmt::format("<{}>: {}", address.text(), UnknownUser));
  }

  bool addFinal(const Address& address) {
    if (recipient_keys.insert(address.key()).second) {
      if (recipients.size() >= MaxExpansionRecipients) {
        return fail(Outcome::PermanentFailure, "5.4.6", "alias expansion too large");
      }
      recipients.push_back(address.text());
    }
    return true;
  }
};

namespace {

// A full address ("local@domain", split at the last '@': a quoted local part may contain one)
// without control characters; nullopt otherwise.
std::optional<MailAddress> parseFullAddress(std::string_view text) {
  if (hasControlCharacter(text)) {
    return std::nullopt;
  }
  return MailAddress::parse(text);
}

bool hasDotDotComponent(std::string_view path) {
  for (std::string_view component : split(path, '/')) {
    if (component == "..") {
      return true;
    }
  }
  return false;
}

}  // namespace

Router::Router(const config::Config& cfg, lookup::Warn warn)
    : mail_root_(cfg.mail_root), delimiters_(cfg.recipient_delimiter) {
  for (const std::string& domain : cfg.local_domains) {
    std::string lower = toLower(domain);
    if (local_domain_set_.insert(lower).second) {
      local_domains_.push_back(std::move(lower));
    }
  }
  while (mail_root_.size() > 1 && mail_root_.back() == '/') {
    mail_root_.pop_back();
  }
  if (cfg.mailboxes) {
    mailboxes_.push_back(lookup::makeTable(*cfg.mailboxes, warn));
  }
  for (const config::TableSpec& spec : cfg.aliases) {
    aliases_.push_back(lookup::makeTable(spec, warn));
  }
  for (const std::string& domain : cfg.relay_domains) {
    relay_domain_set_.insert(toLower(domain));
  }
  if (cfg.local_domains_table) {
    local_domain_table_ = lookup::makeTable(*cfg.local_domains_table, warn);
  }
  if (cfg.relay_domains_table) {
    relay_domain_table_ = lookup::makeTable(*cfg.relay_domains_table, warn);
  }
  if (cfg.relay.transport) transport_ = lookup::makeTable(*cfg.relay.transport, warn);
  if (cfg.canonical_sender) canonical_sender_ = lookup::makeTable(*cfg.canonical_sender, warn);
  if (cfg.canonical_recipient) {
    canonical_recipient_ = lookup::makeTable(*cfg.canonical_recipient, warn);
  }
  if (cfg.relay.tls_policy) tls_policy_ = lookup::makeTable(*cfg.relay.tls_policy, warn);
  relayhost_ = cfg.relay.relayhost;
  transports_ = cfg.transports;
  local_transport_ = cfg.delivery.transport;
  default_tls_ = cfg.relay.tls;
  now_ = [] { return static_cast<int64_t>(std::time(nullptr)); };
  if (cfg.srs.enabled()) {
    srs::Options o;
    o.domain = cfg.srs.domain;
    o.secrets = cfg.srs.secrets;
    o.hash_length = static_cast<int>(cfg.srs.hash_length);
    o.hash_min = static_cast<int>(cfg.srs.hash_min);
    o.max_age_days = static_cast<int>(cfg.srs.max_age / 86400);
    o.separator = cfg.srs.separator;
    srs_.emplace(std::move(o));
    srs_exclude_ = cfg.srs.exclude_domains;
  }
}

Router::DomainClass Router::classifyDomain(std::string_view domain_text) const {
  std::string domain = toLower(domain_text);
  auto member = [&domain](const std::unordered_set<std::string>& set,
                          const lookup::TablePtr& table, DomainKind kind) -> DomainClass {
    if (set.count(domain) != 0) return {kind, {}};
    if (!table) return {DomainKind::Other, {}};
    lookup::LookupResult r = table->lookup(domain);
    if (r.status == LookupStatus::Found) return {kind, {}};
    if (r.status == LookupStatus::NotFound) return {DomainKind::Other, {}};
    return {DomainKind::TempFail, r.error.empty() ? table->describe() + ": lookup failed" : r.error};
  };
  // srs.domain receives the bounces to our SRS addresses, so it is ours even when it is no
  // mailbox domain (a dedicated forwarding domain, as postsrsd's SRS_DOMAIN may be).
  if (srs_ && domain == srs_->options().domain) return {DomainKind::Local, {}};
  DomainClass local = member(local_domain_set_, local_domain_table_, DomainKind::Local);
  if (local.kind != DomainKind::Other) return local;
  return member(relay_domain_set_, relay_domain_table_, DomainKind::Relay);
}

bool Router::isLocalDomain(std::string_view domain) const {
  return classifyDomain(domain).kind == DomainKind::Local;
}

bool Router::blocking() const {
  auto blocks = [](const lookup::TablePtr& t) { return t && t->blocking(); };
  return std::any_of(mailboxes_.begin(), mailboxes_.end(), blocks) ||
         std::any_of(aliases_.begin(), aliases_.end(), blocks) || blocks(transport_) ||
         blocks(tls_policy_) || blocks(local_domain_table_) || blocks(relay_domain_table_) ||
         blocks(canonical_sender_) || blocks(canonical_recipient_);
}

void Router::refreshTables() const {
  for (const auto& table : mailboxes_) {
    table->refresh();
  }
  if (transport_) transport_->refresh();
  if (local_domain_table_) local_domain_table_->refresh();
  if (canonical_sender_) canonical_sender_->refresh();
  if (canonical_recipient_) canonical_recipient_->refresh();
  if (relay_domain_table_) relay_domain_table_->refresh();
  if (tls_policy_) tls_policy_->refresh();
  for (const auto& table : aliases_) {
    table->refresh();
  }
}

std::optional<Router::Address> Router::parseAddress(std::string_view text) const {
  text = trim(text);
  // RFC 5321 4.5.1: "RCPT TO:<Postmaster>" without a domain must be accepted.
  if (iequals(text, "postmaster")) {
    if (local_domains_.empty()) {
      return std::nullopt;
    }
    return Address(text, local_domains_.front());
  }
  auto parsed = parseFullAddress(text);
  if (!parsed) {
    return std::nullopt;
  }
  return Address(*parsed);
}

std::vector<std::string> Router::lookupKeys(const Address& address) const {
  std::vector<std::string> keys{address.key()};
  // "alice+tag" -> "alice"; a local part that starts with the delimiter has no base.
  if (address.localWithoutExtension(delimiters_).size() != address.local().size()) {
    keys.push_back(toLower(address.withoutExtension(delimiters_)));
  }
  return keys;
}

std::vector<std::string> Router::addressKeys(std::string_view address) const {
  auto parsed = parseAddress(address);
  return parsed ? lookupKeys(*parsed) : std::vector<std::string>();
}

Router::TableAnswer Router::search(const std::vector<lookup::TablePtr>& tables,
                                   const std::vector<std::string>& keys) {
  // Key-major like Postfix: an exact entry in a later table beats a weaker key in an earlier
  // one. Any failure stops the search: we cannot know what the failed table would have said.
  for (const std::string& key : keys) {
    for (const auto& table : tables) {
      lookup::LookupResult result = table->lookup(key);
      if (result.status != LookupStatus::NotFound) {
        return {std::move(result), key, table->describe()};
      }
    }
  }
  return {lookup::LookupResult::notFound(), {}, {}};
}

Result<std::string> Router::mailboxPath(const Address& address, const TableAnswer& answer) const {
  const std::string& value = answer.result.value;
  std::string path;
  if (!value.empty() && value.back() == '/') {
    path = value.front() == '/' ? value : fmt::format("{}/{}", mail_root_, value);
  } else {
    // Any other value ("yes") means the default layout, named after the key that matched,
    // so "alice+tag" lands in alice's Maildir.
    std::string_view local = std::string_view(answer.key).substr(0, answer.key.rfind('@'));
    path = fmt::format("{}/{}/{}/", mail_root_, address.domain(), toLower(local));
  }
  if (hasDotDotComponent(path)) {
    return Error::temporary(
        fmt::format("mailbox of {}: path \"{}\" has a \"..\" component", address.text(), path));
  }
  return path;
}

bool Router::finishWithMailbox(const Address& address, const TableAnswer& mailbox,
                               ExpandState& state) const {
  switch (mailbox.result.status) {
    case LookupStatus::Found: {
      // Check the path now so a broken entry defers at RCPT time instead of after queueing.
      Result<std::string> path = mailboxPath(address, mailbox);
      if (!path) {
        return state.fail(Outcome::TemporaryFailure, "4.3.5", path.error().message());
      }
      return state.addFinal(address);
    }
    case LookupStatus::NotFound:
      return state.unknown(address);
    default:
      return state.tableFailed(mailbox);
  }
}

bool Router::expandAddress(const Address& address, int depth, ExpandState& state) const {
  DomainClass domain = classifyDomain(address.domain());
  if (domain.kind == DomainKind::TempFail) {
    return state.fail(Outcome::TemporaryFailure, "4.3.0", domain.error);
  }
  if (domain.kind != DomainKind::Local) {
    state.note(fmt::format("{}: {} is not a local domain: relayed", address.text(),
                           address.domain()));
    return state.addFinal(address);
  }
  if (std::optional<bool> reversed = expandSrs(address, depth, state)) {
    return *reversed;
  }
  std::string key = address.key();
  if (state.done.count(key) != 0) {
    return true;
  }
  if (state.on_path.count(key) != 0) {
    return state.fail(Outcome::PermanentFailure, "5.4.6", "alias loop");
  }
  if (depth > MaxAliasDepth) {
    return state.fail(Outcome::PermanentFailure, "5.4.6", "alias loop");
  }

  std::vector<std::string> keys = lookupKeys(address);
  bool ok = false;
  if (TableAnswer alias = search(aliases_, keys); alias.result.status == LookupStatus::Found) {
    state.note(fmt::format("alias {} -> {} ({})", alias.key, alias.result.value, alias.table));
    ok = expandTargets(address, alias, depth, state);
  } else if (alias.result.status != LookupStatus::NotFound) {
    return state.tableFailed(alias);
  } else if (TableAnswer mailbox = search(mailboxes_, keys);
             mailbox.result.status != LookupStatus::NotFound) {
    if (mailbox.result.status == LookupStatus::Found) {
      state.note(fmt::format("mailbox {} -> {} ({})", mailbox.key, mailbox.result.value,
                             mailbox.table));
    }
    ok = finishWithMailbox(address, mailbox, state);
  } else if (TableAnswer catch_all = search(aliases_, {"@" + std::string(address.domain())});
             catch_all.result.status == LookupStatus::Found) {
    state.note(fmt::format("catch-all {} -> {} ({})", catch_all.key, catch_all.result.value,
                           catch_all.table));
    ok = expandTargets(address, catch_all, depth, state);
  } else if (catch_all.result.status != LookupStatus::NotFound) {
    return state.tableFailed(catch_all);
  } else {
    return state.unknown(address);
  }
  if (ok) {
    state.done.insert(std::move(key));
  }
  return ok;
}

std::optional<bool> Router::expandSrs(const Address& address, int depth,
                                      ExpandState& state) const {
  if (!srs_ || address.domain() != srs_->options().domain ||
      !srs::isSrsAddress(address.text())) {
    return std::nullopt;
  }
  srs::Reversal r = srs_->reverse(address.text(), now_());
  std::optional<MailAddress> back;
  if (r.status == srs::Reversal::Status::Ok) back = parseFullAddress(r.address);
  if (!back) {
    // The reply is the one for an unknown user, as Postfix gives when postsrsd cannot reverse
    // an address; which check failed goes to the log only (no oracle for forgers).
    state.unknown(address);
    state.failure->log_detail = r.status == srs::Reversal::Status::Ok
                                    ? std::string("bad syntax")
                                    : std::string(srs::toString(r.status));
    state.note(fmt::format("SRS {}: {}: refused", address.text(), state.failure->log_detail));
    return false;
  }
  state.note(fmt::format("SRS {} -> {}", address.text(), back->text()));
  return expandAddress(Address(*back), depth + 1, state);
}

bool Router::expandTargets(const Address& address, const TableAnswer& alias, int depth,
                           ExpandState& state) const {
  std::vector<Address> targets;
  std::string_view rest = alias.result.value;
  while (!rest.empty()) {
    size_t end = rest.find_first_of(", \t");
    std::string_view token = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    if (token.size() >= 2 && token.front() == '<' && token.back() == '>') {
      token = token.substr(1, token.size() - 2);
    }
    if (token.empty()) {
      continue;
    }
    if (token.find('@') == std::string_view::npos && !hasControlCharacter(token)) {
      // A bare name stays in the domain of the alias: "sales@b.test: bob" means bob@b.test.
      targets.emplace_back(token, address.domain());
    } else if (auto parsed = parseFullAddress(token)) {
      targets.emplace_back(*parsed);
    } else {
      return state.fail(Outcome::TemporaryFailure, "4.3.5",
                        fmt::format("alias {} has a bad target \"{}\"", alias.key, token));
    }
  }
  if (targets.empty()) {
    return state.fail(Outcome::TemporaryFailure, "4.3.5",
                      fmt::format("alias {} has no target", alias.key));
  }

  std::string key = address.key();
  state.on_path.insert(key);
  for (const Address& target : targets) {
    // An address that maps to itself ("alice -> alice, archive") is final: deliver it.
    bool ok = target.key() == key
                  ? finishWithMailbox(address, search(mailboxes_, lookupKeys(address)), state)
                  : expandAddress(target, depth + 1, state);
    if (!ok) {
      return false;
    }
  }
  state.on_path.erase(key);
  return true;
}

Expansion Router::expand(std::string_view text, std::vector<std::string>* trace) const {
  std::optional<Address> address = parseAddress(text);
  if (!address) {
    return Expansion{Outcome::PermanentFailure, {}, "5.1.3", "Bad recipient address syntax", {}};
  }
  DomainClass domain = classifyDomain(address->domain());
  if (domain.kind == DomainKind::TempFail) {
    return Expansion{Outcome::TemporaryFailure, {}, "4.3.0", domain.error, {}};
  }
  if (domain.kind != DomainKind::Local) {
    return Expansion{Outcome::NonLocalDomain, {}, "5.7.1", "Relay access denied", {}};
  }
  ExpandState state;
  state.trace = trace;
  state.top_key = address->key();
  if (!expandAddress(*address, 0, state)) {
    return std::move(*state.failure);
  }
  return Expansion{Outcome::Accepted, std::move(state.recipients), "2.1.5", "Ok", {}};
}

Result<std::string> Router::maildirFor(std::string_view text) const {
  std::optional<Address> address = parseAddress(text);
  if (!address) {
    return Error::permanent(fmt::format("bad mailbox address \"{}\"", text));
  }
  DomainClass domain = classifyDomain(address->domain());
  if (domain.kind == DomainKind::TempFail) return Error::temporary(domain.error);
  if (domain.kind != DomainKind::Local) {
    return Error::permanent(fmt::format("{}: not a local domain", address->text()));
  }
  TableAnswer mailbox = search(mailboxes_, lookupKeys(*address));
  switch (mailbox.result.status) {
    case LookupStatus::Found:
      return mailboxPath(*address, mailbox);
    case LookupStatus::NotFound:
      return Error::permanent(fmt::format("{}: no mailbox", address->text()));
    default:
      return Error::temporary(mailbox.result.error);
  }
}

std::vector<config::ConfigError> checkPostmaster(const config::Config& cfg, const Router& router) {
  std::vector<config::ConfigError> errors;
  for (size_t i = 0; i < cfg.local_domains.size(); ++i) {
    const std::string& domain = cfg.local_domains[i];
    Expansion e = router.expand("postmaster@" + domain);
    if (e.outcome == Expansion::Outcome::Accepted ||
        e.outcome == Expansion::Outcome::TemporaryFailure) {
      continue;
    }
    std::string where = i < cfg.local_domain_origins.size() ? cfg.local_domain_origins[i]
                                                             : cfg.source_file;
    errors.push_back({where, fmt::format("postmaster@{} does not reach a mailbox ({}); RFC 5321 "
                                         "requires it: add an alias such as "
                                         "'postmaster@{}: you@{}'",
                                         domain, e.reason, domain, domain)});
  }
  return errors;
}

}  // namespace petrel::delivery
