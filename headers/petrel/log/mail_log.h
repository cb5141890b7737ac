// MailLog: the only code that formats the mail log, in the syslog line format and field
// names Postfix admins and pflogsumm read (docs/logging.md is the grammar):
//
//   Nov 22 16:53:00 mail petrel/smtpd[4242]: 3F2A91C04B10: client=unknown[127.0.0.1]
//   Nov 22 16:53:00 mail petrel/qmgr[4242]: 3F2A91C04B10: from=<a@b>, size=2412, nrcpt=1 (queue active)
//   Nov 22 16:53:00 mail petrel/virtual[4242]: 3F2A91C04B10: to=<bob@example.org>, relay=virtual, delay=0.31, delays=0.2/0/0/0.11, dsn=2.0.0, status=sent (delivered to maildir)
//   Nov 22 16:53:00 mail petrel/qmgr[4242]: 3F2A91C04B10: removed
//   Nov 22 16:53:00 mail petrel/smtpd[4242]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <x@y>: ...; from=<a@b> to=<x@y> proto=ESMTP helo=<h>
//
// Lines go to stderr and, when configured, appended to a file. Thread-safe: each line is
// written with one write(2) under a mutex. Secrets never reach this API.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace petrel::log {

// Which Postfix program a line impersonates; pflogsumm keys its parsing on these names.
enum class Program { Master, Smtpd, Qmgr, Virtual, Smtp, Bounce, Cleanup, Lmtp, Pipe };

struct LogSettings {
  std::string syslog_name = "petrel";
  std::optional<std::string> file;
  bool to_stderr = true;
  bool debug = false;
};

// (Re)configures the sinks; reopens the file (SIGHUP, log rotation).
void configure(const LogSettings& settings);
void write(Program program, std::string_view text);
void debug(std::string_view text);
bool debugEnabled();

struct Delays {
  double before_queue = 0;  // arrival to commit
  double in_queue = 0;      // commit to delivery start
  double setup = 0;
  double transmission = 0;  // delivery itself
};

