// SMTP server state machine; see server_session.h for the states and the driver contract.
#include "petrel/smtp/server_session.h"

#include <fmt/format.h>

#include "petrel/core/assert.h"
#include "petrel/core/strings.h"

namespace petrel::smtp {

// Counts content octets and stops forwarding once the size limit is passed; the session
// keeps reading to the end of the message and then refuses it (RFC 1870 6.3).
class ServerSession::CountingSink : public BodySink {
 public:
  CountingSink(BodySink& target, uint64_t limit) : target_(&target), limit_(limit) {}
  void append(std::string_view content) override {
    size_ += content.size();
    if (size_ > limit_) {
      over_ = true;
      return;
    }
    target_->append(content);
  }
  uint64_t size() const { return size_; }
  bool over() const { return over_; }

 private:
  BodySink* target_;
  uint64_t limit_;
  uint64_t size_ = 0;
  bool over_ = false;
};

namespace {
constexpr size_t MaxBufferedInput = 64 * 1024;
constexpr size_t MaxAuthLine = 12288;

std::string_view stripCr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}
}  // namespace

ServerSession::ServerSession(SessionSettings settings)
    : settings_(std::move(settings)), in_tls_(settings_.implicit_tls) {}

ServerSession::~ServerSession() = default;

Actions ServerSession::start(std::optional<Reply> refusal) {
  if (refusal) {
    reply(*refusal);
    close();
  } else {
    reply(Reply(220, "", settings_.banner));
  }
  return std::move(out_);
}

Actions ServerSession::onInput(std::string_view bytes) {
  if (closed_) return {};
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
    processCommand(line);
  }
}

