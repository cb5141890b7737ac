// Protocol checks (Postfix postconf(5)): reject_unauth_pipelining, for a client that sent
// ahead of a reply it had to wait for (503 5.5.0; the session finds it, ClientFacts carries
// it), and reject_multi_recipient_bounce, for a null sender with more than one recipient
// (550 5.5.3, Postfix's multi_recipient_bounce_reject_code). Pure: no lookups.
//
// Their replies name what the list judges, as Postfix's reply_name and reply_class do: the
// client "host[ip]" (client list), the HELO name, the sender, the recipient, "DATA" or
// "END-OF-MESSAGE", each with its own "... rejected" wording.
#include <fmt/format.h>

#include "checks.h"

namespace petrel::policy::checks {

namespace {

// "<name>: Class rejected" for the list a check sits in (Postfix smtpd_check.c).
std::string subject(Stage stage, const PolicyContext& ctx) {
  switch (stage) {
    case Stage::Client:
      return fmt::format("<{}[{}]>: Client host rejected", ctx.client.client_name, ctx.client_ip);
    case Stage::Helo: return fmt::format("<{}>: Helo command rejected", ctx.helo);
    case Stage::Sender: return fmt::format("<{}>: Sender address rejected", ctx.sender);
    case Stage::Recipient: return fmt::format("<{}>: Recipient address rejected", ctx.recipient);
    case Stage::Data: return "<DATA>: Data command rejected";
    case Stage::EndOfData: return "<END-OF-MESSAGE>: End-of-data rejected";
  }
  return "?";
}

class RejectUnauthPipelining final : public Check {
 public:
  RejectUnauthPipelining(std::string rule, Stage stage) : rule_(std::move(rule)), stage_(stage) {}
  void run(const PolicyContext& ctx, Done done) const override {
    if (!ctx.client.improper_pipelining) return done(dunno());
    done(decide(Decision::Kind::Reject, rule_, 503, "5.5.0",
                fmt::format("{}: Improper use of SMTP command pipelining", subject(stage_, ctx))));
  }

 private:
  std::string rule_;
  Stage stage_;
};

class RejectMultiRecipientBounce final : public Check {
 public:
  RejectMultiRecipientBounce(std::string rule, Stage stage)
      : rule_(std::move(rule)), stage_(stage) {}
  void run(const PolicyContext& ctx, Done done) const override {
    // At RCPT the count is of the recipients accepted before this one, so a second recipient
    // is refused there; at DATA and end of data, more than one accepted (Postfix: rcpt_count
    // > (where != RCPT)). Only RCPT (and VRFY) contexts have a recipient.
    const bool at_rcpt = !ctx.recipient.empty();
    if (!ctx.sender.empty() || ctx.recipient_count <= (at_rcpt ? 0u : 1u)) return done(dunno());
    done(decide(Decision::Kind::Reject, rule_, 550, "5.5.3",
                fmt::format("{}: Multi-recipient bounce", subject(stage_, ctx))));
  }

 private:
  std::string rule_;
  Stage stage_;
};

}  // namespace

Result<CheckPtr> makeRejectUnauthPipelining(const CheckArgs& args) {
  return CheckPtr(std::make_unique<RejectUnauthPipelining>(std::string(args.name), args.stage));
}

Result<CheckPtr> makeRejectMultiRecipientBounce(const CheckArgs& args) {
  return CheckPtr(std::make_unique<RejectMultiRecipientBounce>(std::string(args.name), args.stage));
}

}  // namespace petrel::policy::checks