namespace mail {
void connect(std::string_view client);
void disconnect(std::string_view client, std::string_view stats);
// With sasl_method/sasl_username when the client authenticated (Postfix's format).
void client(std::string_view id, std::string_view client, std::string_view sasl_method = {},
            std::string_view sasl_username = {});
// `injected`: a message of the server's own (bounce, report), not received from a client.
void queued(std::string_view id, std::string_view from, uint64_t size, size_t nrcpt,
            bool injected = false);
// status: "sent" | "deferred" | "bounced"
// `program`: Virtual for Maildir deliveries, Smtp for relayed ones.
void delivery(Program program, std::string_view id, std::string_view to, std::string_view orig_to,
              std::string_view relay, double delay, const Delays& delays, std::string_view dsn,
              std::string_view status, std::string_view text);
void removed(std::string_view id);
void bounceCreated(std::string_view id, std::string_view bounce_id);
void delayNoticeCreated(std::string_view id, std::string_view notice_id);
// Mail made at delivery for a recipient of `id` (agent.h GeneratedMessage): "ID: sieve
// redirect: NEWID", "ID: vacation reply: NEWID".
void generatedCreated(std::string_view id, std::string_view kind, std::string_view new_id);
// Postfix's "NOQUEUE: reject: RCPT from host[ip]: REPLY; from=<S> to=<R> proto=ESMTP
// helo=<H>"; at CONNECT and HELO (no MAIL yet) without from= ("...; proto=SMTP"), as Postfix.
void reject(std::string_view stage, std::string_view client, std::string_view reply,
            std::string_view from, std::string_view to, std::string_view proto,
            std::string_view helo);
// warn_if_reject: what a check would have refused, and the session went on (Postfix's
// "NOQUEUE: reject_warning: RCPT from ...: 554 5.7.1 ...; from=<S> to=<R> proto=ESMTP helo=<H>").
void rejectWarning(std::string_view stage, std::string_view client, std::string_view reply,
                   std::string_view from, std::string_view to, std::string_view proto,
                   std::string_view helo);
// An access(5) WARN or INFO action (Postfix log_whatsup): "NOQUEUE: warn: RCPT from ...: TEXT;
// from=<S> to=<R> proto=ESMTP helo=<H>" (`kind` "warn" | "info"); the session goes on.
void policyNotice(std::string_view kind, std::string_view stage, std::string_view client,
                  std::string_view text, std::string_view from, std::string_view to,
                  std::string_view proto, std::string_view helo);
// A restriction's HOLD or DISCARD took effect (Postfix access(5)):
// "ID: hold: unknown[IP]: REASON; from=<S> proto=ESMTP helo=<H>" (action "hold" | "discard" |
// "redirect" | "filter").
void policyAction(std::string_view id, std::string_view action, std::string_view client,
                  std::string_view reason, std::string_view from, std::string_view proto,
                  std::string_view helo);
// dkim.sign signed a message (opendkim's line, under cleanup): "ID: DKIM-Signature field added
// (s=SELECTOR, d=DOMAIN)", one per signature.
void dkimSignatureAdded(std::string_view id, std::string_view selector, std::string_view domain);
// arc.seal sealed a forwarded message (docs/arc.md), dkim's line's form under cleanup:
// "ID: ARC-Seal field added (i=N, cv=pass, s=SELECTOR, d=DOMAIN)".
void arcSealAdded(std::string_view id, int instance, std::string_view cv,
                  std::string_view selector, std::string_view domain);
// A header or body check matched (Postfix cleanup's line, header_checks(5)): "ID: reject:
// header Subject: LINE from CLIENT; from=<S> to=<R> proto=ESMTP helo=<H>: TEXT" (`action`
// "reject" | "warning" | "info" | "hold" | "discard" | "redirect" | "filter" | "replace" |
// "prepend" | ...; `what` "header" or "body"; `line` at most 200 octets, control characters
// replaced; ": TEXT" only when `text` is not empty).
void contentCheck(std::string_view id, std::string_view action, std::string_view what,
                  std::string_view line, std::string_view client, std::string_view from,
                  std::string_view to, std::string_view proto, std::string_view helo,
                  std::string_view text);
// A milter's verdict took effect (Postfix's cleanup/smtpd "milter-reject", "milter-discard",
// "milter-hold"): "ID: milter-reject: END-OF-MESSAGE from unknown[IP]: 5.7.1 TEXT; from=<S>
// to=<R> proto=ESMTP helo=<H>" (`action` "milter-reject" | "milter-discard" | "milter-hold").
// A milter's refusal of an SMTP command (Postfix smtpd's "NOQUEUE: milter-reject: RCPT from
// NAME[IP]: 550 5.7.1 Command rejected; from=<S> to=<R> proto=ESMTP helo=<H>").
void milterReject(std::string_view stage, std::string_view client, std::string_view reply,
                  std::string_view from, std::string_view to, std::string_view proto,
                  std::string_view helo);
void milterAction(std::string_view id, std::string_view action, std::string_view stage,
                  std::string_view client, std::string_view text, std::string_view from,
                  std::string_view to, std::string_view proto, std::string_view helo);
// A before-queue filter's verdict on a message (Postfix smtpd's "proxy-accept" and
// "proxy-reject"): "NOQUEUE: proxy-accept: END-OF-MESSAGE from unknown[IP]: 250 2.0.0 Ok:
// queued as X; from=<S> to=<R> proto=ESMTP helo=<H>" (`action` "proxy-accept" |
// "proxy-reject"); nothing of ours is queued, hence NOQUEUE.
void proxyAction(std::string_view action, std::string_view stage, std::string_view client,
                 std::string_view reply, std::string_view from, std::string_view to,
                 std::string_view proto, std::string_view helo);
void warning(Program program, std::string_view text);
void info(Program program, std::string_view text);
}  // namespace mail

// The outcomes the lines above report, as values, for an observer in the process (the status
// dashboard's counters and its list of recent events): every acceptance into the queue, every
// delivery attempt's result and every refusal is logged here, so this is the one place that
// sees them all. The views are valid during the call only.
struct MailEvent {
  enum class Kind { Received, Delivered, Relayed, Deferred, Bounced, Rejected };
  Kind kind = Kind::Received;
  std::string_view id;       // queue id, or "NOQUEUE"
  std::string_view sender;   // envelope sender (Received, Rejected)
  std::string_view address;  // recipient (delivery results; Rejected when known)
  std::string_view client;   // "host[ip]" (Rejected)
  std::string_view stage;    // SMTP stage of a refusal ("RCPT", "END-OF-MESSAGE", ...)
  std::string_view text;     // the reply or the delivery's text
  std::string_view relay;    // delivery results
  bool content = false;      // a refusal by header/body checks or a milter
};
class MailEventObserver {
 public:
  virtual ~MailEventObserver() = default;
  // Called on the logging thread (any loop or pool thread): must be quick and thread-safe.
  virtual void onMailEvent(const MailEvent& event) = 0;
};
// Installs the observer (nullptr: none). Set before the threads that log start and cleared
// after they stopped; the observer outlives its installation.
void setMailEventObserver(MailEventObserver* observer);

}  // namespace petrel::log