void ServerSession::processCommand(std::string_view line) {
  size_t sp = line.find(' ');
  std::string verb = toLower(line.substr(0, sp));
  std::string_view arg = sp == std::string_view::npos ? std::string_view() : trim(line.substr(sp));

  if (verb == "ehlo" || verb == "helo") {
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
    out_.push_back(Rejected{"CONNECT", r, envelope_.mail.sender.text, {}});
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
  resetTransaction();
  envelope_.helo = std::string(arg);
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

void ServerSession::onAuth(std::string_view arg) {
  if (!settings_.auth) {
    error(Reply(502, "5.5.1", "Error: authentication not enabled"));
    return;
  }
  if (!greeted_) {
    error(Reply(503, "5.5.1", "Error: send EHLO first"));
    return;
  }
  if (!in_tls_ && !settings_.auth_plaintext) {
    if (settings_.starttls) {
      error(Reply(530, "5.7.0", "Must issue a STARTTLS command first"));
    } else {
      error(Reply(538, "5.7.11", "Encryption required for requested authentication mechanism"));
    }
    return;
  }
  if (!auth_user_.empty()) {
    error(Reply(503, "5.5.1", "Error: already authenticated"));
    return;
  }
  if (state_ != State::Ready) {
    error(Reply(503, "5.5.1", "Error: MAIL transaction in progress"));
    return;
  }
  auto parts = split(arg, ' ');
  std::string mech = parts.empty() ? "" : toLower(parts[0]);
  for (auto& c : mech) c = char(std::toupper(static_cast<unsigned char>(c)));
  bool offered = false;
  for (const auto& m : settings_.auth_mechanisms) offered |= m == mech;
  sasl_ = offered ? auth::makeMechanism(mech) : nullptr;
  if (parts.size() > 2 || mech.empty()) {
    sasl_.reset();
    error(Reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"));
    return;
  }
  if (!sasl_) {
    error(Reply(504, "5.5.4", "Unsupported authentication mechanism"));
    return;
  }
  auth_mechanism_ = mech;
  std::optional<std::string_view> initial;
  if (parts.size() == 2) initial = parts[1];
  authStep(sasl_->start(initial));
}

void ServerSession::authStep(auth::Step step) {
  if (auto* c = std::get_if<auth::Challenge>(&step)) {
    wait_ = Wait::AuthResponse;
    Reply r;
    r.code = 334;
    r.lines = {c->base64};
    reply(r);
  } else if (auto* d = std::get_if<auth::Done>(&step)) {
    wait_ = Wait::AuthVerdict;
    out_.push_back(Authenticate{auth_mechanism_, std::move(d->credentials)});
  } else {
    const auto& f = std::get<auth::Failed>(step);
    wait_ = Wait::None;
    sasl_.reset();
    error(Reply(f.code, f.enhanced, f.text));
  }
}

bool ServerSession::processAuthResponse() {
  size_t nl = in_.find('\n');
  if (nl == std::string::npos) {
    if (in_.size() > MaxAuthLine) {
      in_.clear();
      discarding_long_command_ = true;
      wait_ = Wait::None;
      sasl_.reset();
    }
    return false;
  }
  std::string line(stripCr(std::string_view(in_).substr(0, nl)));
  in_.erase(0, nl + 1);
  if (line.size() + 2 > MaxAuthLine) {
    wait_ = Wait::None;
    sasl_.reset();
    error(Reply(500, "5.5.6", "Authentication Exchange line is too long"));
    return true;
  }
  authStep(sasl_->respond(line));
  return true;
}

Actions ServerSession::onAuthRefused() {
  if (closed_) return {};
  PETREL_ASSERT(wait_ == Wait::AuthVerdict);
  wait_ = Wait::None;
  sasl_.reset();
  auth_mechanism_.clear();
  reply(Reply(421, "4.7.0",
              fmt::format("{} Error: too many authentication failures", settings_.hostname)));
  close();
  return std::move(out_);
}

Actions ServerSession::onAuthResult(bool ok, const std::string& user, bool temporary, bool drop) {
  if (closed_) return {};
  PETREL_ASSERT(wait_ == Wait::AuthVerdict);
  wait_ = Wait::None;
  sasl_.reset();
  if (ok) {
    auth_user_ = user;
    reply(Reply(235, "2.7.0", "Authentication successful"));
  } else if (temporary) {
    reply(Reply(454, "4.7.0", "Temporary authentication failure"));
  } else {
    auth_mechanism_.clear();
    error(Reply(535, "5.7.8", "Error: authentication failed"));
    if (drop && !closed_) {
      reply(Reply(421, "4.7.0",
                  fmt::format("{} Error: too many authentication failures", settings_.hostname)));
      close();
    }
  }
  process();
  return std::move(out_);
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
  MailParams mail;
  if (auto failure = parseMailFrom(arg, mail)) {
    error(failure->reply);
    return;
  }
  if (mail.size && *mail.size > settings_.max_message_size) {
    envelope_.mail = std::move(mail);
    reject(Reply(552, "5.3.4", "Message size exceeds fixed limit"), "MAIL");
    envelope_.mail = MailParams{};
    return;
  }
  envelope_.mail = std::move(mail);
  state_ = State::Mail;
  reply(Reply(250, "2.1.0", "Ok"));
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
  pending_vrfy_ = false;
  wait_ = Wait::Recipient;
  out_.push_back(CheckRecipient{pending_rcpt_.recipient.text, false});
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
  pending_vrfy_ = true;
  wait_ = Wait::Recipient;
  out_.push_back(CheckRecipient{pending_rcpt_.recipient.text, true});
}

Actions ServerSession::onRecipientVerdict(RecipientVerdict verdict) {
  PETREL_ASSERT(wait_ == Wait::Recipient);
  wait_ = Wait::None;
  if (closed_) return {};  // a timeout or shutdown closed the session meanwhile
  const std::string& addr = pending_rcpt_.recipient.text;
  if (pending_vrfy_) {
    if (verdict.accepted) {
      reply(Reply(250, "2.1.5", fmt::format("<{}>", addr)));
    } else {
      reject(verdict.refusal, "VRFY", addr);
    }
  } else if (verdict.accepted) {
    envelope_.recipients.push_back({std::move(pending_rcpt_), std::move(verdict.expand)});
    state_ = State::Rcpt;
    reply(Reply(250, "2.1.5", "Ok"));
  } else {
    reject(verdict.refusal, "RCPT", addr);
  }
  process();
  return std::move(out_);
}

void ServerSession::onData() {
  if (bdat_started_) {
    error(Reply(503, "5.5.1", "Error: DATA after BDAT"));
    return;
  }
  if (state_ == State::Mail) {
    reject(Reply(554, "5.5.1", "Error: no valid recipients"), "DATA");
    return;
  }
  if (state_ != State::Rcpt) {
    error(Reply(503, "5.5.1", "Error: need RCPT command"));
    return;
  }
  envelope_.chunking = false;
  wait_ = Wait::Storage;
  out_.push_back(StartMessage{});
}

void ServerSession::onBdat(std::string_view arg) {
  auto parts = split(arg, ' ');
  std::optional<uint64_t> size = parts.empty() ? std::nullopt : parseUnsigned(parts[0]);
  bool last = parts.size() == 2 && iequals(parts[1], "LAST");
  if (!size || parts.size() > 2 || (parts.size() == 2 && !last)) {
    // Without a size we cannot find where the chunk ends: the stream is lost (RFC 3030 2).
    error(Reply(501, "5.5.4", "Syntax: BDAT size [LAST]"));
    resetTransaction();  // BDAT chunks already stored are aborted
    close();
    return;
  }
  bdat_remaining_ = *size;
  bdat_last_ = last;
  if (state_ != State::Rcpt) {
    bdat_return_state_ = state_;
    bdat_discard_reply_ = !greeted_ ? Reply(503, "5.5.1", "Error: send HELO/EHLO first")
                          : state_ == State::Mail
                              ? Reply(554, "5.5.1", "Error: no valid recipients")
                              : Reply(503, "5.5.1", "Error: need MAIL command");
    state_ = State::BdatDiscard;
    return;
  }
  if (!bdat_started_) {
    bdat_started_ = true;
    envelope_.chunking = true;
    wait_ = Wait::Storage;
    out_.push_back(StartMessage{});
    return;
  }
  state_ = State::Bdat;
}

Actions ServerSession::onMessageStarted(BodySink& sink) {
  PETREL_ASSERT(wait_ == Wait::Storage);
  wait_ = Wait::None;
  if (closed_) return {};  // closed meanwhile; the AbortMessage was already sent
  sink_ = std::make_unique<CountingSink>(sink, settings_.max_message_size);
  LineChecks checks{settings_.max_text_line, settings_.normalize_bare_line_endings};
  if (envelope_.chunking) {
    chunk_scanner_ = std::make_unique<ChunkScanner>(checks, *sink_);
    state_ = State::Bdat;
  } else {
    dot_reader_ = std::make_unique<DotReader>(checks, *sink_);
    state_ = State::Data;
    reply(Reply(354, "", "End data with <CR><LF>.<CR><LF>"));
  }
  process();
  return std::move(out_);
}

bool ServerSession::processData() {
  size_t consumed = 0;
  ReadState st = dot_reader_->consume(in_, consumed);
  in_.erase(0, consumed);
  switch (st) {
    case ReadState::NeedMore:
      return false;
    case ReadState::BareLineEnding:
      finishBody(true);
      return true;
    case ReadState::Done:
      finishBody(false);
      return true;
  }
  return false;
}

bool ServerSession::processBdat() {
  size_t n = size_t(std::min<uint64_t>(bdat_remaining_, in_.size()));
  if (n > 0) {
    if (state_ == State::Bdat) chunk_scanner_->feed(std::string_view(in_).substr(0, n));
    in_.erase(0, n);
    bdat_remaining_ -= n;
    if (state_ == State::Bdat) bdat_octets_ += n;
  }
  if (bdat_remaining_ > 0) return false;
  if (state_ == State::BdatDiscard) {
    // The chunk arrived out of sequence; its octets are gone, the session goes on.
    state_ = bdat_return_state_;
    if (bdat_discard_reply_.code == 554) {
      reject(bdat_discard_reply_, "BDAT");
    } else {
      error(bdat_discard_reply_);
    }
    return true;
  }
  if (!bdat_last_) {
    state_ = State::Rcpt;
    reply(Reply(250, "2.0.0", fmt::format("{} octets received", bdat_octets_)));
    return true;
  }
  chunk_scanner_->finish();
  finishBody(chunk_scanner_->bareLineEnding() && !settings_.normalize_bare_line_endings);
  return true;
}

void ServerSession::finishBody(bool bare_line_ending) {
  bool too_long = envelope_.chunking ? chunk_scanner_->lineTooLong() : dot_reader_->lineTooLong();
  if (bare_line_ending) {
    out_.push_back(AbortMessage{});
    bdat_started_ = false;
    state_ = State::Ready;  // out of the body: resetTransaction() must not abort it again
    Reply r(554, "5.6.0", "Error: bare <LF> or <CR> received in message content");
    if (envelope_.chunking) {
      // BDAT framing is unambiguous, so the session can go on.
      reject(r, "END-OF-MESSAGE");
      resetTransaction();
    } else {
      // The rest of the DATA stream is ambiguous (SMTP smuggling): never read it as commands.
      out_.push_back(Rejected{"END-OF-MESSAGE", r, envelope_.mail.sender.text, {}});
      reply(r);
      close();
    }
    return;
  }
  if (sink_->over() || too_long) {
    out_.push_back(AbortMessage{});
    bdat_started_ = false;
    state_ = State::Ready;  // out of the body: resetTransaction() must not abort it again
    Reply r = sink_->over()
                  ? Reply(552, "5.3.4", "Error: message file too big")
                  : Reply(554, "5.6.0",
                          fmt::format("Error: message has a line longer than {} octets",
                                      settings_.max_text_line));
    reject(r, "END-OF-MESSAGE");
    resetTransaction();
    return;
  }
  envelope_.body_size = sink_->size();
  bdat_started_ = false;  // the stored body now belongs to the commit, not to this transaction
  state_ = State::Committing;
  wait_ = Wait::Commit;
  out_.push_back(CommitMessage{envelope_});
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
  if (inBody() || bdat_started_ || wait_ == Wait::Storage) out_.push_back(AbortMessage{});
  bdat_started_ = false;
  reply(Reply(421, "4.4.2", fmt::format("{} Error: timeout exceeded", settings_.hostname)));
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
  if (inBody() || bdat_started_ || wait_ == Wait::Storage) out_.push_back(AbortMessage{});
  closed_ = true;
  return std::move(out_);
}

void ServerSession::reply(const Reply& r) { out_.push_back(Send{r.wire()}); }

void ServerSession::error(const Reply& r) {
  reply(r);
  if (++errors_ >= settings_.max_errors && !closed_) {
    reply(Reply(421, "4.7.0", fmt::format("{} Error: too many errors", settings_.hostname)));
    resetTransaction();
    close();
  }
}

void ServerSession::reject(const Reply& r, std::string stage, std::string to) {
  out_.push_back(Rejected{std::move(stage), r, envelope_.mail.sender.text, std::move(to)});
  error(r);
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
