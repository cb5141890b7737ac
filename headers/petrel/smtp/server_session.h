// The SMTP server protocol (RFC 5321 + PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES,
// SMTPUTF8, CHUNKING, DSN) as a plain state machine: bytes and verdicts in, actions out.
//
//   Connected --EHLO/HELO--> Ready --MAIL--> Mail --RCPT ok--> Rcpt --DATA/BDAT--> Body
//       ^                     ^  ^                                                  |
//       |                     |  +------------- 250 queued / refusal --- Committing <-+
//       +-- RSET/EHLO keep the greeting state; QUIT, timeouts and error limits close.
//
// Verdicts and the commit of a message are asynchronous: the session emits AskVerdict /
// CommitMessage and stops reading pipelined commands until the driver calls onVerdict /
// onCommitted. A verdict is asked at every RCPT and VRFY (the recipient check), and at the
// other stages (connect, HELO/EHLO, MAIL, DATA/BDAT before 354, end of data before the commit,
// after a successful AUTH) when SessionSettings::verdict_stages names them, so a driver with
// nothing to check at a stage pays nothing there. Body bytes go to the BodySink the driver
// passes with onMessageStarted. The session never touches sockets, files or clocks.
//
// Early talkers: with greet_pause the greeting waits for the driver's onGreetPauseOver(), and
// a client that sends anything before it is refused (Pregreet). A client that sends ahead of
// a reply it had to wait for (RFC 2920 3.1: before EHLO every command, after it EHLO, HELO,
// DATA, NOOP and VRFY, as Postfix's smtpd; and anything before the greeting) is flagged once
// (ImproperPipelining, improperPipelining()) for reject_unauth_pipelining. "Ahead" means the
// bytes had arrived when the command was read: the flag depends on how the client's writes
// were split, as Postfix's peek at its input buffer does.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "petrel/auth/sasl.h"
#include "petrel/smtp/address.h"
#include "petrel/smtp/body_reader.h"
#include "petrel/smtp/reply.h"

