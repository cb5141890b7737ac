// The SMTP client protocol (RFC 5321 + PIPELINING, SIZE, 8BITMIME, SMTPUTF8, STARTTLS, AUTH,
// DSN, ENHANCEDSTATUSCODES) as a plain state machine: the server's reply bytes and the driver's
// events in, actions out. The mirror of ServerSession; an outbound delivery agent drives it.
// With Settings::lmtp it speaks LMTP (RFC 2033) instead: LHLO (no HELO fallback), and after
// the final dot one reply per accepted recipient, in RCPT order, each settling its recipient.
// It owns the dialog and the per-recipient outcomes of each job. It does not touch sockets,
// TLS, clocks, DNS or the message content: the driver connects, switches the transport to TLS,
// runs the timers, streams the content (through DotStuffer) and picks the next MX host.
//
//   Greeting --220--> Ehlo --250--> [StartTls --220--> Handshake --onTlsStarted--> Ehlo ...]
//                      | 5xx          (tls may/encrypt/verify and STARTTLS offered)
//                      +--> Helo --250--+
//                                       v
//                       [Auth --235-->] Ready --> Transaction --354--> Body --final reply--+
//                                                  MAIL, RCPT.., DATA     (SendBody)        |
//                                                  pipelined or lockstep                    |
//                                                       +--- no recipient accepted ---------+
//                                                                                           v
//   Closed <--reply or close-- Quit <--quit()-- Idle (JobResult reported) --nextJob()--> Ready
//
// A job ends with exactly one JobResult: one Outcome per recipient, in the job's order. Local
// refusals (SIZE over the peer's limit: 5.3.4; SMTPUTF8 needed but not offered: 5.6.7) happen
// in Ready before MAIL and leave the connection usable. Failures of the connection itself
// (a 4xx/5xx greeting, EHLO/HELO, STARTTLS under encrypt/verify, AUTH, a 421, a malformed or
// unexpected reply, a timeout, a lost connection) defer every recipient still open, report,
// and then QUIT (or Close at once when the peer is gone or out of step).
//
// Choices the RFCs leave open:
// - 8-bit content to a peer without 8BITMIME is sent as it is, without BODY=: RFC 6152 makes
//   downgrading optional, converting to quoted-printable breaks signatures, and practically
//   every server takes 8-bit data. A message needing SMTPUTF8 is never downgraded (5.6.7).
// - A peer without DSN: NOTIFY/ORCPT/RET/ENVID are left out and JobResult::peer_dsn says so
//   (RFC 3461 4.1: we then owe "relayed" DSNs). An ORCPT we cannot encode is left out too.
// - A 5xx to the greeting, EHLO+HELO or AUTH defers (Outcome::host_failure): the host refuses
//   us, not the recipients; the driver may try the next MX, and the queue lifetime bounces.
//   Only MAIL, RCPT, DATA and end-of-data answers (and our SIZE/SMTPUTF8 checks) bounce.
// - A pipelining peer that answers DATA with 354 after refusing every RCPT gets a lone "."
//   (the empty message ends the transaction; no content is sent).
// - CHUNKING is recorded but not used: DATA is enough for 7bit and 8BITMIME content.
// - After a transaction that ended without the final DATA reply (no recipient accepted, DATA
//   refused) the next job starts with RSET; quit() needs none.
// - Credentials configured mean AUTH must happen: when AUTH is not offered, or TLS is not up
//   and plaintext AUTH is not allowed, the job is deferred (4.7.0) rather than sent
//   unauthenticated (which a relayhost would bounce) or with the password in the clear.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "petrel/auth/sasl.h"
#include "petrel/smtp/address.h"
#include "petrel/smtp/reply.h"

