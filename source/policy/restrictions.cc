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

Decision decide(Decision::Kind kind, std::string_view rule, int code = 0, std::string enhanced = {},
                std::string text = {}) {
  return Decision{kind, code, std::move(enhanced), std::move(text), std::string(rule)};
}

Decision dunno() { return Decision{}; }

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

Result<RestrictionList> RestrictionList::parse(Stage stage, const std::vector<std::string>& checks,
                                               CidrList mynetworks) {
  const std::vector<std::string>& known = knownRestrictions();
  for (const std::string& check : checks) {
    if (std::find(known.begin(), known.end(), check) == known.end()) {
      std::string list;
      for (const std::string& name : known) {
        list += list.empty() ? name : ", " + name;
      }
      return Error::config(fmt::format("unknown restriction '{}' (known: {})", check, list));
    }
  }
  RestrictionList result;
  result.stage_ = stage;
  result.checks_ = checks;
  result.mynetworks_ = std::move(mynetworks);
  return result;
}

Decision RestrictionList::evaluate(const PolicyContext& ctx) const {
  for (const std::string& check : checks_) {
    Decision d;
    if (check == PermitMynetworks) {
      if (mynetworks_.contains(ctx.client_ip)) {
        d = decide(Decision::Kind::Permit, check);
      }
    } else if (check == PermitSaslAuthenticated) {
      if (!ctx.sasl_user.empty()) {
        d = decide(Decision::Kind::Permit, check);
      }
    } else if (check == RejectUnauthDestination) {
      // Only the recipient stage knows a destination (we do not delay client/HELO/sender
      // restrictions to RCPT time as Postfix's smtpd_delay_reject does).
      if (stage_ == Stage::Recipient) {
        d = unauthDestination(ctx, check);
      }
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
