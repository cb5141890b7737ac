// SMTP client state machine; see client_session.h for the states and the driver contract.
#include "petrel/smtp/client_session.h"

#include <fmt/format.h>

#include "petrel/core/assert.h"
#include "petrel/core/strings.h"

namespace petrel::smtp {

using client::Actions;
using client::Job;
using client::Outcome;
using client::RecipientStatus;

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

// RFC 5321 4.5.3.1.5 says 512 octets per reply line; real servers send longer ones (long
// EHLO lines, verbose 5xx texts), so we take up to 4 KiB before calling the peer broken.
// Both limits bound what one reply can make us buffer.
constexpr size_t MaxReplyLine = 4096;
constexpr size_t MaxReplyLines = 128;

bool hasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool isAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

// Reply text goes into log lines and bounce messages: no control characters.
std::string sanitize(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\t') {
      c = ' ';
    } else if ((unsigned char)c < 0x20 || c == 0x7f) {
      c = '?';
    }
  }
  return out;
}

// "5.1.1" at the start of reply text whose class matches the reply code (RFC 3463, RFC 2034:
// status-code = class "." subject "." detail, subject and detail 1 to 3 digits).
size_t enhancedPrefix(std::string_view text, int code_class) {
  if (text.size() < 5 || text[0] != char('0' + code_class) || text[1] != '.') return 0;
  size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    size_t start = i;
    while (i < text.size() && i - start < 4 && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start || i - start > 3) return 0;
    if (part == 0) {
      if (i >= text.size() || text[i] != '.') return 0;
      ++i;
    }
  }
  if (i < text.size() && text[i] != ' ') return 0;
  return i;
}

// RFC 3461 4: xtext, "+HH" for '+', '=' and everything outside "!".."~".
std::string encodeXtext(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 33 && c <= 126 && c != '+' && c != '=') {
      out += char(c);
    } else {
      fmt::format_to(std::back_inserter(out), "+{:02X}", c);
    }
  }
  return out;
}

// RFC 6533 3: utf-8-addr-xtext, "\x{HEX}" for '+', '=', '\', controls and non-ASCII code
// points. A "\x{...}" already in the stored value (the sender wrote it so) is kept as it is.
std::optional<std::string> encodeUtf8AddrXtext(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    if (s.substr(i, 3) == "\\x{") {
      size_t end = s.find('}', i);
      if (end != std::string_view::npos && end - i - 3 >= 1 && end - i - 3 <= 6 &&
          s.substr(i + 3, end - i - 3).find_first_not_of("0123456789ABCDEFabcdef") ==
              std::string_view::npos) {
        out += s.substr(i, end + 1 - i);
        i = end + 1;
        continue;
      }
    }
    if (c < 0x80) {
      if (c > 0x20 && c < 0x7f && c != '+' && c != '=' && c != '\\') {
        out += char(c);
      } else {
        fmt::format_to(std::back_inserter(out), "\\x{{{:02X}}}", c);
      }
      ++i;
      continue;
    }
    // One UTF-8 sequence; anything malformed means we cannot say it correctly.
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (len == 0 || c > 0xf4 || i + len > s.size()) return std::nullopt;
    uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xc0) != 0x80) return std::nullopt;
      cp = cp << 6 | (cc & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return std::nullopt;
    }
    fmt::format_to(std::back_inserter(out), "\\x{{{:X}}}", cp);
    i += len;
  }
  return out;
}

// ORCPT= value (RFC 3461 4.2) from the stored "addr-type;address"; nullopt when it cannot be
// said correctly. ORCPT is optional, and a malformed one would make the peer refuse the
// recipient, so leaving it out is the safe failure.
std::optional<std::string> orcptParam(std::string_view stored) {
  size_t semi = stored.find(';');
  if (semi == std::string_view::npos || semi == 0 || semi + 1 == stored.size()) {
    return std::nullopt;
  }
  std::string_view type = stored.substr(0, semi), value = stored.substr(semi + 1);
  for (unsigned char c : type) {
    if (c <= 0x20 || c >= 0x7f || c == '=' || c == '+') return std::nullopt;
  }
  if (iequals(type, "utf-8")) {
    auto v = encodeUtf8AddrXtext(value);
    return v ? std::optional(fmt::format("{};{}", type, *v)) : std::nullopt;
  }
  if (isAscii(value)) return fmt::format("{};{}", type, encodeXtext(value));
  if (iequals(type, "rfc822")) {  // an rfc822 address is ASCII; a UTF-8 one is utf-8 type
    auto v = encodeUtf8AddrXtext(value);
    return v ? std::optional(fmt::format("utf-8;{}", *v)) : std::nullopt;
  }
  return std::nullopt;
}

