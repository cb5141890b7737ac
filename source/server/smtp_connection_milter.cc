// Session driver, the milter part (filters.milters, docs/milter.md): the session's milter
// connections (MilterClient) are opened when the session starts, and an accepted CONNECT,
// HELO, MAIL, RCPT or DATA verdict of our own checks goes on to the milters, whose answer is
// the stage's verdict (relayToMilters); a refused RCPT is shown to the milters that ask for
// it. The end of data is the content stage's (milter_stage.h, over the same connections); the
// connections end with the session (closeNow).
#include <fmt/format.h>

#include "petrel/server/milter_client.h"
#include "petrel/server/milter_stage.h"
#include "petrel/server/smtp_connection.h"
#include "petrel/server/worker.h"

namespace petrel::server {

// The milters of this listener, if any: the session asks a verdict at every stage they hear.
void SmtpConnection::openMilters(smtp::SessionSettings& settings) {
  const config::Config& cfg = *snap_.config;
  // A before-queue filter's listener runs none: the listener it hands the mail to does.
  if (config::listenerMilters(cfg, *listener_).empty() || listener_->proxy_filter) return;
  milters_ = std::make_unique<MilterClient>(
      milterClientSetup(worker_->dispatcher().loop(), cfg, listener_));
  settings.verdict_stages |= smtp::stageBit(smtp::Stage::Connect) |
                             smtp::stageBit(smtp::Stage::Helo) |
                             smtp::stageBit(smtp::Stage::Mail) | smtp::stageBit(smtp::Stage::Data);
}

// What the milters are told now; `env` is the transaction as the stage asked sees it.
void SmtpConnection::updateMilterFacts(const smtp::Envelope& env, const std::string& queue_id) {
  MilterInputs in{snap_.config.get(), listener_, clientFacts(), client_ip_, client_,
                  session_->authenticatedUser(), queue_id, worker_->dispatcher().loop()};
  milters_->facts() = milterFacts(in, env);
}

// Our checks answered `stage` with `ours`; the milters hear of an accepted stage (and of a
// refused recipient when they ask) and their answer becomes the verdict, which then goes on
// as before (to a before-queue filter, or to the session). Returns false when the verdict
// stands as it is.
bool SmtpConnection::relayToMilters(smtp::Stage stage, const std::string& address,
                                    const smtp::Verdict& ours) {
  using smtp::Stage;
  if (!milters_) return false;
  if (stage != Stage::Connect && stage != Stage::Helo && stage != Stage::Mail &&
      stage != Stage::Rcpt && stage != Stage::Data) {
    return false;
  }
  const bool rejected = !ours.accepted();
  if (rejected && (stage != Stage::Rcpt || ours.kind == smtp::Verdict::Kind::Drop ||
                   !milters_->wantsRejectedRecipients())) {
    return false;
  }
  smtp::Envelope env = session_->envelope();
  if (stage == Stage::Helo) env.helo = address;
  if (stage == Stage::Mail) env.mail = session_->pendingMail();
  updateMilterFacts(env, {});  // no queue id before the message starts (macro i at DATA)
  std::optional<milter::MilterRecipient> rcpt;
  if (stage == Stage::Rcpt) rcpt = milterRecipient(session_->pendingRecipient());
  // No pending_ops_: close() (closeNow) drops the answers still to come.
  milters_->stage(stage, rcpt ? &*rcpt : nullptr, rejected,
                  [this, stage, ours](MilterAnswer a) {
                    if (closing_ || session_->closed()) return;
                    smtp::Verdict v = ours;
                    if (a.kind == MilterAnswer::Kind::Refuse && ours.accepted()) {
                      v = smtp::Verdict::refuse(std::move(a.reply));
                      milter_refusal_ = true;
                    }
                    if (v.accepted() && relayToProxy(stage, v)) return;
                    run(session_->onVerdict(std::move(v)));
                    if (!closing_) {
                      updateReading();
                      armTimer();
                    }
                  });
  return true;
}

}  // namespace petrel::server