namespace petrel::smtp {

// The points of an SMTP session where the driver may give a verdict (OpenSMTPD's filter
// phases, Postfix's smtpd_*_restrictions).
enum class Stage : uint8_t { Connect, Helo, Mail, Rcpt, Vrfy, Data, EndOfData, Auth };
// Postfix's names for the stages in log lines: "CONNECT", "HELO", "MAIL", "RCPT", "VRFY",
// "DATA", "END-OF-MESSAGE", "AUTH".
std::string_view toString(Stage stage);
// A set of stages, for SessionSettings::verdict_stages.
constexpr uint32_t stageBit(Stage stage) { return 1u << uint32_t(stage); }

// The commands a per-client rate limit counts (SessionSettings::rate_limit). StartTls asks
// whether the client is already over its new-TLS-session rate (the driver counts a session
// once its handshake is done, and ends it with onDrop when that one is over).
enum class ClientEvent : uint8_t { Mail, Rcpt, Auth, StartTls };

struct SessionSettings {
  std::string hostname;
  std::string banner;  // text after "220 "
  uint64_t max_message_size = 25ull * 1024 * 1024;
  uint32_t max_recipients = 1000;
  uint32_t max_command_line = 512;
  uint32_t max_text_line = 1000;
  uint32_t max_errors = 10;
  bool vrfy = false;
  bool normalize_bare_line_endings = false;
  // STARTTLS (RFC 3207): offered while not in TLS; `tls_required` refuses MAIL and AUTH
  // before it (530 5.7.0). `implicit_tls`: the connection is TLS from the first byte.
  bool starttls = false;
  bool tls_required = false;
  bool implicit_tls = false;
  // AUTH (RFC 4954): offered over TLS, or also in plaintext when auth_plaintext is set;
  // `auth_required` refuses MAIL before a successful AUTH (530 5.7.0).
  bool auth = false;
  bool auth_required = false;
  bool auth_plaintext = false;
  std::vector<std::string> auth_mechanisms = {"PLAIN", "LOGIN"};
  // Stages (stageBit) besides RCPT and VRFY at which the session asks for a verdict.
  // Default: none.
  uint32_t verdict_stages = 0;
  // start() sends no greeting; the driver waits (smtp.greet_pause) and calls
  // onGreetPauseOver(). Input before that is answered 554 5.5.1 and the session closes.
  bool greet_pause = false;
  // limits.rate: called at MAIL, RCPT, AUTH and STARTTLS after the command's sequence checks
  // and before it is carried out (where Postfix's smtpd asks anvil); a reply refuses the
  // command (it counts as an error). The driver counts and logs. Default: none.
  std::function<std::optional<Reply>(ClientEvent)> rate_limit;
};

struct Envelope {
  MailParams mail;
  std::string helo;
  bool esmtp = false;
  struct Recipient {
    RcptParams params;                // as given in RCPT TO
    std::vector<std::string> expand;  // final addresses the router gave for it
  };
  std::vector<Recipient> recipients;
  uint64_t body_size = 0;  // content octets, as stored
  bool chunking = false;   // body came by BDAT
};

// Actions for the driver, in order.
struct Send {
  std::string bytes;
};
struct Close {};
// Decide whether the session may go on at `stage` and call onVerdict. `address` is the
// recipient (Rcpt, Vrfy), the sender (Mail), the HELO name (Helo) or the user (Auth); the rest
// of the transaction is in envelope().
struct AskVerdict {
  Stage stage = Stage::Rcpt;
  std::string address;
};
// The driver assigns a queue id, prepares storage and calls onMessageStarted(sink).
struct StartMessage {};
struct CommitMessage {
  Envelope envelope;
};
// Storage prepared for the current message must be discarded.
struct AbortMessage {};
// The 220 to STARTTLS has been queued (Send before this action): flush it in plaintext, then
// run the connection through TLS. Everything the client sent after the STARTTLS line was
// discarded by the session (RFC 3207 5: no plaintext injection into the TLS session).
struct StartTls {};
// SASL produced credentials: verify them and call onAuthResult.
struct Authenticate {
  std::string mechanism;
  auth::Credentials credentials;
};
// A refusal the mail log must show (Postfix "reject:" line).
struct Rejected {
  Stage stage = Stage::Connect;
  Reply reply;
  std::string from;  // sender, when known
  std::string to;    // recipient, for RCPT
  bool bdat = false;  // a DATA-stage refusal of a BDAT command: logged as "BDAT"
  // The log's helo=: the session's HELO name, or at HELO the name being refused (Postfix
  // logs "HELO from ...: 504 ...; proto=SMTP helo=<bad>").
  std::string helo;
  // Postfix's name for the command in the log: toString(stage), or "BDAT".
  std::string_view logStage() const { return bdat ? "BDAT" : toString(stage); }
};
// The client talked during the greet pause: `bytes` are the first (at most 100) of the
// `count` it sent, for postscreen's "PREGREET" log line. A 554 and Close follow.
struct Pregreet {
  std::string bytes;
  size_t count = 0;
};
// The client sent ahead of our reply to `after` ("CONNECT" for the greeting, "EHLO", "MAIL",
// ...) where it may not pipeline; `pending` holds the first (at most 100) bytes it had sent,
// for Postfix's "improper command pipelining after ..." line. At most once per session.
struct ImproperPipelining {
  std::string after;
  std::string pending;
};
using Action = std::variant<Send, Close, AskVerdict, StartMessage, CommitMessage, AbortMessage,
                            Rejected, StartTls, Authenticate, Pregreet, ImproperPipelining>;
using Actions = std::vector<Action>;

// The driver's answer to AskVerdict.
//   Accept  go on (for Rcpt: `expand` holds the final addresses; empty = the address itself)
//   Refuse  answer `reply` (4xx/5xx with its enhanced code) instead; the stage is refused:
//           at Connect a 5xx becomes the greeting and every later command but QUIT gets 503
//           (RFC 5321 3.1), a 4xx is answered with 421 and the connection closes
//   Drop    answer `reply` and close the connection
// An accepted MAIL or RCPT may carry `accept_reply`, said instead of the session's own 2xx (a
// before-queue filter's reply passed through, docs/filters.md).
struct Verdict {
  enum class Kind { Accept, Refuse, Drop };
  Kind kind = Kind::Accept;
  Reply reply;
  std::vector<std::string> expand;
  std::optional<Reply> accept_reply;

