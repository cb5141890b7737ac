// SMTP server state machine; see server_session.h for the states and the driver contract.
// This file holds the command loop, the greeting, EHLO/HELO, STARTTLS, the envelope (MAIL,
// RCPT, VRFY, policy verdicts) and the endings; AUTH is in server_session_auth.cc, DATA and
// BDAT in server_session_body.cc.
#include "petrel/smtp/server_session.h"

#include <fmt/format.h>

#include <cctype>

#include "petrel/core/assert.h"
#include "petrel/core/strings.h"

#include "server_session_internal.h"

namespace petrel::smtp {

using server_session_detail::MaxAuthLine;
using server_session_detail::stripCr;

namespace {
constexpr size_t MaxBufferedInput = 64 * 1024;
// How much of an early talker's input the log shows (Postfix: %.100s).
constexpr size_t MaxLoggedEarlyInput = 100;

// RFC 2920 3.1 and Postfix's SMTPD_CMD_FLAG_LAST: after these the client must wait for our
// reply even when PIPELINING was offered.
bool endsPipelineGroup(std::string_view verb) {
  return verb == "ehlo" || verb == "helo" || verb == "data" || verb == "noop" || verb == "vrfy";
}

// The commands whose pipelining is judged (Postfix judges only the commands it knows). BDAT
// is not among them: its chunk follows the command line by design (RFC 3030 2).
bool judgedForPipelining(std::string_view verb) {
  for (std::string_view v : {"ehlo", "helo", "mail", "rcpt", "data", "rset", "noop", "quit",
                             "help", "vrfy", "expn", "starttls", "auth"}) {
    if (verb == v) return true;
  }
  return false;
}
}  // namespace

std::string_view toString(Stage stage) {
  switch (stage) {
    case Stage::Connect: return "CONNECT";
    case Stage::Helo: return "HELO";
    case Stage::Mail: return "MAIL";
    case Stage::Rcpt: return "RCPT";
    case Stage::Vrfy: return "VRFY";
    case Stage::Data: return "DATA";
    case Stage::EndOfData: return "END-OF-MESSAGE";
    case Stage::Auth: return "AUTH";
  }
  return "?";
}

ServerSession::ServerSession(SessionSettings settings)
    : settings_(std::move(settings)), in_tls_(settings_.implicit_tls) {}

ServerSession::~ServerSession() = default;

Actions ServerSession::start(std::optional<Reply> refusal) {
  if (refusal) {
    reply(*refusal);
    close();
  } else if (settings_.greet_pause) {
    wait_ = Wait::GreetPause;
  } else if (wantsVerdict(Stage::Connect)) {
    askVerdict(Stage::Connect);
  } else {
    greet();
  }
  return std::move(out_);
}

Actions ServerSession::onGreetPauseOver() {
  if (closed_ || wait_ != Wait::GreetPause) return {};
  wait_ = Wait::None;
  if (wantsVerdict(Stage::Connect)) {
    askVerdict(Stage::Connect);
  } else {
    greet();
    process();  // a shutdown that came during the pause
  }
  return std::move(out_);
}

void ServerSession::greet() {
  // Bytes that arrived while the Connect verdict was pending came before the greeting.
  if (!in_.empty()) flagPipelining("CONNECT");
  reply(Reply(220, "", settings_.banner));
}

void ServerSession::flagPipelining(std::string_view after) {
  if (improper_pipelining_) return;
  improper_pipelining_ = true;
  std::string after_upper(after.substr(0, 16));  // a verb; bounded, whatever the client sent
  for (auto& c : after_upper) c = char(std::toupper(static_cast<unsigned char>(c)));
  out_.push_back(ImproperPipelining{std::move(after_upper), in_.substr(0, MaxLoggedEarlyInput)});
}

bool ServerSession::rateLimited(ClientEvent event) {
  if (!settings_.rate_limit) return false;
  std::optional<Reply> refusal = settings_.rate_limit(event);
  if (!refusal) return false;
  error(*refusal);
  return true;
}

void ServerSession::askVerdict(Stage stage, std::string address) {
  pending_stage_ = stage;
  wait_ = Wait::Verdict;
  out_.push_back(AskVerdict{stage, std::move(address)});
}

bool ServerSession::messageOpen() const {
  return inBody() || bdat_started_ || wait_ == Wait::Storage ||
         (wait_ == Wait::Verdict && pending_stage_ == Stage::EndOfData);
}

Actions ServerSession::onInput(std::string_view bytes) {
  if (closed_) return {};
  if (wait_ == Wait::GreetPause) {
    if (bytes.empty()) return {};
    // postscreen's pregreet test: a client that talks before its turn is a bot (or a client
    // that does not speak SMTP); it gets no service.
    out_.push_back(Pregreet{std::string(bytes.substr(0, MaxLoggedEarlyInput)), bytes.size()});
    reply(Reply(554, "5.5.1", "Protocol error"));
    close();
    return std::move(out_);
  }
  in_.append(bytes);
  process();
  return std::move(out_);
}

size_t ServerSession::bufferedInput() const { return in_.size(); }

bool ServerSession::wantsInput() const {
  return !closed_ && (inBody() || in_.size() < MaxBufferedInput);
}

void ServerSession::process() {
  while (!closed_ && (wait_ == Wait::None || wait_ == Wait::AuthResponse)) {
    if (wait_ == Wait::AuthResponse) {
      if (!processAuthResponse()) return;
      continue;
    }
    if (state_ == State::Data) {
      if (!processData()) return;
      continue;
    }
    if (state_ == State::Bdat || state_ == State::BdatDiscard) {
      if (!processBdat()) return;
      continue;
    }
    if (state_ == State::Committing) return;
    if (shutting_down_ && (state_ == State::Ready || state_ == State::Connected)) {
      reply(Reply(421, "4.3.2", fmt::format("{} Service shutting down", settings_.hostname)));
      close();
      return;
    }
    if (discarding_long_command_) {
      size_t nl = in_.find('\n');
      if (nl == std::string::npos) {
        in_.clear();
        return;
      }
      in_.erase(0, nl + 1);
      discarding_long_command_ = false;
      error(Reply(500, "5.5.2", "Error: command line too long"));
      continue;
    }
    // RFC 4954 4: an AUTH line with its initial response may be up to 12288 octets.
    size_t limit = istartsWith(in_, "auth ") ? std::max<size_t>(MaxAuthLine, settings_.max_command_line)
                                             : settings_.max_command_line;
    size_t nl = in_.find('\n');
    if (nl == std::string::npos) {
      if (in_.size() > limit) {
        in_.clear();
        discarding_long_command_ = true;
      }
      return;
    }
    // RFC 5321 4.5.3.1.4: 512 octets including CRLF. A bare LF also ends a command line,
    // as in Postfix; only message content is strict about line endings.
    size_t length = nl + 1 + ((nl > 0 && in_[nl - 1] == '\r') ? 0 : 1);
    if (length > limit) {
      in_.erase(0, nl + 1);
      error(Reply(500, "5.5.2", "Error: command line too long"));
      continue;
    }
    std::string line(stripCr(std::string_view(in_).substr(0, nl)));
    in_.erase(0, nl + 1);
    if (!in_.empty() && !improper_pipelining_) {
      std::string verb = toLower(std::string_view(line).substr(0, line.find(' ')));
      // Before EHLO (or after HELO) nothing may be pipelined; after EHLO only within a group.
      if (judgedForPipelining(verb) && (!envelope_.esmtp || endsPipelineGroup(verb))) {
        flagPipelining(verb);
      }
    }
    processCommand(line);
  }
}

namespace {
// Postfix's names and order for the disconnect line's counts (smtpd.c's command table).
constexpr std::array<std::string_view, 14> CountedCommands = {
    "helo", "ehlo", "starttls", "auth", "mail", "rcpt",  "data",
    "bdat", "rset", "noop",     "vrfy", "expn", "quit", "unknown"};
int countedIndex(std::string_view verb) {
  for (size_t i = 0; i + 1 < CountedCommands.size(); ++i) {
    if (CountedCommands[i] == verb) return int(i);
  }
  return int(CountedCommands.size() - 1);
}
}  // namespace

std::string ServerSession::commandStats() const {
  std::string out;
  uint32_t ok = 0, total = 0;
  for (size_t i = 0; i < CountedCommands.size(); ++i) {
    auto [n_ok, n] = command_counts_[i];
    if (n == 0) continue;
    ok += n_ok;
    total += n;
    out += n_ok == n ? fmt::format("{}={} ", CountedCommands[i], n)
                     : fmt::format("{}={}/{} ", CountedCommands[i], n_ok, n);
  }
  out += ok == total && total > 0 ? fmt::format("commands={}", total)
                                  : fmt::format("commands={}/{}", ok, total);
  return out;
}

void ServerSession::processCommand(std::string_view line) {
  size_t sp = line.find(' ');
  std::string verb = toLower(line.substr(0, sp));
  counting_ = countedIndex(verb);
  std::string_view arg = sp == std::string_view::npos ? std::string_view() : trim(line.substr(sp));

  if (client_refused_ && verb != "quit") {
    // RFC 5321 3.1: after a 554 greeting, every command but QUIT gets 503.
    error(Reply(503, "5.7.0", "Error: access denied"));
  } else if (verb == "ehlo" || verb == "helo") {
    onHelo(arg, verb == "ehlo");
  } else if (verb == "mail") {
    if (!istartsWith(arg, "from:")) {
      error(Reply(501, "5.5.4", "Syntax: MAIL FROM:<address>"));
    } else {
      onMail(arg.substr(5));
    }
  } else if (verb == "rcpt") {
    if (!istartsWith(arg, "to:")) {
      error(Reply(501, "5.5.4", "Syntax: RCPT TO:<address>"));
    } else {
      onRcpt(arg.substr(3));
    }
  } else if (verb == "data") {
    if (!arg.empty()) {
      error(Reply(501, "5.5.4", "Syntax: DATA"));
    } else {
      onData();
    }
  } else if (verb == "bdat") {
    onBdat(arg);
  } else if (verb == "rset") {
    resetTransaction();
    reply(Reply(250, "2.0.0", "Ok"));
  } else if (verb == "noop") {
    reply(Reply(250, "2.0.0", "Ok"));
  } else if (verb == "quit") {
    reply(Reply(221, "2.0.0", "Bye"));
    resetTransaction();
    close();
  } else if (verb == "help") {
    reply(Reply(214, "2.0.0", "Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT"));
  } else if (verb == "vrfy") {
    onVrfy(arg);
  } else if (verb == "expn") {
    error(Reply(502, "5.5.1", "Error: EXPN is not supported"));
  } else if (verb == "starttls") {
    onStartTls(arg);
  } else if (verb == "auth") {
    onAuth(arg);
  } else if (verb == "connect" || verb == "get" || verb == "post" || verb == "user" ||
             verb == "pass") {
    // Another protocol talking to us (e.g. an HTTP client): say so and hang up.
    // Not counted as an error: the session ends with this one reply either way.
    Reply r(221, "2.7.0", "Error: I can break rules, too. Goodbye.");
    out_.push_back(rejected(r, Stage::Connect, {}, false));
    reply(r);
    resetTransaction();  // BDAT chunks already stored are aborted
    close();
  } else if (verb.empty()) {
    error(Reply(500, "5.5.2", "Error: bad syntax"));
  } else {
    error(Reply(502, "5.5.2", "Error: command not recognized"));
  }
}

void ServerSession::onHelo(std::string_view arg, bool esmtp) {
  if (arg.empty()) {
    error(Reply(501, "5.5.4", esmtp ? "Syntax: EHLO hostname" : "Syntax: HELO hostname"));
    return;
  }
  // The HELO name goes into the Received: header and the log: no control characters.
  for (unsigned char c : arg) {
    if (c < 0x20 || c == 0x7f) {
      error(Reply(501, "5.5.2", "Error: invalid HELO/EHLO hostname"));
      return;
    }
  }
  pending_helo_ = std::string(arg);
  pending_esmtp_ = esmtp;
  if (wantsVerdict(Stage::Helo)) {
    askVerdict(Stage::Helo, pending_helo_);
  } else {
    acceptHelo();
  }
}

void ServerSession::acceptHelo() {
  bool esmtp = pending_esmtp_;
  resetTransaction();
  envelope_.helo = std::move(pending_helo_);
  envelope_.esmtp = esmtp;
  greeted_ = true;
  state_ = State::Ready;
  if (!esmtp) {
    reply(Reply(250, "", settings_.hostname));
    return;
  }
  Reply r;
  r.code = 250;
  r.lines = ehloKeywords();
  reply(r);
}

std::vector<std::string> ServerSession::ehloKeywords() const {
  std::vector<std::string> k = {settings_.hostname, "PIPELINING",
                                fmt::format("SIZE {}", settings_.max_message_size), "VRFY"};
  if (settings_.starttls && !in_tls_) k.push_back("STARTTLS");
  if (settings_.auth && auth_user_.empty() && (in_tls_ || settings_.auth_plaintext)) {
    std::string line = "AUTH";
    for (const auto& m : settings_.auth_mechanisms) line += " " + m;
    k.push_back(line);
  }
  for (const char* kw : {"ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"}) {
    k.push_back(kw);
  }
  return k;
}

void ServerSession::onStartTls(std::string_view arg) {
  if (in_tls_) {
    error(Reply(554, "5.5.1", "Error: TLS already active"));
    return;
  }
  if (!settings_.starttls) {
    error(Reply(502, "5.5.1", "Error: command not implemented"));
    return;
  }
  if (!arg.empty()) {
    error(Reply(501, "5.5.4", "Syntax: STARTTLS"));
    return;
  }
  if (rateLimited(ClientEvent::StartTls)) return;
  reply(Reply(220, "2.0.0", "Ready to start TLS"));
  // RFC 3207 4.2: forget everything learnt in plaintext, and never treat bytes that came
  // after the STARTTLS line as commands (they were sent before the TLS session existed).
  in_.clear();
  resetTransaction();
  greeted_ = false;
  envelope_.helo.clear();
  envelope_.esmtp = false;
  auth_user_.clear();
  auth_mechanism_.clear();
  state_ = State::Connected;
  in_tls_ = true;
  out_.push_back(StartTls{});
}

void ServerSession::onMail(std::string_view arg) {
  if (!greeted_) {
    error(Reply(503, "5.5.1", "Error: send HELO/EHLO first"));
    return;
  }
  if (state_ != State::Ready) {
    error(Reply(503, "5.5.1", "Error: nested MAIL command"));
    return;
  }
  if (settings_.tls_required && !in_tls_) {
    error(Reply(530, "5.7.0", "Must issue a STARTTLS command first"));
    return;
  }
  if (settings_.auth_required && auth_user_.empty()) {
    error(Reply(530, "5.7.0", "Authentication required"));
    return;
  }
  if (rateLimited(ClientEvent::Mail)) return;
  MailParams mail;
  if (auto failure = parseMailFrom(arg, mail)) {
    error(failure->reply);
    return;
  }
  if (mail.size && *mail.size > settings_.max_message_size) {
    envelope_.mail = std::move(mail);
    reject(Reply(552, "5.3.4", "Message size exceeds fixed limit"), Stage::Mail);
    envelope_.mail = MailParams{};
    return;
  }
  if (wantsVerdict(Stage::Mail)) {
    std::string sender = mail.sender.text;
    pending_mail_ = std::move(mail);
    askVerdict(Stage::Mail, std::move(sender));
    return;
  }
  envelope_.mail = std::move(mail);
  acceptMail();
}

void ServerSession::acceptMail(std::optional<Reply> r) {
  state_ = State::Mail;
  reply(r ? *r : Reply(250, "2.1.0", "Ok"));
}

void ServerSession::onRcpt(std::string_view arg) {
  if (state_ != State::Mail && state_ != State::Rcpt) {
    error(Reply(503, "5.5.1", "Error: need MAIL command"));
    return;
  }
  if (bdat_started_) {
    // The Received: header naming the recipients is already stored (RFC 3030 2: recipients
    // come before the first BDAT).
    error(Reply(503, "5.5.1", "Error: RCPT after BDAT"));
    return;
  }
  if (rateLimited(ClientEvent::Rcpt)) return;
  RcptParams rcpt;
  if (auto failure = parseRcptTo(arg, envelope_.mail.smtputf8, rcpt)) {
    error(failure->reply);
    return;
  }
  if (envelope_.recipients.size() >= settings_.max_recipients) {
    // RFC 5321 4.5.3.1.10: 452, the client sends the rest in another transaction.
    reply(Reply(452, "4.5.3", "Error: too many recipients"));
    return;
  }
  pending_rcpt_ = std::move(rcpt);
  askVerdict(Stage::Rcpt, pending_rcpt_.recipient.text);
}

void ServerSession::onVrfy(std::string_view arg) {
  if (!settings_.vrfy) {
    reply(Reply(252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery"));
    return;
  }
  RcptParams rcpt;
  if (arg.empty() || parseRcptTo(arg, true, rcpt)) {
    error(Reply(501, "5.5.4", "Syntax: VRFY address"));
    return;
  }
  pending_rcpt_ = std::move(rcpt);
  askVerdict(Stage::Vrfy, pending_rcpt_.recipient.text);
}

Actions ServerSession::onVerdict(Verdict verdict) {
  PETREL_ASSERT(wait_ == Wait::Verdict);
  wait_ = Wait::None;
  if (closed_) return {};  // a timeout or shutdown closed the session meanwhile
  Stage stage = pending_stage_;
  const bool recipient_stage = stage == Stage::Rcpt || stage == Stage::Vrfy;
  const std::string to = recipient_stage ? pending_rcpt_.recipient.text : std::string();
  if (stage == Stage::Mail && !verdict.accepted()) envelope_.mail = std::move(pending_mail_);
  if (verdict.kind == Verdict::Kind::Drop) {
    if (stage == Stage::EndOfData) out_.push_back(AbortMessage{});
    out_.push_back(rejected(verdict.reply, stage, to));
    reply(verdict.reply);
    state_ = State::Ready;  // resetTransaction() must not abort the message a second time
    resetTransaction();
    close();
    return std::move(out_);
  }
  switch (stage) {
    case Stage::Connect:
      if (verdict.accepted()) {
        greet();
      } else if (verdict.reply.code < 500) {
        // RFC 5321 3.1 allows only 220 or 554 as a greeting: a temporary refusal closes.
        Reply r = verdict.reply;
        r.code = 421;
        out_.push_back(rejected(r, Stage::Connect, {}, false));
        reply(r);
        close();
      } else {
        Reply r = verdict.reply;
        r.code = 554;
        out_.push_back(rejected(r, Stage::Connect, {}, false));
        reply(r);
        client_refused_ = true;
      }
      break;
    case Stage::Helo:
      if (verdict.accepted()) {
        acceptHelo();
      } else {
        reject(verdict.reply, Stage::Helo);
      }
      break;
    case Stage::Mail:
      if (verdict.accepted()) {
        envelope_.mail = std::move(pending_mail_);
        acceptMail(std::move(verdict.accept_reply));
      } else {
        reject(verdict.reply, Stage::Mail);
        envelope_.mail = MailParams{};
      }
      break;
    case Stage::Vrfy:
      if (verdict.accepted()) {
        reply(Reply(250, "2.1.5", fmt::format("<{}>", to)));
      } else {
        reject(verdict.reply, Stage::Vrfy, to);
      }
      break;
    case Stage::Rcpt:
      if (verdict.accepted()) {
        if (verdict.expand.empty()) verdict.expand.push_back(to);
        envelope_.recipients.push_back({std::move(pending_rcpt_), std::move(verdict.expand)});
        state_ = State::Rcpt;
        reply(verdict.accept_reply ? *verdict.accept_reply : Reply(250, "2.1.5", "Ok"));
      } else {
        reject(verdict.reply, Stage::Rcpt, to);
      }
      break;
    case Stage::Data:
      if (verdict.accepted()) {
        startData();
      } else if (data_via_bdat_) {
        // The chunk that came with the refused BDAT is read and thrown away.
        bdat_return_state_ = state_;
        bdat_discard_reply_ = verdict.reply;
        bdat_discard_stage_ = Stage::Data;
        bdat_discard_logged_as_bdat_ = false;
        state_ = State::BdatDiscard;
      } else {
        reject(verdict.reply, Stage::Data);
      }
      break;
    case Stage::EndOfData:
      if (verdict.accepted()) {
        commit();
      } else {
        out_.push_back(AbortMessage{});
        state_ = State::Ready;  // out of the body: resetTransaction() must not abort it again
        reject(verdict.reply, Stage::EndOfData);
        resetTransaction();
      }
      break;
    case Stage::Auth:
      if (verdict.accepted()) {
        auth_user_ = std::move(pending_auth_user_);
        reply(Reply(235, "2.7.0", "Authentication successful"));
      } else {
        auth_mechanism_.clear();
        reject(verdict.reply, Stage::Auth);
      }
      pending_auth_user_.clear();
      break;
  }
  process();
  return std::move(out_);
}

Actions ServerSession::onCommitted(const std::string& queue_id) {
  PETREL_ASSERT(wait_ == Wait::Commit);
  wait_ = Wait::None;
  if (closed_) return {};  // closed meanwhile: the message is queued, nobody to tell
  reply(Reply(250, "2.0.0", fmt::format("Ok: queued as {}", queue_id)));
  resetTransaction();
  process();
  return std::move(out_);
}

Actions ServerSession::onRelayed(Reply r) { return onCommitFailed(std::move(r)); }

Actions ServerSession::onCommitFailed(Reply r) {
  PETREL_ASSERT(wait_ == Wait::Commit);
  wait_ = Wait::None;
  if (closed_) return {};
  reply(r);
  resetTransaction();
  process();
  return std::move(out_);
}

Actions ServerSession::onTimeout() {
  if (closed_) return {};
  if (messageOpen()) out_.push_back(AbortMessage{});
  bdat_started_ = false;
  reply(Reply(421, "4.4.2", fmt::format("{} Error: timeout exceeded", settings_.hostname)));
  close();
  return std::move(out_);
}

Actions ServerSession::onDrop(Reply r) {
  if (closed_) return {};
  if (messageOpen()) out_.push_back(AbortMessage{});
  bdat_started_ = false;
  reply(r);
  close();
  return std::move(out_);
}

Actions ServerSession::onShutdown() {
  if (closed_) return {};
  shutting_down_ = true;
  if (wait_ == Wait::None) process();
  return std::move(out_);
}

Actions ServerSession::onPeerClosed() {
  if (closed_) return {};
  // A message not yet acknowledged leaves nothing behind; one being committed is the
  // driver's to finish (it was complete, so it is kept, just as after a lost 250).
  if (messageOpen()) out_.push_back(AbortMessage{});
  closed_ = true;
  return std::move(out_);
}

void ServerSession::reply(const Reply& r) {
  out_.push_back(Send{r.wire()});
  if (counting_ >= 0 && r.code != 334 && r.code != 354) {
    auto& [ok, total] = command_counts_[size_t(counting_)];
    ++total;
    if (r.code < 400) ++ok;
    counting_ = -1;
  }
}

void ServerSession::error(const Reply& r) {
  reply(r);
  if (++errors_ >= settings_.max_errors && !closed_) {
    reply(Reply(421, "4.7.0", fmt::format("{} Error: too many errors", settings_.hostname)));
    resetTransaction();
    close();
  }
}

void ServerSession::reject(const Reply& r, Stage stage, std::string to, bool bdat) {
  out_.push_back(rejected(r, stage, std::move(to), bdat));
  error(r);
}

// As Postfix's smtpd_check_data: a DATA or end-of-data refusal names the recipient when there
// is exactly one (with several, naming one would mislead).
Rejected ServerSession::rejected(const Reply& r, Stage stage, std::string to, bool bdat) const {
  if (to.empty() && (stage == Stage::Data || stage == Stage::EndOfData) &&
      envelope_.recipients.size() == 1) {
    to = envelope_.recipients.front().params.recipient.text;
  }
  return Rejected{stage, r, envelope_.mail.sender.text, std::move(to), bdat,
                  stage == Stage::Helo ? pending_helo_ : envelope_.helo};
}

void ServerSession::resetTransaction() {
  if (bdat_started_ || inBody()) out_.push_back(AbortMessage{});
  bdat_started_ = false;
  std::string helo = std::move(envelope_.helo);
  bool esmtp = envelope_.esmtp;
  envelope_ = Envelope{};
  bdat_octets_ = 0;
  envelope_.helo = std::move(helo);
  envelope_.esmtp = esmtp;
  sink_.reset();
  dot_reader_.reset();
  chunk_scanner_.reset();
  state_ = greeted_ ? State::Ready : State::Connected;
}

void ServerSession::close() {
  if (closed_) return;
  out_.push_back(Close{});
  closed_ = true;
}

}  // namespace petrel::smtp
