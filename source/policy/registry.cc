// The registry of restriction checks: one line per check type, keyed by its Postfix name.
#include "petrel/policy/registry.h"

#include <fmt/format.h>

#include <algorithm>

#include "checks/checks.h"
#include "petrel/core/strings.h"

namespace petrel::policy {

const std::vector<CheckType>& checkTypes() {
  using namespace checks;
  static const std::vector<CheckType> types{
      {"permit_mynetworks", &makePermitMynetworks, false},
      {"permit_sasl_authenticated", &makePermitSaslAuthenticated, false},
      {"reject_unauth_destination", &makeRejectUnauthDestination, false},
      {"reject_sender_login_mismatch", &makeRejectSenderLoginMismatch, false},
      {"permit", &makePermit, false},
      {"reject", &makeReject, false},
      {"defer", &makeDefer, false},
      {"warn_if_reject", &makeWarnIfReject, false},
      {"reject_invalid_helo_hostname", &makeRejectInvalidHeloHostname, false},
      {"reject_non_fqdn_helo_hostname", &makeRejectNonFqdnHeloHostname, false},
      {"reject_non_fqdn_sender", &makeRejectNonFqdnSender, false},
      {"reject_non_fqdn_recipient", &makeRejectNonFqdnRecipient, false},
      {"check_client_access", &makeCheckClientAccess, true},
      {"check_sender_access", &makeCheckSenderAccess, true},
      {"check_recipient_access", &makeCheckRecipientAccess, true},
      {"check_reverse_client_hostname_access", &makeCheckReverseClientHostnameAccess, true},
      {"check_helo_access", &makeCheckHeloAccess, true},
      {"check_sender_mx_access", &makeCheckSenderMxAccess, true},
      {"check_sender_ns_access", &makeCheckSenderNsAccess, true},
  };
  return types;
}

const std::vector<std::string>& knownRestrictions() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const CheckType& t : checkTypes()) {
      if (!t.takes_table) out.emplace_back(t.name);
    }
    return out;
  }();
  return names;
}

bool isAccessCheck(std::string_view check) {
  std::string_view name = check.substr(0, check.find(' '));
  return std::any_of(checkTypes().begin(), checkTypes().end(),
                     [name](const CheckType& t) { return t.takes_table && t.name == name; });
}

Result<CheckPtr> makeCheck(std::string_view text, Stage stage, const CheckEnvironment& env) {
  size_t space = text.find(' ');
  std::string_view name = text.substr(0, space);
  std::string_view argument = space == std::string_view::npos ? "" : trim(text.substr(space));
  // "warn_if_reject CHECK" in one entry, as a main.cf line reads; written alone it marks the
  // next entry (RestrictionList::parse).
  if (name == "warn_if_reject" && !argument.empty()) {
    auto inner = makeCheck(argument, stage, env);
    if (!inner) return inner.error();
    if (checks::isWarnIfReject(**inner)) return Error::config("warn_if_reject twice in a row");
    return checks::warnInsteadOfRejecting(std::shared_ptr<const Check>(std::move(inner.value())));
  }
  for (const CheckType& t : checkTypes()) {
    if (t.name != name) continue;
    // A name that takes no argument must be written alone ("permit" not "permit x").
    if (!t.takes_table && space != std::string_view::npos) break;
    return t.make(CheckArgs{text, name, argument, stage, env});
  }
  return Error::config(fmt::format("unknown restriction '{}' (known: {})", text,
                                   fmt::join(knownRestrictions(), ", ")));
}

std::string_view toString(Stage stage) {
  switch (stage) {
    case Stage::Client: return "client";
    case Stage::Helo: return "helo";
    case Stage::Sender: return "sender";
    case Stage::Recipient: return "recipient";
    case Stage::Data: return "data";
    case Stage::EndOfData: return "end_of_data";
  }
  return "?";
}

}  // namespace petrel::policy
