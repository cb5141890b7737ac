// Session driver, the before-queue filter part (proxy_filter on the listener, Postfix
// smtpd_proxy_filter; docs/filters.md): where our own verdicts end and the filter's reply
// takes over. The driver's other files call in at four points only: an accepted MAIL, RCPT or
// DATA verdict goes on to the filter (relayToProxy), the content chain writes into the
// ProxyFilter instead of a MessageStore (startMessage), the end of data is the filter's
// answer instead of the journal's (relayCommit), and an aborted message drops the filter's
// copy (AbortMessage in run()). Nothing of this listener's mail is queued here.
#include <fmt/format.h>

#include "petrel/log/mail_log.h"
#include "petrel/server/proxy_filter.h"
#include "petrel/server/smtp_connection.h"
#include "petrel/server/worker.h"
#include "petrel/smtp/proxy_client.h"

namespace petrel::server {

void SmtpConnection::openProxy() {
  const config::Config& cfg = *snap_.config;
  const config::ProxyFilter& pf = *listener_->proxy_filter;
  proxy_ = std::make_unique<ProxyFilter>(worker_->loop(), pf,
                                         pf.ehlo.empty() ? cfg.hostname : pf.ehlo, client_);
  proxy_->onDrained([this] { updateReading(); });
}

// Postfix XFORWARD_README's attributes for the filter's log: the client as we saw it. IDENT
// (the queue id) is left out: this listener queues nothing. SOURCE is LOCAL for
// relay.mynetworks clients (Postfix: local_header_rewrite_clients), REMOTE otherwise.
std::vector<smtp::XforwardAttribute> SmtpConnection::xforwardAttributes() const {
  const policy::ClientFacts& f = client_facts_;
  std::string name = f.client_name == "unknown" ? "" : f.client_name;
  std::string addr = client_ip_.find(':') != std::string::npos ? "IPV6:" + client_ip_ : client_ip_;
  bool local = snap_.mynetworks && snap_.mynetworks->contains(client_ip_);
  return {{"NAME", name},
          {"ADDR", addr},
          {"PORT", f.client_port != 0 ? std::to_string(f.client_port) : ""},
          {"PROTO", session_->esmtp() ? "ESMTP" : "SMTP"},
          {"HELO", session_->helo()},
          {"SOURCE", local ? "LOCAL" : "REMOTE"}};
}

// Our checks accepted `stage`; on a proxy listener MAIL, RCPT and DATA go on to the filter and
// its reply is the client's (a 2xx said as the filter said it, a refusal as the verdict).
// Returns false when the verdict stands as it is.
bool SmtpConnection::relayToProxy(smtp::Stage stage, const smtp::Verdict& ours) {
  if (!proxy_ || !ours.accepted()) return false;
  if (stage != smtp::Stage::Mail && stage != smtp::Stage::Rcpt && stage != smtp::Stage::Data) {
    return false;
  }
  auto answered = [this, stage, ours](smtp::Reply r) {
    if (closing_ || session_->closed()) return;
    smtp::Verdict v = ours;
    if (stage == smtp::Stage::Data) {
      if (r.code != 354) v = smtp::Verdict::refuse(std::move(r));
    } else if (r.code / 100 == 2) {
      v.accept_reply = std::move(r);
    } else {
      v = smtp::Verdict::refuse(std::move(r));
    }
    run(session_->onVerdict(std::move(v)));
    if (!closing_) {
      updateReading();
      armTimer();
    }
  };
  switch (stage) {
    case smtp::Stage::Mail:
      proxy_->mail(xforwardAttributes(), smtp::proxyMailCommand(session_->pendingMail()),
                   std::move(answered));
      break;
    case smtp::Stage::Rcpt:
      proxy_->rcpt(smtp::proxyRcptCommand(session_->pendingRecipient()), std::move(answered));
      break;
    default:
      proxy_->data(std::move(answered));
      break;
  }
  return true;
}

// CommitMessage on a proxy listener: the content pass ends (its Received field and PREPENDs
// are in the stream already), the final "." goes to the filter, and its verdict is the reply.
void SmtpConnection::relayCommit(const smtp::Envelope& env) {
  // The chain on this listener has no stage that waits (startMessage): it ends at once, and
  // its last octets (a header section the message never ended) are out before the ".".
  if (!content_end_) finishContent(env, [] {});
  bool ended = content_end_.has_value();
  abandonContent();
  if (!ended) {
    proxy_->abandonData();
    run(session_->onRelayed(ProxyFilter::failureReply()));
    return;
  }
  std::string from = env.mail.sender.text;
  std::string to = env.recipients.empty() ? "" : env.recipients[0].params.recipient.text;
  proxy_->endOfData([this, from, to](smtp::Reply r) {
    if (closing_ || session_->closed()) return;
    log::mail::proxyAction(r.positive() ? "proxy-accept" : "proxy-reject", "END-OF-MESSAGE",
                           client_, r.oneLine(), from, to, protocol(), session_->helo());
    if (r.positive()) ++messages_;
    run(session_->onRelayed(std::move(r)));
    if (!closing_) {
      updateReading();
      armTimer();
    }
  });
}

}  // namespace petrel::server
