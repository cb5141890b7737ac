// Postfix-style restriction lists: per SMTP stage an ordered list of checks, evaluated until
// one of them decides (Permit, Reject or Defer); a check that does not apply says Dunno and
// the next one runs.
//
// Owns the check names, their replies (Postfix's wording, so admins and log parsers recognise
// them) and the one safety net: a recipient-stage list that ends undecided runs
// reject_unauth_destination implicitly, so leaving it out cannot make an open relay (Postfix
// gets the same guarantee from smtpd_relay_restrictions). Each stage is evaluated on its own;
// a Permit ends only its own list, as in Postfix, and the session driver must still run the
// recipient stage after a client-stage Permit.
//
// Does not look anything up itself: domains and sender owners come through PolicyContext's
// callbacks, and the caller turns a Decision into a reply and a log line.
#include "petrel/policy/restrictions.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "petrel/core/strings.h"

namespace petrel::policy {

namespace {

constexpr std::string_view PermitMynetworks = "permit_mynetworks";
constexpr std::string_view PermitSaslAuthenticated = "permit_sasl_authenticated";
constexpr std::string_view RejectUnauthDestination = "reject_unauth_destination";
constexpr std::string_view RejectSenderLoginMismatch = "reject_sender_login_mismatch";
constexpr std::string_view Permit = "permit";
constexpr std::string_view Reject = "reject";
constexpr std::string_view Defer = "defer";
constexpr std::string_view CheckClientAccess = "check_client_access";
constexpr std::string_view CheckSenderAccess = "check_sender_access";
constexpr std::string_view CheckRecipientAccess = "check_recipient_access";

Decision decide(Decision::Kind kind, std::string_view rule, int code = 0, std::string enhanced = {},
                std::string text = {}) {
  return Decision{kind, code, std::move(enhanced), std::move(text), std::string(rule)};
}

Decision dunno() { return Decision{}; }

// The keys an address is looked up with (Postfix access(5), with
// parent_domain_matches_subdomains off, so parents are written ".example.com"): the full
// address, the domain, each parent domain as ".parent", then "localpart@".
std::vector<std::string> addressKeys(std::string_view address) {
  std::string a = toLower(address);
  std::vector<std::string> keys{a};
  size_t at = a.rfind('@');
  if (at == std::string::npos) return keys;
  std::string domain = a.substr(at + 1);
  keys.push_back(domain);
  for (size_t dot = domain.find('.'); dot != std::string::npos; dot = domain.find('.', dot + 1)) {
    keys.push_back(domain.substr(dot));
  }
  keys.push_back(a.substr(0, at + 1));
  return keys;
}

// A client address: itself, then (IPv4 only) the shorter dotted prefixes "1.2.3", "1.2", "1"
// as Postfix does for non-cidr tables; a cidr table matches the address against its blocks.
std::vector<std::string> clientKeys(std::string_view ip, const lookup::LookupTable& table) {
  std::vector<std::string> keys{std::string(ip)};
  if (table.describe().starts_with("cidr:") || ip.find(':') != std::string_view::npos) {
    return keys;
  }
  std::string prefix(ip);
  for (size_t dot = prefix.rfind('.'); dot != std::string::npos; dot = prefix.rfind('.')) {
    prefix.resize(dot);
    keys.push_back(prefix);
  }
  return keys;
}

// An access(5) action; `subject` names what matched, for the reply text.
Decision accessAction(std::string_view rule, const std::string& value, const std::string& subject) {
  std::string_view v = trim(value);
  size_t space = v.find_first_of(" \t");
  std::string word = toLower(v.substr(0, space));
  std::string rest(space == std::string_view::npos ? "" : trim(v.substr(space + 1)));
  if (word == "ok" || word == "permit" ||
      (!word.empty() && std::all_of(word.begin(), word.end(), ::isdigit) && word.size() != 3)) {
    return decide(Decision::Kind::Permit, rule);
  }
  if (word == "dunno") return dunno();
  if (word == "reject") {
    return decide(Decision::Kind::Reject, rule, 554, "5.7.1",
                  fmt::format("{}: {}", subject, rest.empty() ? "Access denied" : rest));
  }
  if (word == "defer") {
    return decide(Decision::Kind::Defer, rule, 450, "4.7.1",
                  fmt::format("{}: {}", subject, rest.empty() ? "Access denied" : rest));
  }
  if (word.size() == 3 && (word[0] == '4' || word[0] == '5') && std::isdigit(word[1]) &&
      std::isdigit(word[2])) {
    int code = std::stoi(word);
    std::string enhanced = word[0] == '4' ? "4.7.1" : "5.7.1";
    // An enhanced code in the text is kept when its class matches the reply's.
    if (rest.size() >= 5 && rest[0] == word[0] && rest[1] == '.') {
      size_t end = rest.find(' ');
      enhanced = rest.substr(0, end);
      rest = end == std::string::npos ? "" : std::string(trim(std::string_view(rest).substr(end)));
    }
    return decide(code < 500 ? Decision::Kind::Defer : Decision::Kind::Reject, rule, code,
                  enhanced, fmt::format("{}: {}", subject, rest.empty() ? "Access denied" : rest));
  }
  return decide(Decision::Kind::Defer, rule, 451, "4.3.5",
                fmt::format("{}: Server configuration error", subject));
}

Decision accessCheck(std::string_view rule, const lookup::LookupTable& table,
                     const std::vector<std::string>& keys, const std::string& subject) {
  for (const std::string& key : keys) {
    lookup::LookupResult r = table.lookup(key);
    if (r.status == lookup::LookupStatus::NotFound) continue;
    if (r.status != lookup::LookupStatus::Found) {
      return decide(Decision::Kind::Defer, rule, 451, "4.3.0",
                    fmt::format("{}: Temporary lookup failure", subject));
    }
    return accessAction(rule, r.value, subject);
  }
  return dunno();
}

// The domain of an address as the destination check sees it: after the last '@', lower-cased
// (local domains are stored lower-case). nullopt for an address without a domain, which
// Postfix treats as local (it would append $myorigin).
std::optional<std::string> domainOf(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  return toLower(address.substr(at + 1));
}

// reject_unauth_destination, for the explicit check and the implicit fallback alike.
Decision unauthDestination(const PolicyContext& ctx, std::string_view rule) {
  std::optional<std::string> domain = domainOf(ctx.recipient);
  if (!domain) {
    return dunno();
  }
  // No callback means nothing is ours: refusing is the safe mistake.
  if (ctx.is_our_destination && ctx.is_our_destination(*domain)) {
    return dunno();
  }
  return decide(Decision::Kind::Reject, rule, 554, "5.7.1",
                fmt::format("<{}>: Relay access denied", ctx.recipient));
}

// reject_sender_login_mismatch (Postfix smtpd_sender_login_maps semantics).
Decision senderLoginMismatch(const PolicyContext& ctx) {
  if (ctx.sender.empty()) {
    return dunno();  // the null sender belongs to nobody (bounces, RFC 5321 4.5.5)
  }
  std::vector<std::string> owners;
  if (ctx.sender_owners) {
    owners = ctx.sender_owners(ctx.sender);
  }
  if (ctx.sasl_user.empty()) {
    if (owners.empty()) {
      return dunno();
    }
    return decide(Decision::Kind::Reject, RejectSenderLoginMismatch, 553, "5.7.1",
                  fmt::format("<{}>: Sender address rejected: not logged in", ctx.sender));
  }
  // Login names compare without case, as Postfix does.
  bool owned = std::any_of(owners.begin(), owners.end(), [&](const std::string& owner) {
    return iequals(trim(owner), ctx.sasl_user);
  });
  if (owned) {
    return dunno();
  }
  return decide(Decision::Kind::Reject, RejectSenderLoginMismatch, 553, "5.7.1",
                fmt::format("<{}>: Sender address rejected: not owned by user {}", ctx.sender,
                            ctx.sasl_user));
}

}  // namespace

const std::vector<std::string>& knownRestrictions() {
  static const std::vector<std::string> names{
      std::string(PermitMynetworks),
      std::string(PermitSaslAuthenticated),
      std::string(RejectUnauthDestination),
      std::string(RejectSenderLoginMismatch),
      std::string(Permit),
      std::string(Reject),
      std::string(Defer),
  };
  return names;
}

bool isAccessCheck(std::string_view check) {
  std::string_view name = check.substr(0, check.find(' '));
  return name == CheckClientAccess || name == CheckSenderAccess || name == CheckRecipientAccess;
}

bool RestrictionList::blocking() const {
  return (mynetworks_table_ && mynetworks_table_->blocking()) ||
         std::any_of(tables_.begin(), tables_.end(),
                     [](const lookup::TablePtr& t) { return t && t->blocking(); });
}

Result<RestrictionList> RestrictionList::parse(Stage stage, const std::vector<std::string>& checks,
                                               CidrList mynetworks, const Tables& tables) {
  const std::vector<std::string>& known = knownRestrictions();
  RestrictionList result;
  for (const std::string& check : checks) {
    if (isAccessCheck(check)) {
      size_t space = check.find(' ');
      std::string ref = space == std::string::npos ? "" : std::string(trim(check.substr(space)));
      lookup::TablePtr table = tables && !ref.empty() ? tables(ref) : nullptr;
      if (!table) {
        return Error::config(fmt::format("{}: no table '{}'", check.substr(0, space), ref));
      }
      result.tables_.push_back(std::move(table));
      continue;
    }
    result.tables_.push_back(nullptr);
    if (std::find(known.begin(), known.end(), check) == known.end()) {
      std::string list;
      for (const std::string& name : known) {
        list += list.empty() ? name : ", " + name;
      }
      return Error::config(fmt::format("unknown restriction '{}' (known: {})", check, list));
    }
  }
  result.stage_ = stage;
  result.checks_ = checks;
  result.mynetworks_ = std::move(mynetworks);
  return result;
}

Decision RestrictionList::evaluate(const PolicyContext& ctx) const {
  for (size_t i = 0; i < checks_.size(); ++i) {
    const std::string& check = checks_[i];
    Decision d;
    if (tables_[i]) {
      std::string_view name = std::string_view(check).substr(0, check.find(' '));
      if (name == CheckClientAccess) {
        d = accessCheck(check, *tables_[i], clientKeys(ctx.client_ip, *tables_[i]),
                        fmt::format("Client host [{}]", ctx.client_ip));
      } else if (name == CheckSenderAccess) {
        if (!ctx.sender.empty()) {
          d = accessCheck(check, *tables_[i], addressKeys(ctx.sender),
                          fmt::format("<{}>: Sender address rejected", ctx.sender));
        }
      } else {
        d = accessCheck(check, *tables_[i], addressKeys(ctx.recipient),
                        fmt::format("<{}>: Recipient address rejected", ctx.recipient));
      }
    } else if (check == PermitMynetworks) {
      if (mynetworks_.contains(ctx.client_ip)) {
        d = decide(Decision::Kind::Permit, check);
      } else if (mynetworks_table_) {
        lookup::LookupResult r = mynetworks_table_->lookup(ctx.client_ip);
        if (r.status == lookup::LookupStatus::Found) {
          d = decide(Decision::Kind::Permit, check);
        } else if (r.status != lookup::LookupStatus::NotFound) {
          d = decide(Decision::Kind::Defer, check, 451, "4.3.0",
                     fmt::format("Client host [{}]: Temporary lookup failure", ctx.client_ip));
        }
      }
    } else if (check == PermitSaslAuthenticated) {
      if (!ctx.sasl_user.empty()) {
        d = decide(Decision::Kind::Permit, check);
      }
    } else if (check == RejectUnauthDestination) {
      // Every stage's list runs at RCPT time (Postfix's smtpd_delay_reject), so the
      // destination is known in all of them.
      d = unauthDestination(ctx, check);
    } else if (check == RejectSenderLoginMismatch) {
      d = senderLoginMismatch(ctx);
    } else if (check == Permit) {
      d = decide(Decision::Kind::Permit, check);
    } else if (check == Reject) {
      d = decide(Decision::Kind::Reject, check, 554, "5.7.1", "Access denied");
    } else if (check == Defer) {
      d = decide(Decision::Kind::Defer, check, 450, "4.7.1", "Try again later");
    }
    if (d.kind != Decision::Kind::Dunno) {
      return d;
    }
  }
  if (stage_ == Stage::Recipient) {
    return unauthDestination(ctx, "(implicit) reject_unauth_destination");
  }
  return dunno();
}

}  // namespace petrel::policy
