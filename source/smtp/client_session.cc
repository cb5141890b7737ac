// SMTP client state machine; see client_session.h for the states and the driver contract.
// This file holds the driver events, reply reading, the handshake (greeting, EHLO/HELO,
// STARTTLS, AUTH) and the outcomes; the mail transaction is in client_session_transaction.cc
// and DATA transparency (DotStuffer) in dot_stuffer.cc.
#include "petrel/core/base64.h"
#include "petrel/smtp/client_session.h"

#include <fmt/format.h>

#include "petrel/core/assert.h"
#include "petrel/core/strings.h"

#include "client_session_internal.h"

namespace petrel::smtp {

using client::Actions;
using client::Job;
using client::Outcome;
using client::RecipientStatus;

using client_session_detail::hasControl;
using client_session_detail::isAscii;

namespace client {
std::string_view toString(RecipientStatus s) {
  switch (s) {
    case RecipientStatus::Delivered: return "delivered";
    case RecipientStatus::Deferred: return "deferred";
    case RecipientStatus::Bounced: return "bounced";
  }
  return "?";
}
}  // namespace client

namespace {

// Reply text goes into log lines and bounce messages: no control characters.
std::string sanitize(std::string_view s) { return sanitizeReplyText(s); }

char statusClass(RecipientStatus s) {
  switch (s) {
    case RecipientStatus::Delivered: return '2';
    case RecipientStatus::Deferred: return '4';
    case RecipientStatus::Bounced: return '5';
  }
  return '4';
}

}  // namespace

ClientSession::ClientSession(client::Settings settings, Job job)
    : settings_(std::move(settings)), in_tls_(settings_.implicit_tls) {
  PETREL_ASSERT(!settings_.helo_name.empty() && !hasControl(settings_.helo_name) &&
                settings_.helo_name.find(' ') == std::string::npos);
  beginJob(std::move(job));
}

Actions ClientSession::onInput(std::string_view bytes) {
  if (state_ == State::Closed) return {};
  reader_.feed(bytes);
  process();
  return std::move(out_);
}

Actions ClientSession::onTlsStarted() {
  if (state_ != State::Handshake) {
    PETREL_ASSERT(state_ == State::Closed);
    return {};
  }
  // RFC 3207 4.2: everything learnt before TLS is forgotten; EHLO again.
  in_tls_ = true;
  sendEhlo();
  return std::move(out_);
}

Actions ClientSession::onTlsFailed(std::string_view why) {
  if (state_ != State::Handshake) {
    PETREL_ASSERT(state_ == State::Closed);
    return {};
  }
  connectionFailed(nullptr, "STARTTLS", "4.7.5",
                   fmt::format("TLS handshake failed: {}", sanitize(why)), false);
  return std::move(out_);
}

Actions ClientSession::onTimeout() {
  if (state_ == State::Closed) return {};
  if (state_ == State::Idle || state_ == State::Quit) {
    close();
  } else {
    connectionFailed(nullptr, currentCommand(), "4.4.2",
                     fmt::format("conversation timed out while waiting for {}", waitingFor()),
                     false);
  }
  return std::move(out_);
}

Actions ClientSession::onPeerClosed() {
  if (state_ == State::Closed) return {};
  if (state_ == State::Idle || state_ == State::Quit) {
    close();
  } else {
    connectionFailed(nullptr, currentCommand(), "4.4.2",
                     fmt::format("lost connection while waiting for {}", waitingFor()), false);
  }
  return std::move(out_);
}

Actions ClientSession::nextJob(Job job) {
  if (state_ != State::Idle) {
    // A driver bug; the job still gets its outcomes so no recipient is lost.
    client::JobResult r;
    for (const auto& rcpt : job.recipients) {
      Outcome o;
      o.recipient = rcpt.recipient.text;
      o.dsn = "4.3.0";
      o.detail = "connection not ready for another message";
      r.recipients.push_back(std::move(o));
    }
    return {std::move(r)};
  }
  beginJob(std::move(job));
  startTransaction();
  return std::move(out_);
}

Actions ClientSession::quit() {
  if (state_ == State::Closed) return {};
  if (state_ == State::Idle) {
    sendQuit();
  } else {
    // Mid-job (the driver is shutting down): the dialog cannot be ended cleanly from here.
    connectionFailed(nullptr, currentCommand(), "4.3.0", "delivery stopped before the end",
                     false);
  }
  return std::move(out_);
}

client::Phase ClientSession::phase() const {
  using client::Phase;
  switch (state_) {
    case State::Greeting: return Phase::Greeting;
    case State::Ehlo:
    case State::Helo: return Phase::Helo;
    case State::StartTls: return Phase::StartTls;
    case State::Handshake: return Phase::TlsHandshake;
    case State::Auth: return Phase::Auth;
    case State::Transaction:
      if (pending_.empty()) return Phase::Mail;
      switch (pending_.front().what) {
        case Expect::Rset: return Phase::Rset;
        case Expect::Mail: return Phase::Mail;
        case Expect::Rcpt: return Phase::Rcpt;
        case Expect::Data: return Phase::DataInit;
        case Expect::EmptyDot: return Phase::DataDone;
        case Expect::Xforward: return Phase::Mail;
      }
      return Phase::Mail;
    case State::Body: return Phase::DataDone;
    case State::Idle: return Phase::Idle;
    case State::Quit: return Phase::Quit;
    case State::Closed: return Phase::Closed;
  }
  return Phase::Closed;
}

// --- Reading replies ---

void ClientSession::process() {
  while (state_ != State::Closed && reader_.buffered() > 0) {
    if (state_ == State::Handshake) {
      // RFC 3207 5: bytes after the 220 were sent before TLS existed; a real server sends
      // nothing until our ClientHello, so this is an injection (CVE-2011-0411, client side).
      protocolError("data after the reply to STARTTLS");
      return;
    }
    std::optional<Reply> r = reader_.next();
    if (!r) {
      if (reader_.error()) protocolError(*reader_.error());
      return;
    }
    onReply(*r);
  }
}

void ClientSession::onReply(const Reply& r) {
  switch (state_) {
    case State::Greeting: onGreeting(r); break;
    case State::Ehlo: onEhlo(r); break;
    case State::Helo: onHelo(r); break;
    case State::StartTls: onStartTlsReply(r); break;
    case State::Auth: onAuthReply(r); break;
    case State::Transaction: onTransactionReply(r); break;
    case State::Body: onFinalReply(r); break;
    // Nothing asked: a 421 before the peer hangs up an idle connection (RFC 5321 3.8), or a
    // peer out of step. Either way the connection is done; no job is open.
    case State::Idle: close(); break;
    case State::Quit: close(); break;  // RFC 5321 4.1.1.10: whatever it says, we are done
    case State::Handshake:
    case State::Closed: PETREL_ASSERT(false); break;
  }
}

void ClientSession::onGreeting(const Reply& r) {
  if (r.code == 220) {
    sendEhlo();
  } else if (r.code / 100 == 4 || r.code / 100 == 5) {
    // RFC 5321 3.1: a 554 greeting still wants our QUIT; a 421 peer is already closing.
    // Deferred even for 5xx: a host that refuses to talk says nothing about the recipients.
    connectionFailed(&r, "greeting", "", "", r.code != 421);
  } else {
    protocolError("unexpected greeting", &r, "greeting");
  }
}

void ClientSession::sendEhlo() {
  peer_ = client::PeerExtensions();
  send(fmt::format("{} {}\r\n", settings_.lmtp ? "LHLO" : "EHLO", settings_.helo_name));
  state_ = State::Ehlo;
}

void ClientSession::onEhlo(const Reply& r) {
  std::string_view command = settings_.lmtp ? "LHLO" : "EHLO";
  if (r.code == 421) {
    connectionFailed(&r, command, "", "", false);
    return;
  }
  if (r.code / 100 == 5 && settings_.lmtp) {
    // RFC 2033 4.1: LMTP has no HELO to fall back to.
    connectionFailed(&r, command, "", "", true);
    return;
  }
  if (r.code / 100 == 5) {
    // RFC 5321 3.2: an old server that does not know EHLO; fall back to HELO.
    send(fmt::format("HELO {}\r\n", settings_.helo_name));
    state_ = State::Helo;
    return;
  }
  if (r.code / 100 == 4) {
    connectionFailed(&r, command, "", "", true);
    return;
  }
  if (r.code != 250) {
    protocolError(fmt::format("unexpected reply to {}", command), &r, command);
    return;
  }
  peer_.esmtp = true;
  peer_.name = std::string(split(r.lines.empty() ? "" : r.lines[0], ' ')[0]);
  for (size_t i = 1; i < r.lines.size(); ++i) {
    std::string_view l = trim(r.lines[i]);
    size_t sp = l.find_first_of(" =");
    std::string keyword = toLower(l.substr(0, sp));
    std::string_view args = sp == std::string_view::npos ? "" : trim(l.substr(sp + 1));
    if (keyword == "pipelining") {
      peer_.pipelining = true;
    } else if (keyword == "size") {
      peer_.size = true;
      // A limit we cannot read is no limit: the peer's final reply still decides.
      peer_.size_limit = parseUnsigned(args).value_or(0);
    } else if (keyword == "8bitmime") {
      peer_.eightbitmime = true;
    } else if (keyword == "smtputf8") {
      peer_.smtputf8 = true;
    } else if (keyword == "starttls") {
      peer_.starttls = true;
    } else if (keyword == "chunking") {
      peer_.chunking = true;
    } else if (keyword == "dsn") {
      peer_.dsn = true;
    } else if (keyword == "enhancedstatuscodes") {
      peer_.enhanced_status_codes = true;
    } else if (keyword == "xforward") {
      for (auto name : split(args, ' ')) {
        if (name.empty()) continue;
        std::string upper;
        for (char c : name) upper += char(std::toupper((unsigned char)c));
        peer_.xforward.push_back(std::move(upper));
      }
    } else if (keyword == "auth") {
      // "AUTH PLAIN LOGIN", and the pre-RFC "AUTH=PLAIN LOGIN" some servers still send.
      for (auto m : split(args, ' ')) {
        if (m.empty()) continue;
        std::string upper;
        for (char c : m) upper += char(std::toupper((unsigned char)c));
        bool known = false;
        for (const auto& a : peer_.auth) known = known || a == upper;
        if (!known) peer_.auth.push_back(upper);
      }
    }
  }
  afterHelo();
}

void ClientSession::onHelo(const Reply& r) {
  if (r.code == 250) {
    peer_ = client::PeerExtensions();
    peer_.name = std::string(split(r.lines.empty() ? "" : r.lines[0], ' ')[0]);
    afterHelo();
  } else if (r.code / 100 == 4 || r.code / 100 == 5) {
    connectionFailed(&r, "HELO", "", "", r.code != 421);
  } else {
    protocolError("unexpected reply to HELO", &r, "HELO");
  }
}

void ClientSession::afterHelo() {
  using client::TlsPolicy;
  if (!in_tls_ && settings_.tls != TlsPolicy::None) {
    if (peer_.starttls) {
      send("STARTTLS\r\n");
      state_ = State::StartTls;
      return;
    }
    if (settings_.tls == TlsPolicy::Encrypt || settings_.tls == TlsPolicy::Verify) {
      connectionFailed(nullptr, "EHLO", "4.7.4", "TLS is required, but was not offered by the peer",
                       true);
      return;
    }
  }
  if (settings_.credentials && !authenticated_) {
    startAuth();
    return;
  }
  startTransaction();
}

void ClientSession::onStartTlsReply(const Reply& r) {
  using client::TlsPolicy;
  if (r.code == 220) {
    state_ = State::Handshake;
    out_.emplace_back(std::in_place_type<client::StartTls>);
    return;
  }
  if (r.code == 421) {
    connectionFailed(&r, "STARTTLS", "", "", false);
    return;
  }
  if (r.code / 100 != 4 && r.code / 100 != 5) {
    protocolError("unexpected reply to STARTTLS", &r, "STARTTLS");
    return;
  }
  if (settings_.tls == TlsPolicy::May) {
    // Opportunistic: a refused STARTTLS leaves us where we were (RFC 3207 4: the session
    // state is unchanged), in plaintext.
    if (settings_.credentials && !authenticated_) {
      startAuth();
    } else {
      startTransaction();
    }
    return;
  }
  connectionFailed(&r, "STARTTLS", "4.7.4", "TLS is required, but STARTTLS was refused", true);
}

void ClientSession::startAuth() {
  if (!in_tls_ && !settings_.auth_plaintext) {
    connectionFailed(nullptr, "EHLO", "4.7.0",
                     "AUTH credentials are configured, but TLS is not active and plaintext "
                     "AUTH is not allowed",
                     true);
    return;
  }
  bool plain = false, login = false;
  for (const auto& m : peer_.auth) {
    plain = plain || m == "PLAIN";
    login = login || m == "LOGIN";
  }
  if (!plain && !login) {
    connectionFailed(nullptr, "EHLO", "4.7.0",
                     peer_.auth.empty()
                         ? "AUTH credentials are configured, but the peer does not offer AUTH"
                         : "the peer offers no AUTH mechanism we support (PLAIN, LOGIN)",
                     true);
    return;
  }
  state_ = State::Auth;
  const auth::Credentials& c = *settings_.credentials;
  if (plain) {
    // RFC 4616 2: authzid NUL authcid NUL passwd, as the initial response (RFC 4954 4).
    std::string message = c.authzid;
    message.push_back('\0');
    message += c.authcid;
    message.push_back('\0');
    message += c.password;
    auth_step_ = AuthStep::Plain;
    send(fmt::format("AUTH PLAIN {}\r\n", base64Encode(message)), true);
  } else {
    auth_step_ = AuthStep::LoginStart;
    send("AUTH LOGIN\r\n");
  }
}

void ClientSession::onAuthReply(const Reply& r) {
  if (r.code == 421) {
    connectionFailed(&r, "AUTH", "", "", false);
    return;
  }
  const auth::Credentials& c = *settings_.credentials;
  if (r.code == 235 &&
      (auth_step_ == AuthStep::Plain || auth_step_ == AuthStep::LoginPassword)) {
    authenticated_ = true;
    startTransaction();
  } else if (r.code == 334 && auth_step_ == AuthStep::LoginStart) {
    // LOGIN asks for the user name, then the password; the challenge texts say so in base64
    // ("Username:", "Password:") but every client goes by the order.
    auth_step_ = AuthStep::LoginUser;
    send(fmt::format("{}\r\n", base64Encode(c.authcid)), true);
  } else if (r.code == 334 && auth_step_ == AuthStep::LoginUser) {
    auth_step_ = AuthStep::LoginPassword;
    send(fmt::format("{}\r\n", base64Encode(c.password)), true);
  } else if (r.code / 100 == 4 || r.code / 100 == 5) {
    // Deferred, also for 535: wrong credentials are our configuration, not the recipients'.
    connectionFailed(&r, "AUTH", "", "SASL authentication failed", true);
  } else {
    protocolError("unexpected reply to AUTH", &r, "AUTH");
  }
}

// --- Outcomes and endings ---

void ClientSession::send(std::string bytes, bool secret) {
  out_.emplace_back(client::Send{std::move(bytes), secret});
}

void ClientSession::settle(size_t i, RecipientStatus status, std::string dsn, const Reply* reply,
                           std::string_view command, std::string detail, bool host_failure) {
  if (rcpt_state_[i] == RcptState::Done) return;
  rcpt_state_[i] = RcptState::Done;
  Outcome& o = outcomes_[i];
  o.status = status;
  if (dsn.empty()) {
    // The peer's enhanced code when it gave one, in the class of what we decided (a 554
    // greeting defers: 4.x.x).
    dsn = reply != nullptr && !reply->enhanced.empty() ? reply->enhanced : "X.0.0";
  }
  dsn[0] = statusClass(status);
  o.dsn = std::move(dsn);
  if (reply != nullptr) o.reply = *reply;
  o.command = std::string(command);
  o.detail = std::move(detail);
  o.host_failure = host_failure;
}

void ClientSession::settleByReply(size_t i, const Reply& r, std::string_view command) {
  int cls = r.code / 100;
  RecipientStatus s = cls == 2   ? RecipientStatus::Delivered
                      : cls == 5 ? RecipientStatus::Bounced
                                 : RecipientStatus::Deferred;
  settle(i, s, "", &r, command, "");
}

void ClientSession::finishJob() {
  PETREL_ASSERT(job_active_);
  client::JobResult result;
  result.recipients = std::move(outcomes_);
  result.peer_dsn = peer_.dsn;
  for ([[maybe_unused]] auto s : rcpt_state_) PETREL_ASSERT(s == RcptState::Done);
  outcomes_.clear();
  rcpt_state_.clear();
  pending_.clear();
  job_active_ = false;
  state_ = State::Idle;
  out_.push_back(std::move(result));
}

void ClientSession::connectionFailed(const Reply* r, std::string_view command, std::string dsn,
                                     std::string detail, bool quit) {
  if (job_active_) {
    for (size_t i = 0; i < rcpt_state_.size(); ++i) {
      settle(i, RecipientStatus::Deferred, dsn, r, command, detail, true);
    }
    finishJob();
  }
  if (quit) {
    sendQuit();
  } else {
    close();
  }
}

void ClientSession::protocolError(std::string detail, const Reply* r, std::string_view command) {
  // Out of step with the peer: nothing it says can be trusted to match our commands, so no
  // QUIT either.
  connectionFailed(r, command.empty() ? currentCommand() : command, "4.4.2",
                   "protocol error: " + detail, false);
}

void ClientSession::sendQuit() {
  send("QUIT\r\n");
  state_ = State::Quit;
}

void ClientSession::close() {
  state_ = State::Closed;
  reader_.clear();
  out_.emplace_back(std::in_place_type<client::Close>);
}

std::string_view ClientSession::currentCommand() const {
  switch (state_) {
    case State::Greeting: return "greeting";
    case State::Ehlo: return settings_.lmtp ? "LHLO" : "EHLO";
    case State::Helo: return "HELO";
    case State::StartTls:
    case State::Handshake: return "STARTTLS";
    case State::Auth: return "AUTH";
    case State::Transaction:
      if (pending_.empty()) return "MAIL FROM";
      switch (pending_.front().what) {
        case Expect::Rset: return "RSET";
        case Expect::Xforward: return "XFORWARD";
        case Expect::Mail: return "MAIL FROM";
        case Expect::Rcpt: return "RCPT TO";
        case Expect::Data: return "DATA";
        case Expect::EmptyDot: return "end of DATA";
      }
      return "MAIL FROM";
    case State::Body: return "end of DATA";
    case State::Idle: return "";
    case State::Quit: return "QUIT";
    case State::Closed: return "";
  }
  return "";
}

std::string ClientSession::waitingFor() const {
  if (state_ == State::Greeting) return "the greeting";
  if (state_ == State::Handshake) return "the TLS handshake";
  return fmt::format("the reply to {}", currentCommand());
}

}  // namespace petrel::smtp