  static Verdict accept(std::vector<std::string> expand = {}) {
    return Verdict{Kind::Accept, {}, std::move(expand), {}};
  }
  static Verdict refuse(Reply reply) { return Verdict{Kind::Refuse, std::move(reply), {}, {}}; }
  static Verdict drop(Reply reply) { return Verdict{Kind::Drop, std::move(reply), {}, {}}; }
  bool accepted() const { return kind == Kind::Accept; }
};

class ServerSession {
 public:
  explicit ServerSession(SessionSettings settings);
  ~ServerSession();  // out of line: CountingSink is complete only in server_session_internal.h

  // Greeting; when `refusal` is set (too many connections), sends it and closes. With
  // greet_pause nothing is sent until onGreetPauseOver().
  Actions start(std::optional<Reply> refusal = std::nullopt);
  // The greet pause has passed with no word from the client: greet (or ask the Connect verdict).
  Actions onGreetPauseOver();
  Actions onInput(std::string_view bytes);
  // The answer to the pending AskVerdict.
  Actions onVerdict(Verdict verdict);
  // Storage for the body is ready; content goes to `sink` until commit or abort.
  Actions onMessageStarted(BodySink& sink);
  Actions onCommitted(const std::string& queue_id);
  Actions onCommitFailed(Reply reply);
  // The answer to CommitMessage when the message went to a before-queue filter instead of the
  // queue: `reply` (the filter's end-of-data reply, or our 451 when it failed) is the client's
  // answer whatever its code; the transaction ends either way.
  Actions onRelayed(Reply reply);
  // The authenticator's answer to Authenticate. `user` is the canonical name when ok;
  // `temporary` failures answer 454 4.7.0. Too many failures close the session (421 4.7.0):
  // `drop` tells the session the client IP is over its limit.
  Actions onAuthResult(bool ok, const std::string& user, bool temporary, bool drop);
  // The client's address is over its AUTH failure limit: the credentials were not even
  // checked. Answers 421 4.7.0 and closes (no 535: the password may well be right).
  Actions onAuthRefused();
  // The driver's timer fired (idle or DATA timeout): 421 4.4.2 and close.
  Actions onTimeout();
  // The driver ends the session with `reply` (too many new TLS sessions: 421 4.7.0); a message
  // in flight is aborted.
  Actions onDrop(Reply reply);
  // Shutting down (drain): 421 4.3.2 at the next command boundary and close.
  Actions onShutdown();
  // The peer went away; returns AbortMessage when a body was in flight.
  Actions onPeerClosed();

  // Octets received but not yet processed; the driver stops reading while wantsInput() is
  // false so a client cannot make us buffer without bound while a verdict is pending.
  size_t bufferedInput() const;
  bool wantsInput() const;
  bool inBody() const { return state_ == State::Data || state_ == State::Bdat; }
  bool closed() const { return closed_; }
  // The transaction so far (recipients accepted, sender); valid until the next action batch.
  const Envelope& envelope() const { return envelope_; }
  // The MAIL (Stage::Mail) or RCPT (Stage::Rcpt, Vrfy) of the AskVerdict in flight, with its
  // parameters (a before-queue filter gets them as the client gave them).
  const MailParams& pendingMail() const { return pending_mail_; }
  const RcptParams& pendingRecipient() const { return pending_rcpt_; }
  const std::string& helo() const { return envelope_.helo; }
  bool esmtp() const { return envelope_.esmtp; }
  bool inTls() const { return in_tls_; }
  const std::string& authenticatedUser() const { return auth_user_; }
  const std::string& authMechanism() const { return auth_mechanism_; }
  // The client pipelined where it may not (see ImproperPipelining); stays set for the session.
  bool improperPipelining() const { return improper_pipelining_; }
  // The greet pause is running (start() sent nothing yet).
  bool inGreetPause() const { return wait_ == Wait::GreetPause; }
  // Postfix's command counts for the disconnect line, in its order: "ehlo=1 mail=1 rcpt=0/1
  // data=1 quit=1 commands=4/5" (a command that was refused at least once shows ok/total;
  // "unknown" for verbs we do not know; "commands=0/0" when the client sent none). A command
  // counts as done by its final reply: success below 400 (334 and 354 are not final).
  std::string commandStats() const;

