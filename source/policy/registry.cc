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
      {"permit_mynetworks", &makePermitMynetworks, CheckArgument::None},
      {"permit_sasl_authenticated", &makePermitSaslAuthenticated, CheckArgument::None},
      {"reject_unauth_destination", &makeRejectUnauthDestination, CheckArgument::None},
      {"reject_sender_login_mismatch", &makeRejectSenderLoginMismatch, CheckArgument::None},
      {"permit", &makePermit, CheckArgument::None},
      {"reject", &makeReject, CheckArgument::None},
      {"defer", &makeDefer, CheckArgument::None},
      {"warn_if_reject", &makeWarnIfReject, CheckArgument::None},
      {"reject_invalid_helo_hostname", &makeRejectInvalidHeloHostname, CheckArgument::None},
      {"reject_non_fqdn_helo_hostname", &makeRejectNonFqdnHeloHostname, CheckArgument::None},
      {"reject_non_fqdn_sender", &makeRejectNonFqdnSender, CheckArgument::None},
      {"reject_non_fqdn_recipient", &makeRejectNonFqdnRecipient, CheckArgument::None},
      {"reject_unknown_helo_hostname", &makeRejectUnknownHeloHostname, CheckArgument::None},
      {"reject_unknown_sender_domain", &makeRejectUnknownSenderDomain, CheckArgument::None},
      {"reject_unknown_recipient_domain", &makeRejectUnknownRecipientDomain, CheckArgument::None},
      {"reject_unknown_client_hostname", &makeRejectUnknownClientHostname, CheckArgument::None},
      {"reject_unknown_reverse_client_hostname", &makeRejectUnknownReverseClientHostname,
       CheckArgument::None},
      {"reject_unlisted_sender", &makeRejectUnlistedSender, CheckArgument::None},
      {"reject_unlisted_recipient", &makeRejectUnlistedRecipient, CheckArgument::None},
      {"permit_mx_backup", &makePermitMxBackup, CheckArgument::None},
      {"reject_unauth_pipelining", &makeRejectUnauthPipelining, CheckArgument::None},
      {"reject_multi_recipient_bounce", &makeRejectMultiRecipientBounce, CheckArgument::None},
      {"check_client_access", &makeCheckClientAccess, CheckArgument::Table},
      {"check_sender_access", &makeCheckSenderAccess, CheckArgument::Table},
      {"check_recipient_access", &makeCheckRecipientAccess, CheckArgument::Table},
      {"check_reverse_client_hostname_access", &makeCheckReverseClientHostnameAccess,
       CheckArgument::Table},
      {"check_helo_access", &makeCheckHeloAccess, CheckArgument::Table},
      {"check_sender_mx_access", &makeCheckSenderMxAccess, CheckArgument::Table},
      {"check_sender_ns_access", &makeCheckSenderNsAccess, CheckArgument::Table},
      {"reject_rbl_client", &makeRejectRblClient, CheckArgument::Text},
      {"reject_rhsbl_client", &makeRejectRhsblClient, CheckArgument::Text},
      {"reject_rhsbl_reverse_client", &makeRejectRhsblReverseClient, CheckArgument::Text},
      {"reject_rhsbl_helo", &makeRejectRhsblHelo, CheckArgument::Text},
      {"reject_rhsbl_sender", &makeRejectRhsblSender, CheckArgument::Text},
      {"reject_rhsbl_recipient", &makeRejectRhsblRecipient, CheckArgument::Text},
      {"permit_dnswl_client", &makePermitDnswlClient, CheckArgument::Text},
      {"permit_rhswl_client", &makePermitRhswlClient, CheckArgument::Text},
      {"check_policy_service", &makeCheckPolicyService, CheckArgument::Text},
      {"reject_spf_fail", &makeRejectSpfFail, CheckArgument::None},
      {"defer_spf_temperror", &makeDeferSpfTempError, CheckArgument::None},
      {"reject_spf_permerror", &makeRejectSpfPermError, CheckArgument::None},
      {"check_spf", &makeCheckSpf, CheckArgument::None},
      {"check_greylist", &makeCheckGreylist, CheckArgument::None},
  };
  return types;
}

const std::vector<std::string>& knownRestrictions() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const CheckType& t : checkTypes()) {
      if (t.argument == CheckArgument::None) out.emplace_back(t.name);
    }
    return out;
  }();
  return names;
}

bool isAccessCheck(std::string_view check) {
  std::string_view name = check.substr(0, check.find(' '));
  return std::any_of(checkTypes().begin(), checkTypes().end(),
                     [name](const CheckType& t) {
                       return t.argument == CheckArgument::Table && t.name == name;
                     });
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
    if (t.argument == CheckArgument::None && space != std::string_view::npos) break;
    if (t.argument == CheckArgument::Text && argument.empty()) {
      return Error::config(fmt::format("{} needs an argument, e.g. \"{} {}\"", name, name,
                                       name == "check_policy_service" ? "inet:127.0.0.1:10023"
                                       : name.find("rbl") != std::string_view::npos ||
                                               name.find("wl") != std::string_view::npos
                                           ? "list.example.org"
                                           : "..."));
    }
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