// NOTIFY= value (RFC 3461 4.1) in upper case; nullopt when empty or not well formed.
std::optional<std::string> notifyParam(std::string_view stored) {
  if (stored.empty()) return std::nullopt;
  std::string out;
  bool never = false;
  size_t n = 0;
  for (auto item : split(stored, ',')) {
    if (iequals(item, "never")) {
      never = true;
    } else if (!iequals(item, "success") && !iequals(item, "failure") &&
               !iequals(item, "delay")) {
      return std::nullopt;
    }
    if (!out.empty()) out += ',';
    for (char c : item) out += char(std::toupper((unsigned char)c));
    ++n;
  }
  if (never && n > 1) return std::nullopt;
  return out;
}

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
  in_.append(bytes);
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
  while (state_ != State::Closed && !in_.empty()) {
    if (state_ == State::Handshake) {
      // RFC 3207 5: bytes after the 220 were sent before TLS existed; a real server sends
      // nothing until our ClientHello, so this is an injection (CVE-2011-0411, client side).
      protocolError("data after the reply to STARTTLS");
      return;
    }
    size_t nl = in_.find('\n');
    // Measured up to the LF (a CR before it counts), so any split of the input gives the same
    // verdict as the whole.
    if ((nl == std::string::npos && in_.size() > MaxReplyLine) ||
        (nl != std::string::npos && nl > MaxReplyLine)) {
      protocolError("reply line too long");
      return;
    }
    if (nl == std::string::npos) return;
    std::string line = in_.substr(0, nl);
    in_.erase(0, nl + 1);
    // A bare LF ends a reply line too (robustness: we only read what the peer says).
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!takeLine(line)) return;
  }
}