 private:
  enum class State { Connected, Ready, Mail, Rcpt, Data, Bdat, BdatDiscard, Committing };
  enum class Wait { None, Verdict, Storage, Commit, AuthResponse, AuthVerdict, GreetPause };

  class CountingSink;

  void process();
  void processCommand(std::string_view line);
  bool processData();
  bool processBdat();
  void reply(const Reply& r);
  void error(const Reply& r);  // a refusal that counts towards max_errors
  void reject(const Reply& r, Stage stage, std::string to = {}, bool bdat = false);
  Rejected rejected(const Reply& r, Stage stage, std::string to, bool bdat = false) const;
  void resetTransaction();
  void finishBody(bool bare_line_ending);
  void close();

  void onHelo(std::string_view arg, bool esmtp);
  void onMail(std::string_view arg);
  void onRcpt(std::string_view arg);
  void onData();
  void onBdat(std::string_view arg);
  void onVrfy(std::string_view arg);
  bool wantsVerdict(Stage stage) const { return (settings_.verdict_stages & stageBit(stage)) != 0; }
  void askVerdict(Stage stage, std::string address = {});
  void greet();
  void flagPipelining(std::string_view after);
  bool rateLimited(ClientEvent event);
  void acceptHelo();
  void acceptMail(std::optional<Reply> reply = std::nullopt);
  void startData();
  void commit();
  bool messageOpen() const;  // storage was asked for and not yet committed or aborted
  void onStartTls(std::string_view arg);
  void onAuth(std::string_view arg);
  void authStep(auth::Step step);
  bool processAuthResponse();
  std::vector<std::string> ehloKeywords() const;

  SessionSettings settings_;
  State state_ = State::Connected;
  Wait wait_ = Wait::None;
  bool greeted_ = false;
  bool closed_ = false;
  bool shutting_down_ = false;
  bool discarding_long_command_ = false;
  uint32_t errors_ = 0;
  // Command counts (commandStats()), indexed as CountedCommands in server_session.cc.
  std::array<std::pair<uint32_t, uint32_t>, 14> command_counts_{};  // (ok, total)
  int counting_ = -1;  // the command whose final reply is still to come; -1: none
  std::string in_;
  Actions out_;
  Envelope envelope_;
  RcptParams pending_rcpt_;
  Stage pending_stage_ = Stage::Rcpt;  // of the AskVerdict in flight (Wait::Verdict)
  MailParams pending_mail_;            // MAIL waiting for its verdict
  std::string pending_helo_;           // HELO/EHLO waiting for its verdict
  bool pending_esmtp_ = false;
  bool data_via_bdat_ = false;         // the Data verdict is for a first BDAT, not DATA
  bool client_refused_ = false;        // the Connect verdict refused: only QUIT is served
  bool improper_pipelining_ = false;   // see improperPipelining()
  std::unique_ptr<CountingSink> sink_;
  std::unique_ptr<DotReader> dot_reader_;
  std::unique_ptr<ChunkScanner> chunk_scanner_;
  uint64_t bdat_remaining_ = 0;
  uint64_t bdat_octets_ = 0;  // received in this transaction's chunks, as the client counts
  bool bdat_last_ = false;
  bool bdat_started_ = false;  // StartMessage already requested for this transaction
  State bdat_return_state_ = State::Ready;  // where an out-of-sequence BDAT goes back to
  Reply bdat_discard_reply_;
  // The stage a discarded BDAT is logged as refused at; none = an error only.
  std::optional<Stage> bdat_discard_stage_;
  bool bdat_discard_logged_as_bdat_ = false;  // Postfix logs "BDAT" for no valid recipients
  bool in_tls_ = false;
  std::string auth_user_;  // set after a successful AUTH
  std::string pending_auth_user_;  // verified, waiting for the Auth verdict
  std::string auth_mechanism_;
  std::unique_ptr<auth::Mechanism> sasl_;  // the exchange in progress
};

}  // namespace petrel::smtp
