// The factories of every check family (one .cc each in this directory), for the registry, and
// the few helpers the families share. Internal to source/policy/.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "petrel/policy/check.h"
#include "petrel/policy/registry.h"

namespace petrel::policy::checks {

inline Decision decide(Decision::Kind kind, std::string_view rule, int code = 0,
                       std::string enhanced = {}, std::string text = {}) {
  return Decision{kind, code, std::move(enhanced), std::move(text), std::string(rule), {}};
}
inline Decision dunno() { return Decision{}; }

// The client as Postfix names it in replies and logs: "name[ip]", "unknown[ip]" without a
// verified name (control characters of a name made '?'). generic.cc.
std::string clientNamaddr(const PolicyContext& ctx);
// What a list's replies name, as Postfix's smtpd_check.c reply name per list: the client
// ("name[ip]"), the HELO name, the sender, the recipient, "DATA", "END-OF-MESSAGE". A lookup
// that failed answers "<reply name>: Temporary lookup failure" (451 4.3.0). generic.cc.
std::string stageReplyName(Stage stage, const PolicyContext& ctx);

// Runs `decide` (which may call the context's callbacks) where blocking is allowed when the
// callbacks may block, else right here; `done` gets its answer.
template <typename Decide>
void decideWithCallbacks(const PolicyContext& ctx, Decide decide, Check::Done done) {
  if (!ctx.callbacks_block || !ctx.offload) {
    done(decide());
    return;
  }
  auto answer = std::make_shared<Decision>();
  ctx.offload([answer, decide = std::move(decide)] { *answer = decide(); },
              [answer, done = std::move(done)] { done(std::move(*answer)); });
}

// generic.cc: permit, reject, defer, and warn_if_reject (a marker the list turns into a
// wrapper of the check after it).
Result<CheckPtr> makePermit(const CheckArgs& args);
Result<CheckPtr> makeReject(const CheckArgs& args);
Result<CheckPtr> makeDefer(const CheckArgs& args);
Result<CheckPtr> makeWarnIfReject(const CheckArgs& args);
bool isWarnIfReject(const Check& check);
CheckPtr warnInsteadOfRejecting(std::shared_ptr<const Check> check);

// relay.cc: who may relay and send as whom.
Result<CheckPtr> makePermitMynetworks(const CheckArgs& args);
Result<CheckPtr> makePermitSaslAuthenticated(const CheckArgs& args);
Result<CheckPtr> makeRejectUnauthDestination(const CheckArgs& args);
Result<CheckPtr> makeRejectSenderLoginMismatch(const CheckArgs& args);
// reject_unauth_destination's decision, also the implicit end of every recipient list.
Decision unauthDestination(const PolicyContext& ctx, std::string_view rule);

// syntax.cc: names and addresses as written.
Result<CheckPtr> makeRejectInvalidHeloHostname(const CheckArgs& args);
Result<CheckPtr> makeRejectNonFqdnHeloHostname(const CheckArgs& args);
Result<CheckPtr> makeRejectNonFqdnSender(const CheckArgs& args);
Result<CheckPtr> makeRejectNonFqdnRecipient(const CheckArgs& args);

// dns_names.cc: names and addresses against the DNS and our address tables.
Result<CheckPtr> makeRejectUnknownHeloHostname(const CheckArgs& args);
Result<CheckPtr> makeRejectUnknownSenderDomain(const CheckArgs& args);
Result<CheckPtr> makeRejectUnknownRecipientDomain(const CheckArgs& args);
Result<CheckPtr> makeRejectUnknownClientHostname(const CheckArgs& args);
Result<CheckPtr> makeRejectUnknownReverseClientHostname(const CheckArgs& args);
Result<CheckPtr> makeRejectUnlistedSender(const CheckArgs& args);
Result<CheckPtr> makeRejectUnlistedRecipient(const CheckArgs& args);
Result<CheckPtr> makePermitMxBackup(const CheckArgs& args);

// access_maps.cc: Postfix access(5) tables (their values: access_action.cc).
Result<CheckPtr> makeCheckClientAccess(const CheckArgs& args);
Result<CheckPtr> makeCheckSenderAccess(const CheckArgs& args);
Result<CheckPtr> makeCheckRecipientAccess(const CheckArgs& args);
Result<CheckPtr> makeCheckReverseClientHostnameAccess(const CheckArgs& args);
Result<CheckPtr> makeCheckHeloAccess(const CheckArgs& args);
Result<CheckPtr> makeCheckSenderMxAccess(const CheckArgs& args);
Result<CheckPtr> makeCheckSenderNsAccess(const CheckArgs& args);
bool isAccessActionWord(std::string_view word);  // access_action.cc
// A policy service's reply as an access(5) action of `rule` (access_action.cc); `subject`
// starts the reply text ("<a@b>: Recipient address rejected").
Decision accessAction(std::string_view rule, const std::string& value, const std::string& subject);

// policy_service.cc: check_policy_service (Postfix policy delegation).
Result<CheckPtr> makeCheckPolicyService(const CheckArgs& args);

// dns_lists.cc: DNS block and allow lists (RFC 5782), by client address or by domain.
Result<CheckPtr> makeRejectRblClient(const CheckArgs& args);
Result<CheckPtr> makeRejectRhsblClient(const CheckArgs& args);
Result<CheckPtr> makeRejectRhsblReverseClient(const CheckArgs& args);
Result<CheckPtr> makeRejectRhsblHelo(const CheckArgs& args);
Result<CheckPtr> makeRejectRhsblSender(const CheckArgs& args);
Result<CheckPtr> makeRejectRhsblRecipient(const CheckArgs& args);
Result<CheckPtr> makePermitDnswlClient(const CheckArgs& args);
Result<CheckPtr> makePermitRhswlClient(const CheckArgs& args);

// protocol.cc: how the client speaks SMTP.
Result<CheckPtr> makeRejectUnauthPipelining(const CheckArgs& args);
Result<CheckPtr> makeRejectMultiRecipientBounce(const CheckArgs& args);
// spf.cc: SPF (RFC 7208) of the MAIL FROM identity (HELO for the null sender).
Result<CheckPtr> makeRejectSpfFail(const CheckArgs& args);
Result<CheckPtr> makeDeferSpfTempError(const CheckArgs& args);
Result<CheckPtr> makeRejectSpfPermError(const CheckArgs& args);
Result<CheckPtr> makeCheckSpf(const CheckArgs& args);

// greylist.cc: built-in greylisting (policy/greylist.h).
Result<CheckPtr> makeCheckGreylist(const CheckArgs& args);

}  // namespace petrel::policy::checks