bool ClientSession::takeLine(std::string_view line) {
  // RFC 5321 4.2: Reply-code [ ("-" / SP) textstring ]; the first digit 2..5 (no 1yz in SMTP).
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (line.size() < 3 || !digit(line[0]) || !digit(line[1]) || !digit(line[2]) ||
      line[0] < '2' || line[0] > '5' || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
    protocolError(fmt::format("malformed reply line: {}", sanitize(line.substr(0, 100))));
    return false;
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  bool last = line.size() == 3 || line[3] == ' ';
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
  if (in_reply_ && code != partial_.code) {
    protocolError("reply code changes within a multi-line reply");
    return false;
  }
  if (!in_reply_) {
    partial_ = Reply();
    partial_.code = code;
    in_reply_ = true;
  }
  if (partial_.lines.size() >= MaxReplyLines) {
    protocolError("reply with too many lines");
    return false;
  }
  if (size_t n = enhancedPrefix(text, code / 100); n > 0) {
    if (partial_.enhanced.empty()) partial_.enhanced = std::string(text.substr(0, n));
    text.remove_prefix(n);
    if (!text.empty()) text.remove_prefix(1);
  }
  partial_.lines.push_back(sanitize(text));
  if (last) {
    in_reply_ = false;
    Reply r = std::move(partial_);
    partial_ = Reply();
    onReply(r);
  }
  return true;
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
  send(fmt::format("EHLO {}\r\n", settings_.helo_name));
  state_ = State::Ehlo;
}

void ClientSession::onEhlo(const Reply& r) {
  if (r.code == 421) {
    connectionFailed(&r, "EHLO", "", "", false);
    return;
  }
  if (r.code / 100 == 5) {
    // RFC 5321 3.2: an old server that does not know EHLO; fall back to HELO.
    send(fmt::format("HELO {}\r\n", settings_.helo_name));
    state_ = State::Helo;
    return;
  }
  if (r.code / 100 == 4) {
    connectionFailed(&r, "EHLO", "", "", true);
    return;
  }
  if (r.code != 250) {
    protocolError("unexpected reply to EHLO", &r, "EHLO");
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
    send(fmt::format("AUTH PLAIN {}\r\n", auth::encodeBase64(message)), true);
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
    send(fmt::format("{}\r\n", auth::encodeBase64(c.authcid)), true);
  } else if (r.code == 334 && auth_step_ == AuthStep::LoginUser) {
    auth_step_ = AuthStep::LoginPassword;
    send(fmt::format("{}\r\n", auth::encodeBase64(c.password)), true);
  } else if (r.code / 100 == 4 || r.code / 100 == 5) {
    // Deferred, also for 535: wrong credentials are our configuration, not the recipients'.
    connectionFailed(&r, "AUTH", "", "SASL authentication failed", true);
  } else {
    protocolError("unexpected reply to AUTH", &r, "AUTH");
  }
}

// --- The mail transaction ---

void ClientSession::beginJob(Job job) {
  job_ = std::move(job);
  job_active_ = true;
  rcpt_state_.assign(job_.recipients.size(), RcptState::Unsent);
  outcomes_.clear();
  for (const auto& r : job_.recipients) {
    Outcome o;
    o.recipient = r.recipient.text;
    outcomes_.push_back(std::move(o));
  }
}

void ClientSession::startTransaction() {
  PETREL_ASSERT(job_active_);
  mail_ok_ = false;
  mail_refused_ = false;
  accepted_ = 0;
  next_rcpt_ = 0;
  pending_.clear();
  auto open = [&] {
    size_t n = 0;
    for (auto s : rcpt_state_) n += s != RcptState::Done;
    return n;
  };
  auto bounceOpen = [&](const char* dsn, std::string detail) {
    for (size_t i = 0; i < rcpt_state_.size(); ++i) {
      settle(i, RecipientStatus::Bounced, dsn, nullptr, "", detail);
    }
  };

  // Addresses come from our own queue, which only holds what the server parser accepted;
  // still, a CR or LF here would inject a command, so they are refused rather than sent.
  if (hasControl(job_.sender.text)) {
    bounceOpen("5.1.7", "invalid sender address");
  }
  bool utf8 = job_.needs_smtputf8 || !isAscii(job_.sender.text);
  for (size_t i = 0; i < job_.recipients.size(); ++i) {
    const std::string& a = job_.recipients[i].recipient.text;
    if (a.empty() || hasControl(a)) {
      settle(i, RecipientStatus::Bounced, "5.1.3", nullptr, "", "invalid recipient address");
    }
    utf8 = utf8 || !isAscii(a);
  }
  if (utf8 && !peer_.smtputf8) {
    // RFC 6531 3.2: without SMTPUTF8 at the peer the message cannot go there as it is, and we
    // do not downgrade.
    bounceOpen("5.6.7", "SMTPUTF8 is required, but was not offered by the peer");
  }
  if (peer_.size_limit > 0 && job_.size > peer_.size_limit) {
    // RFC 1870 5: do not send what the peer has announced it will refuse.
    bounceOpen("5.3.4", fmt::format("message too big for peer: {} octets, its SIZE limit is {}",
                                    job_.size, peer_.size_limit));
  }
  if (open() == 0) {
    finishJob();
    return;
  }

  state_ = State::Transaction;
  pipelined_ = peer_.pipelining;
  if (pipelined_) {
    // RFC 2920 3.1: RSET, MAIL and RCPT may be grouped; DATA ends the group. The replies come
    // back in the order of the commands.
    std::string batch;
    if (rset_needed_) {
      batch += "RSET\r\n";
      pending_.push_back({Expect::Rset});
    }
    batch += mailCommand();
    pending_.push_back({Expect::Mail});
    for (size_t i = 0; i < rcpt_state_.size(); ++i) {
      if (rcpt_state_[i] == RcptState::Done) continue;
      batch += rcptCommand(i);
      rcpt_state_[i] = RcptState::Sent;
      pending_.push_back({Expect::Rcpt, i});
    }
    batch += "DATA\r\n";
    pending_.push_back({Expect::Data});
    send(std::move(batch));
  } else if (rset_needed_) {
    send("RSET\r\n");
    pending_.push_back({Expect::Rset});
  } else {
    sendMail();
  }
}

std::string ClientSession::mailCommand() const {
  std::string c = fmt::format("MAIL FROM:<{}>", job_.sender.text);
  if (peer_.size) fmt::format_to(std::back_inserter(c), " SIZE={}", job_.size);
  if (job_.is_8bit && peer_.eightbitmime) c += " BODY=8BITMIME";
  bool utf8 = job_.needs_smtputf8 || !isAscii(job_.sender.text);
  for (const auto& r : job_.recipients) utf8 = utf8 || !isAscii(r.recipient.text);
  if (utf8 && peer_.smtputf8) c += " SMTPUTF8";
  if (peer_.dsn) {
    if (iequals(job_.dsn_ret, "full") || iequals(job_.dsn_ret, "hdrs")) {
      c += iequals(job_.dsn_ret, "full") ? " RET=FULL" : " RET=HDRS";
    }
    if (!job_.dsn_envid.empty()) c += " ENVID=" + encodeXtext(job_.dsn_envid);
  }
  return c + "\r\n";
}

std::string ClientSession::rcptCommand(size_t i) const {
  const RcptParams& r = job_.recipients[i];
  std::string c = fmt::format("RCPT TO:<{}>", r.recipient.text);
  if (peer_.dsn) {
    if (auto n = notifyParam(r.dsn_notify)) c += " NOTIFY=" + *n;
    if (auto o = orcptParam(r.dsn_orcpt)) c += " ORCPT=" + *o;
  }
  return c + "\r\n";
}

void ClientSession::sendMail() {
  send(mailCommand());
  pending_.push_back({Expect::Mail});
}

// Lockstep: one RCPT per reply, then DATA when someone was accepted.
void ClientSession::sendNextRcpt() {
  while (next_rcpt_ < rcpt_state_.size() && rcpt_state_[next_rcpt_] == RcptState::Done) {
    ++next_rcpt_;
  }
  if (next_rcpt_ < rcpt_state_.size()) {
    send(rcptCommand(next_rcpt_));
    rcpt_state_[next_rcpt_] = RcptState::Sent;
    pending_.push_back({Expect::Rcpt, next_rcpt_});
    ++next_rcpt_;
  } else if (accepted_ > 0) {
    send("DATA\r\n");
    pending_.push_back({Expect::Data});
  } else {
    // Nobody accepted: no DATA. The transaction stays open at the peer; the next job sends
    // RSET first, and QUIT needs none.
    finishJob();
  }
}

void ClientSession::onTransactionReply(const Reply& r) {
  if (pending_.empty()) {
    PETREL_ASSERT(false);
    protocolError("unexpected reply", &r);
    return;
  }
  Pending p = pending_.front();
  pending_.pop_front();
  static constexpr std::string_view Names[] = {"RSET", "MAIL FROM", "RCPT TO", "DATA",
                                               "end of DATA"};
  std::string_view command = Names[int(p.what)];
  int cls = r.code / 100;
  if (r.code == 421) {
    // RFC 5321 3.8: the peer is closing the connection; nothing more will be answered.
    connectionFailed(&r, command, "", "", false);
    return;
  }
  switch (p.what) {
    case Expect::Rset:
      if (cls != 2) {
        protocolError("unexpected reply to RSET", &r, command);
        return;
      }
      rset_needed_ = false;
      if (!pipelined_) sendMail();
      break;
    case Expect::Mail:
      if (cls == 2) {
        mail_ok_ = true;
        rset_needed_ = true;
        if (!pipelined_) sendNextRcpt();
      } else if (cls == 4 || cls == 5) {
        mail_refused_ = true;
        for (size_t i = 0; i < rcpt_state_.size(); ++i) settleByReply(i, r, command);
      } else {
        protocolError("unexpected reply to MAIL FROM", &r, command);
        return;
      }
      break;
    case Expect::Rcpt:
      if (mail_refused_) {
        // RFC 2920 3.1: answers (503 ...) to RCPTs of a transaction that never began.
      } else if (cls == 2) {
        rcpt_state_[p.rcpt] = RcptState::Accepted;
        ++accepted_;
      } else if (cls == 4 || cls == 5) {
        settleByReply(p.rcpt, r, command);
      } else {
        protocolError("unexpected reply to RCPT TO", &r, command);
        return;
      }
      if (!pipelined_) sendNextRcpt();
      break;
    case Expect::Data:
      if (r.code == 354) {
        if (mail_ok_ && accepted_ > 0) {
          state_ = State::Body;
          out_.emplace_back(std::in_place_type<client::SendBody>);
          return;
        }
        // A pipelining peer that says 354 although it accepted nobody: end the empty message
        // (RFC 2920 3.1 leaves no other way back to a clean state).
        send(".\r\n");
        pending_.push_back({Expect::EmptyDot});
        return;
      }
      if (cls == 4 || cls == 5) {
        for (size_t i = 0; i < rcpt_state_.size(); ++i) {
          if (rcpt_state_[i] == RcptState::Accepted) settleByReply(i, r, command);
        }
      } else {
        protocolError("unexpected reply to DATA", &r, command);
        return;
      }
      break;
    case Expect::EmptyDot:
      rset_needed_ = false;  // the dot ended the transaction, whatever the peer thinks of it
      break;
  }
  if (state_ == State::Transaction && pending_.empty()) finishJob();
}

void ClientSession::onFinalReply(const Reply& r) {
  if (r.code == 421) {
    connectionFailed(&r, "end of DATA", "", "", false);
    return;
  }
  int cls = r.code / 100;
  if (cls != 2 && cls != 4 && cls != 5) {
    protocolError("unexpected reply to end of DATA", &r, "end of DATA");
    return;
  }
  for (size_t i = 0; i < rcpt_state_.size(); ++i) {
    if (rcpt_state_[i] == RcptState::Accepted) settleByReply(i, r, "end of DATA");
  }
  rset_needed_ = false;  // RFC 5321 4.1.1.4: the end of data ends the transaction either way
  finishJob();
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
  in_.clear();
  out_.emplace_back(std::in_place_type<client::Close>);
}

std::string_view ClientSession::currentCommand() const {
  switch (state_) {
    case State::Greeting: return "greeting";
    case State::Ehlo: return "EHLO";
    case State::Helo: return "HELO";
    case State::StartTls:
    case State::Handshake: return "STARTTLS";
    case State::Auth: return "AUTH";
    case State::Transaction:
      if (pending_.empty()) return "MAIL FROM";
      switch (pending_.front().what) {
        case Expect::Rset: return "RSET";
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

// --- DATA transparency ---

std::string DotStuffer::feed(std::string_view content) {
  std::string out;
  out.reserve(content.size() + content.size() / 64 + 4);
  size_t i = 0;
  if (pending_cr_ && !content.empty()) {
    // A CR ended the previous chunk: CRLF split across chunks, or a bare CR.
    pending_cr_ = false;
    out += "\r\n";
    line_start_ = true;
    if (content[0] == '\n') i = 1;
  }
  for (; i < content.size(); ++i) {
    char c = content[i];
    if (c == '\r') {
      if (i + 1 == content.size()) {
        pending_cr_ = true;
        break;
      }
      out += "\r\n";
      line_start_ = true;
      if (content[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";  // a bare LF: sent as a line ending the next hop cannot mistake
      line_start_ = true;
    } else {
      if (line_start_ && c == '.') out += '.';  // RFC 5321 4.5.2
      out += c;
      line_start_ = false;
    }
  }
  return out;
}

std::string DotStuffer::finish() {
  std::string out;
  if (pending_cr_) {
    out += "\r\n";
    pending_cr_ = false;
    line_start_ = true;
  }
  if (!line_start_) out += "\r\n";
  out += ".\r\n";
  line_start_ = true;
  return out;
}

std::string dotStuff(std::string_view content) {
  DotStuffer s;
  std::string out = s.feed(content);
  out += s.finish();
  return out;
}

}  // namespace petrel::smtp
