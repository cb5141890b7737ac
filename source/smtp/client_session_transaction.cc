// The mail transaction part of smtp::ClientSession: starting a job, building MAIL FROM and
// RCPT TO with their ESMTP parameters (SIZE, BODY, SMTPUTF8, RFC 3461 DSN with xtext and
// utf-8-addr-xtext encoding), XFORWARD before MAIL for a content filter, sending RCPTs in
// lockstep and reading the replies up to the end of DATA or BDAT. Reply reading, the
// handshake and the outcomes are in client_session.cc.
#include "petrel/smtp/client_session.h"

#include <fmt/format.h>

#include <algorithm>

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

namespace {

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

}  // namespace

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

namespace client {

std::vector<std::string> xforwardCommands(
    const std::vector<std::pair<std::string, std::string>>& attributes,
    const std::vector<std::string>& offered) {
  // Postfix's smtpd reads a command line of up to 512 octets (line_length_limit is larger,
  // but XFORWARD_README asks clients to stay under it): more attributes go on more lines.
  constexpr size_t MaxLine = 512;
  std::vector<std::string> lines;
  std::string line;
  for (const auto& [name, value] : attributes) {
    if (std::find(offered.begin(), offered.end(), name) == offered.end()) continue;
    // A value longer than a line would be cut by the peer: it is unavailable instead.
    std::string v = value.empty() ? "[UNAVAILABLE]" : encodeXtext(value);
    std::string item = fmt::format(" {}={}", name, v);
    if (item.size() + 10 + 2 > MaxLine) item = fmt::format(" {}=[UNAVAILABLE]", name);
    if (!line.empty() && line.size() + item.size() + 2 > MaxLine) {
      lines.push_back(line + "\r\n");
      line.clear();
    }
    if (line.empty()) line = "XFORWARD";
    line += item;
  }
  if (!line.empty()) lines.push_back(line + "\r\n");
  return lines;
}

}  // namespace client

std::vector<std::string> ClientSession::xforwardLines() const {
  if (job_.xforward.empty() || peer_.xforward.empty()) return {};
  return client::xforwardCommands(job_.xforward, peer_.xforward);
}
void ClientSession::beginJob(Job job) {
  job_ = std::move(job);
  job_active_ = true;
  rcpt_state_.assign(job_.recipients.size(), RcptState::Unsent);
  xforward_sent_ = 0;
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
    for (std::string& x : xforwardLines()) {
      batch += x;
      pending_.push_back({Expect::Xforward});
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

// Lockstep: the XFORWARD lines one by one (each answered by 250), then MAIL.
void ClientSession::sendMail() {
  if (xforward_sent_ < xforwardLines().size()) {
    send(xforwardLines()[xforward_sent_++]);
    pending_.push_back({Expect::Xforward});
    return;
  }
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
                                               "end of DATA", "XFORWARD"};
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
    case Expect::Xforward:
      if (cls != 2 && !mail_refused_) {
        // The filter refuses what we say about the client: a set-up problem at its side, so
        // the message waits (Postfix defers on a refused XFORWARD too).
        mail_refused_ = true;
        for (size_t i = 0; i < rcpt_state_.size(); ++i) {
          settle(i, RecipientStatus::Deferred, "", &r, command, "");
        }
      }
      if (!pipelined_ && !mail_refused_) sendMail();
      break;
    case Expect::Mail:
      if (mail_refused_) {
        // Pipelined after a refused XFORWARD: the transaction is not ours to use.
        if (cls == 2) rset_needed_ = true;
      } else if (cls == 2) {
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
        if (settings_.lmtp) {
          // RFC 2033 4.2: the dot would get one reply per accepted recipient, i.e. none, so
          // nothing tells us when the peer is back in step; every recipient is settled.
          protocolError("354 to DATA without an accepted recipient", &r, command);
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
  if (settings_.lmtp) {
    // RFC 2033 4.2: one reply per recipient accepted at RCPT, in the order of the RCPTs (ours
    // are in job order); each settles its own recipient. The job ends with the last one.
    size_t open = 0;
    for (size_t i = 0; i < rcpt_state_.size(); ++i) {
      if (rcpt_state_[i] != RcptState::Accepted) continue;
      if (open++ == 0) settleByReply(i, r, "end of DATA");
    }
    if (open > 1) return;
  } else {
    for (size_t i = 0; i < rcpt_state_.size(); ++i) {
      if (rcpt_state_[i] == RcptState::Accepted) settleByReply(i, r, "end of DATA");
    }
  }
  // RFC 5321 4.1.1.4: the end of data ends the transaction either way. An LMTP connection
  // still sends RSET before its next message, as Postfix's lmtp does with a cached connection:
  // a local server that went away is found before MAIL, not in the middle of a transaction.
  rset_needed_ = settings_.lmtp;
  finishJob();
}

}  // namespace petrel::smtp
