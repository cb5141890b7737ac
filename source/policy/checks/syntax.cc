// Syntax checks of names and addresses (Postfix postconf(5)): reject_invalid_helo_hostname
// (501 5.5.2), reject_non_fqdn_helo_hostname, reject_non_fqdn_sender and
// reject_non_fqdn_recipient (504 5.5.2, Postfix's invalid_hostname_reject_code and
// non_fqdn_reject_code). Pure: no lookups.
//
// A host name is valid as Postfix's valid_hostname() has it: labels of letters, digits, '-'
// and '_', not starting or ending with '-', at most 63 octets each and 255 in all, and not all
// numeric (that would be an IPv4 address written as a name). An address literal
// ("[192.0.2.1]", "[IPv6:2001:db8::1]") is valid when the address inside is, and counts as
// fully qualified; a bare address ("192.0.2.1") is a valid HELO (Postfix's valid_hostaddr) but
// not a fully-qualified one. A trailing dot is accepted and ignored. The bare recipient
// "postmaster" is always fully qualified enough (RFC 5321 4.5.1: it must be accepted).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "checks.h"
#include "petrel/core/cidr.h"
#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"

namespace petrel::policy::checks {

namespace {

bool validAddressLiteral(std::string_view name) {
  if (name.size() < 3 || name.front() != '[' || name.back() != ']') return false;
  std::string_view inner = name.substr(1, name.size() - 2);
  if (istartsWith(inner, "ipv6:")) {
    auto ip = IpAddress::parse(inner.substr(5));
    return ip && ip->v6;
  }
  auto ip = IpAddress::parse(inner);
  return ip && !ip->v6;
}

bool validHostname(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 255) return false;
  bool all_numeric = true;
  for (std::string_view label : split(name, '.')) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      auto u = static_cast<unsigned char>(c);
      if (!std::isalnum(u) && c != '-' && c != '_') return false;
      if (!std::isdigit(u)) all_numeric = false;
    }
  }
  return !all_numeric;
}

// Fully qualified: a valid name with a dot inside, or an address literal.
bool fullyQualified(std::string_view name) {
  if (validAddressLiteral(name)) return true;
  if (!validHostname(name)) return false;
  if (name.back() == '.') name.remove_suffix(1);
  return name.find('.') != std::string_view::npos;
}

enum class What { InvalidHelo, NonFqdnHelo, NonFqdnSender, NonFqdnRecipient };

class SyntaxCheck final : public Check {
 public:
  SyntaxCheck(std::string rule, What what) : rule_(std::move(rule)), what_(what) {}

  void run(const PolicyContext& ctx, Done done) const override { done(decideNow(ctx)); }

 private:
  Decision decideNow(const PolicyContext& ctx) const {
    switch (what_) {
      case What::InvalidHelo:
        // No HELO yet (a client list at connect): nothing to judge.
        if (ctx.helo.empty() || validAddressLiteral(ctx.helo) || validHostname(ctx.helo) ||
            IpAddress::parse(ctx.helo)) {
          return dunno();
        }
        return decide(Decision::Kind::Reject, rule_, 501, "5.5.2",
                      fmt::format("<{}>: Helo command rejected: Invalid name", ctx.helo));
      case What::NonFqdnHelo:
        if (ctx.helo.empty() || fullyQualified(ctx.helo)) return dunno();
        return decide(Decision::Kind::Reject, rule_, 504, "5.5.2",
                      fmt::format("<{}>: Helo command rejected: need fully-qualified hostname",
                                  ctx.helo));
      case What::NonFqdnSender:
        // The null sender is fine (bounces).
        if (ctx.sender.empty() || addressQualified(ctx.sender)) return dunno();
        return decide(Decision::Kind::Reject, rule_, 504, "5.5.2",
                      fmt::format("<{}>: Sender address rejected: need fully-qualified address",
                                  ctx.sender));
      case What::NonFqdnRecipient:
        if (ctx.recipient.empty() || iequals(ctx.recipient, "postmaster") ||
            addressQualified(ctx.recipient)) {
          return dunno();
        }
        return decide(Decision::Kind::Reject, rule_, 504, "5.5.2",
                      fmt::format("<{}>: Recipient address rejected: need fully-qualified address",
                                  ctx.recipient));
    }
    return dunno();
  }

  static bool addressQualified(std::string_view address) {
    MailAddress a(address);
    return a.hasDomain() && fullyQualified(a.domain());
  }

  std::string rule_;
  What what_;
};

Result<CheckPtr> make(const CheckArgs& args, What what) {
  return CheckPtr(std::make_unique<SyntaxCheck>(std::string(args.name), what));
}

}  // namespace

Result<CheckPtr> makeRejectInvalidHeloHostname(const CheckArgs& args) {
  return make(args, What::InvalidHelo);
}
Result<CheckPtr> makeRejectNonFqdnHeloHostname(const CheckArgs& args) {
  return make(args, What::NonFqdnHelo);
}
Result<CheckPtr> makeRejectNonFqdnSender(const CheckArgs& args) {
  return make(args, What::NonFqdnSender);
}
Result<CheckPtr> makeRejectNonFqdnRecipient(const CheckArgs& args) {
  return make(args, What::NonFqdnRecipient);
}

}  // namespace petrel::policy::checks