namespace petrel::smtp {

namespace client {

// Per destination, as Postfix's smtp_tls_security_level. `verify` is `encrypt` at this layer:
// the driver checks the certificate during the handshake and calls onTlsFailed when it fails.
enum class TlsPolicy { None, May, Encrypt, Verify };

// Connection-wide settings: they hold for every job sent over this connection.
struct Settings {
  std::string helo_name;  // our name for EHLO/HELO; no spaces or control characters
  TlsPolicy tls = TlsPolicy::May;
  // The transport is TLS from the first byte (a relayhost on port 465): no STARTTLS.
  bool implicit_tls = false;
  // AUTH PLAIN (or LOGIN when PLAIN is not offered) after EHLO, when set. Sent only over TLS
  // unless `auth_plaintext`. Default: no credentials.
  std::optional<auth::Credentials> credentials;
  bool auth_plaintext = false;
  // LMTP (RFC 2033): LHLO instead of EHLO; a 5xx to LHLO fails the connection (no HELO); the
  // end of DATA gets one reply per recipient accepted at RCPT. A 354 to DATA with no recipient
  // accepted is a protocol error (a lone dot would get no reply to wait for). Default: false.
  bool lmtp = false;
};

// One message to one destination.
struct Job {
  Address sender;                      // empty for the null sender <>
  std::vector<RcptParams> recipients;  // NOTIFY/ORCPT as stored (decoded); at least one
  uint64_t size = 0;                   // content octets, for SIZE= and the peer's limit
  bool is_8bit = false;                // content has octets > 127: BODY=8BITMIME if offered
  // UTF-8 in headers; a non-ASCII envelope address implies it as well.
  bool needs_smtputf8 = false;
  std::string dsn_ret;    // "FULL" | "HDRS" | ""
  std::string dsn_envid;  // decoded; sent as xtext
  // XFORWARD attributes (Postfix's XFORWARD_README: NAME, ADDR, PORT, PROTO, HELO, IDENT,
  // SOURCE) of the message's original client, sent before MAIL when the peer offers XFORWARD
  // (an after-queue content filter logs them). Values unencoded; empty: "[UNAVAILABLE]".
  // None: no XFORWARD.
  std::vector<std::pair<std::string, std::string>> xforward;
};

// The XFORWARD command lines for `attributes`, only those the peer named in its EHLO
// (`offered`, upper case), values as xtext, each line at most 512 octets with CRLF (as
// Postfix's smtpd reads them). Empty when nothing is to be sent.
std::vector<std::string> xforwardCommands(
    const std::vector<std::pair<std::string, std::string>>& attributes,
    const std::vector<std::string>& offered);

// What the peer offered in its EHLO reply (all false after HELO).
struct PeerExtensions {
  std::string name;  // first word of the EHLO/HELO reply
  bool esmtp = false;
  bool pipelining = false;
  bool size = false;
  uint64_t size_limit = 0;  // 0: no limit announced (RFC 1870 "SIZE" or "SIZE 0")
  bool eightbitmime = false;
  bool smtputf8 = false;
  bool starttls = false;
  bool chunking = false;
  bool dsn = false;
  bool enhanced_status_codes = false;
  std::vector<std::string> auth;  // mechanisms, upper case
  std::vector<std::string> xforward;  // XFORWARD attribute names offered, upper case
};

enum class RecipientStatus { Delivered, Deferred, Bounced };
std::string_view toString(RecipientStatus s);  // "delivered", "deferred", "bounced"

struct Outcome {
  std::string recipient;
  RecipientStatus status = RecipientStatus::Deferred;
  // Enhanced status code for the log's dsn= and the DSN's Status: field. Its class always
  // matches `status` (a 554 greeting that defers gives 4.x.x).
  std::string dsn;
  std::optional<Reply> reply;  // what the peer said, when a reply decided this
  std::string command;         // what that reply answered: "RCPT TO", "end of DATA", ...
  std::string detail;          // our own words when we decided (or why a reply did not fit)
  // The connection failed rather than the recipient (greeting, EHLO, TLS, AUTH, 421, protocol
  // error, timeout, lost connection): another MX host may do better.
  bool host_failure = false;
};

// Actions for the driver, in order.
struct Send {
  std::string bytes;    // one or more CRLF-terminated command lines: write them in one go
  bool secret = false;  // AUTH payload: debug logs show <redacted>
};
// Run the connection through TLS now (nothing of ours is buffered), then call onTlsStarted or
// onTlsFailed. Plaintext that arrives after the 220 is an injection attempt (RFC 3207 5): it
// must not reach the TLS engine; the session fails the job if it sees any.
struct StartTls {};
// The peer said 354: send DotStuffer output for the whole content (ending in CRLF.CRLF).
struct SendBody {};
struct JobResult {
  std::vector<Outcome> recipients;  // one per Job recipient, in Job order
  bool peer_dsn = false;            // the peer took NOTIFY/ORCPT/RET/ENVID
};
struct Close {};
using Action = std::variant<Send, StartTls, SendBody, JobResult, Close>;
using Actions = std::vector<Action>;

// What the session waits for, so the driver can pick the timeout (RFC 5321 4.5.3.2: greeting
// 5 min, MAIL/RCPT 5 min, DATA initiation 2 min, data block 3 min, final reply 10 min).
enum class Phase { Greeting, Helo, StartTls, TlsHandshake, Auth, Mail, Rcpt, DataInit, DataDone,
                   Rset, Idle, Quit, Closed };

}  // namespace client

class ClientSession {
 public:
  // Waits for the greeting; the first job is sent once the connection is set up.
  ClientSession(client::Settings settings, client::Job job);

  // Bytes from the peer, split anywhere (after StartTls: the TLS engine's plaintext). Replies
  // are taken as they complete; a line over 4 KiB or a reply over 128 lines is a protocol error,
  // so at most one reply line is ever buffered.
  client::Actions onInput(std::string_view bytes);
  // The TLS handshake after StartTls succeeded (certificate checks included); EHLO again.
  client::Actions onTlsStarted();
  // The handshake (or the certificate check of `verify`) failed: open recipients are deferred
  // with 4.7.5 and the session closes. Under `may` the driver may retry without TLS.
  client::Actions onTlsFailed(std::string_view why);
  // The driver's timer for the current phase fired: open recipients deferred (4.4.2), Close.
  client::Actions onTimeout();
  // The peer closed the connection: open recipients deferred (4.4.2), Close.
  client::Actions onPeerClosed();
  // Precondition: idle(). Sends another message over this connection.
  client::Actions nextJob(client::Job job);
  // Precondition: idle(). QUIT, then Close when the peer answers or goes away.
  client::Actions quit();

  bool idle() const { return state_ == State::Idle; }
  bool closed() const { return state_ == State::Closed; }
  client::Phase phase() const;
  bool inTls() const { return in_tls_; }
  bool authenticated() const { return authenticated_; }
  const client::PeerExtensions& peer() const { return peer_; }
  size_t bufferedInput() const { return reader_.buffered(); }

 private:
  enum class State { Greeting, Ehlo, Helo, StartTls, Handshake, Auth, Transaction, Body, Idle,
                     Quit, Closed };
  enum class AuthStep { Plain, LoginStart, LoginUser, LoginPassword };
  enum class Expect { Rset, Mail, Rcpt, Data, EmptyDot, Xforward };
  struct Pending {
    Expect what;
    size_t rcpt = 0;  // for Rcpt
  };
  enum class RcptState { Unsent, Sent, Accepted, Done };

  void process();
  void onReply(const Reply& r);
  void onGreeting(const Reply& r);
  void onEhlo(const Reply& r);
  void onHelo(const Reply& r);
  void onStartTlsReply(const Reply& r);
  void onAuthReply(const Reply& r);
  void onTransactionReply(const Reply& r);
  void onFinalReply(const Reply& r);

  void sendEhlo();
  void afterHelo();
  void startAuth();
  void beginJob(client::Job job);
  void startTransaction();
  void sendMail();
  std::vector<std::string> xforwardLines() const;
  void sendNextRcpt();
  std::string mailCommand() const;
  std::string rcptCommand(size_t i) const;

  void send(std::string bytes, bool secret = false);
  void settle(size_t i, client::RecipientStatus status, std::string dsn, const Reply* reply,
              std::string_view command, std::string detail, bool host_failure = false);
  void settleByReply(size_t i, const Reply& r, std::string_view command);
  void finishJob();
  // Defers every open recipient, reports, then QUIT (quit = true) or Close.
  void connectionFailed(const Reply* r, std::string_view command, std::string dsn,
                        std::string detail, bool quit);
  // Out of step with the peer: open recipients deferred with 4.4.2, Close. `command`: what
  // the peer was answering (default: what we wait for now).
  void protocolError(std::string detail, const Reply* r = nullptr, std::string_view command = {});
  void sendQuit();
  void close();
  std::string_view currentCommand() const;
  std::string waitingFor() const;

  client::Settings settings_;
  State state_ = State::Greeting;
  client::Actions out_;
  ReplyReader reader_;  // the peer's bytes, split into replies
  bool in_tls_ = false;
  bool authenticated_ = false;
  AuthStep auth_step_ = AuthStep::Plain;
  client::PeerExtensions peer_;

  // The job in progress (from beginJob to finishJob).
  bool job_active_ = false;
  client::Job job_;
  std::vector<RcptState> rcpt_state_;
  std::vector<client::Outcome> outcomes_;
  bool pipelined_ = false;
  bool mail_ok_ = false;
  bool mail_refused_ = false;
  size_t next_rcpt_ = 0;
  size_t accepted_ = 0;
  std::deque<Pending> pending_;  // replies still due in this transaction, in order
  // MAIL was accepted and the transaction has not seen its final reply: RSET before MAIL.
  bool rset_needed_ = false;
  size_t xforward_sent_ = 0;  // lockstep: XFORWARD lines of this job sent so far
};

// Message content to DATA transparency form (RFC 5321 4.5.2), chunk by chunk: a '.' starting a
// line is doubled, and every line ending — CRLF, bare LF or bare CR — goes out as CRLF, so that
// no "\n.\n" smuggled into a stored message can end DATA early at the next hop. finish() ends
// an unterminated last line and appends ".\r\n". Lines are not folded (our server stores none
// over 1000 octets).
class DotStuffer {
 public:
  std::string feed(std::string_view content);
  std::string finish();

 private:
  bool line_start_ = true;
  bool pending_cr_ = false;
};

// The whole content at once: DotStuffer().feed(content) + finish().
std::string dotStuff(std::string_view content);

// ESMTP parameter values as we send them (ClientSession, ProxyClient): RFC 3461 4 xtext ("+HH"
// for '+', '=' and everything outside "!".."~"); the ORCPT= value from the stored
// "addr-type;address" (nullopt: cannot be said correctly, leave it out); the NOTIFY= value in
// upper case (nullopt: empty or malformed).
std::string encodeXtext(std::string_view s);
std::optional<std::string> orcptParam(std::string_view stored);
std::optional<std::string> notifyParam(std::string_view stored);

}  // namespace petrel::smtp
