// libFuzzer target for smtp::ClientSession: arbitrary server reply bytes, split into arbitrary
// reads, with driver events (timeouts, closes, TLS handshakes, further jobs, QUIT) in between.
//
// Besides crashes and sanitizer reports it aborts on:
//   - any action after Close;
//   - a job without exactly one JobResult, or a JobResult without one outcome per recipient in
//     the job's order, a dsn whose class does not match the status, "delivered" without
//     SendBody, an outcome without a reply or a reason; every job must be settled once the
//     session is told the peer went away;
//   - a command that is not CRLF-clean, has control characters or is over 512 octets (AUTH:
//     12288); a recipient address with CR LF reaching the wire (command injection);
//   - an AUTH payload in plaintext without auth_plaintext; STARTTLS under tls=none or inside
//     TLS; SendBody without DATA; MAIL with a SIZE over the peer's announced limit, or for a
//     message needing SMTPUTF8 to a peer without it;
//   - more than one reply line of buffered input;
//   - a difference between feeding the reads as given and feeding every byte on its own.
//
// Input: 3 bytes of settings and job shape, then server bytes. 0xFF starts an event:
// 0xFF 't' timeout, 'p' peer closed, 's' TLS started, 'f' TLS failed, 'n' next job (when idle),
// 'q' quit, 0xFF 0xFF a literal 0xFF byte, 0xFF and anything else a read boundary.
//   byte 0: bits 0-1 tls policy (none, may, encrypt, verify), bit 2 implicit TLS,
//           bit 3 credentials, bit 4 plaintext AUTH allowed, bit 5 LMTP (RFC 2033)
//   byte 1: bits 0-2 recipients (0..4), bit 3 8-bit, bit 4 needs SMTPUTF8, bit 5 a non-ASCII
//           recipient, bit 6 DSN parameters, bit 7 a recipient with CR LF in it
//   byte 2: message size: 0, 100, 1000, 10000 or 10 MB
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/smtp/client_session.h"
#include "session_transcript.h"

namespace {

using namespace petrel::smtp;
using petrel::smtp::testing::escapeBytes;

struct Op {
  enum Kind { Feed, Timeout, PeerClosed, TlsStarted, TlsFailed, NextJob, Quit } kind = Feed;
  std::string bytes;
};

constexpr size_t MaxReplyLine = 4096;  // client_session.cc

[[noreturn]] void fail(const std::string& what, const std::string& transcript) {
  std::fprintf(stderr, "smtp_client_fuzz: %s\n--- transcript ---\n%s\n", what.c_str(),
               transcript.c_str());
  std::abort();
}

client::Job makeJob(uint8_t shape, uint64_t size, int serial) {
  client::Job j;
  j.sender.text = serial % 2 ? "" : "alice@example.test";
  j.size = size;
  j.is_8bit = shape & 8;
  j.needs_smtputf8 = shape & 16;
  if (shape & 64) {
    j.dsn_ret = "HDRS";
    j.dsn_envid = "id+1=2 \x01";
  }
  int n = (shape & 7) % 5;
  for (int i = 0; i < n; ++i) {
    RcptParams r;
    r.recipient.text = "r" + std::to_string(i) + "@example.org";
    if (i == 1 && (shape & 32)) r.recipient.text = "j\xc3\xb6ran@example.org";
    if (i == 2 && (shape & 128)) r.recipient.text = "x@example.org>\r\nRSET\r\nRCPT TO:<victim@x";
    if (shape & 64) {
      r.dsn_notify = i == 0 ? "SUCCESS,FAILURE" : "never";
      r.dsn_orcpt = "rfc822;" + r.recipient.text;
    }
    j.recipients.push_back(std::move(r));
  }
  return j;
}

class Checker {
 public:
  Checker(const client::Settings& s, const ClientSession& session)
      : settings_(s), session_(session), tls_(s.implicit_tls) {}

  void jobStarted(const client::Job& j) {
    jobs_.push_back(j);
    data_sent_ = false;
    body_sent_ = false;
  }
  void tlsStarted() { tls_ = true; }

  void record(const client::Actions& actions) {
    for (const auto& a : actions) {
      if (closed_) problem("action after Close");
      std::visit([&](const auto& x) { on(x); }, a);
    }
    if (!session_.closed() && session_.bufferedInput() > MaxReplyLine + 1) {
      problem("buffers more than a reply line: " + std::to_string(session_.bufferedInput()));
    }
  }
  void note(const std::string& s) { text_ += s + "\n"; }
  void problem(const std::string& what) {
    note("!! " + what);
    ++problems_;
  }
  size_t openJobs() const { return jobs_.size(); }
  int problems() const { return problems_; }
  const std::string& text() const { return text_; }

 private:
  void on(const client::Send& s) {
    note(std::string("> ") + escapeBytes(s.bytes) + (s.secret ? " (secret)" : ""));
    if (s.bytes.empty()) problem("empty Send");
    if (s.secret && !tls_ && !settings_.auth_plaintext) problem("AUTH payload in plaintext");
    if (s.bytes.find("victim") != std::string::npos) problem("injected command reached the wire");
    std::string_view rest = s.bytes;
    while (!rest.empty()) {
      size_t end = rest.find("\r\n");
      if (end == std::string_view::npos) {
        problem("command not CRLF-terminated");
        return;
      }
      std::string_view l = rest.substr(0, end);
      rest.remove_prefix(end + 2);
      for (unsigned char c : l) {
        if (c < 0x20 || c == 0x7f) {
          problem("control character in a command");
          break;
        }
      }
      bool auth = s.secret || l.starts_with("AUTH ");
      if (l.size() + 2 > (auth ? 12288u : 512u)) problem("command line too long");
      if (l == "DATA") data_sent_ = true;
      if (l.starts_with("MAIL FROM:") && !jobs_.empty()) {
        const client::Job& j = jobs_.front();
        const auto& peer = session_.peer();
        if (peer.size_limit > 0 && j.size > peer.size_limit) problem("MAIL over the SIZE limit");
        bool utf8 = j.needs_smtputf8;
        for (const auto& r : j.recipients) {
          for (unsigned char c : r.recipient.text) utf8 = utf8 || c >= 0x80;
        }
        if (utf8 && !peer.smtputf8) problem("MAIL needing SMTPUTF8 to a peer without it");
      }
    }
  }
  void on(const client::StartTls&) {
    note("STARTTLS");
    if (tls_) problem("STARTTLS inside TLS");
    if (settings_.tls == client::TlsPolicy::None) problem("STARTTLS under tls=none");
  }
  void on(const client::SendBody&) {
    note("SEND-BODY");
    if (!data_sent_ || body_sent_) problem("SendBody without DATA, or twice");
    body_sent_ = true;
  }
  void on(const client::JobResult& r) {
    note("RESULT");
    if (jobs_.empty()) {
      problem("JobResult without a job");
      return;
    }
    client::Job j = std::move(jobs_.front());
    jobs_.pop_front();
    if (r.recipients.size() != j.recipients.size()) problem("outcome count");
    for (size_t i = 0; i < r.recipients.size(); ++i) {
      const auto& o = r.recipients[i];
      note("  <" + escapeBytes(o.recipient) + "> " + std::string(toString(o.status)) + " " +
           o.dsn + " " + (o.reply ? escapeBytes(o.reply->oneLine()) : "") + " " +
           escapeBytes(o.detail));
      if (i < j.recipients.size() && o.recipient != j.recipients[i].recipient.text) {
        problem("outcome order");
      }
      char cls = o.status == client::RecipientStatus::Delivered  ? '2'
                 : o.status == client::RecipientStatus::Deferred ? '4'
                                                                 : '5';
      if (o.dsn.size() < 5 || o.dsn[0] != cls || o.dsn[1] != '.') problem("dsn class");
      if (o.status == client::RecipientStatus::Delivered && !body_sent_) {
        problem("delivered without a body");
      }
      if (!o.reply && o.detail.empty()) problem("outcome without a reason");
    }
  }
  void on(const client::Close&) {
    note("CLOSE");
    closed_ = true;
    if (!jobs_.empty()) problem("Close with a job open");
  }

  client::Settings settings_;
  const ClientSession& session_;
  bool tls_;
  bool closed_ = false;
  bool data_sent_ = false;
  bool body_sent_ = false;
  std::deque<client::Job> jobs_;
  std::string text_;
  int problems_ = 0;
};

struct Run {
  std::string transcript;
  int problems = 0;
};

Run run(const client::Settings& settings, uint8_t shape, uint64_t size, const std::vector<Op>& ops,
        bool byte_by_byte) {
  int serial = 0;
  client::Job first = makeJob(shape, size, serial++);
  ClientSession session(settings, first);
  Checker c(settings, session);
  c.jobStarted(first);
  for (const Op& op : ops) {
    switch (op.kind) {
      case Op::Feed:
        c.note("S+: " + escapeBytes(op.bytes));
        if (byte_by_byte) {
          for (char ch : op.bytes) c.record(session.onInput(std::string_view(&ch, 1)));
        } else {
          c.record(session.onInput(op.bytes));
        }
        break;
      case Op::Timeout:
        c.note("D: timeout");
        c.record(session.onTimeout());
        break;
      case Op::PeerClosed:
        c.note("D: closed");
        c.record(session.onPeerClosed());
        break;
      // Only a driver that was told StartTls reports on the handshake (or one that learns of
      // it after the session closed, which the session ignores).
      case Op::TlsStarted:
        if (session.phase() == client::Phase::TlsHandshake || session.closed()) {
          c.note("D: tls started");
          if (!session.closed()) c.tlsStarted();
          c.record(session.onTlsStarted());
        }
        break;
      case Op::TlsFailed:
        if (session.phase() == client::Phase::TlsHandshake || session.closed()) {
          c.note("D: tls failed");
          c.record(session.onTlsFailed("handshake failure"));
        }
        break;
      case Op::NextJob:
        if (session.idle()) {
          c.note("J: next");
          client::Job j = makeJob(shape, size, serial++);
          c.jobStarted(j);
          c.record(session.nextJob(std::move(j)));
        }
        break;
      case Op::Quit:
        c.note("D: quit");
        c.record(session.quit());
        break;
    }
  }
  // However the dialog ended, a lost connection settles everything.
  c.record(session.onPeerClosed());
  if (!session.closed()) c.problem("not closed after the peer went away");
  if (c.openJobs() != 0) c.problem("a job never got its JobResult");
  return {c.text(), c.problems()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  client::Settings settings;
  settings.helo_name = "client.example.test";
  static constexpr client::TlsPolicy Policies[] = {client::TlsPolicy::None, client::TlsPolicy::May,
                                                   client::TlsPolicy::Encrypt,
                                                   client::TlsPolicy::Verify};
  settings.tls = Policies[data[0] & 3];
  settings.implicit_tls = data[0] & 4;
  if (data[0] & 8) settings.credentials = petrel::auth::Credentials{"", "user", "secret"};
  settings.auth_plaintext = data[0] & 16;
  settings.lmtp = data[0] & 32;
  uint8_t shape = data[1];
  static constexpr uint64_t Sizes[] = {0, 100, 1000, 10000, 10 * 1024 * 1024};
  uint64_t message_size = Sizes[(data[2] & 7) % 5];

  std::vector<Op> ops(1);
  for (size_t i = 3; i < size; ++i) {
    if (data[i] != 0xff) {
      ops.back().bytes += char(data[i]);
      continue;
    }
    if (++i == size) break;
    Op::Kind kind;
    switch (data[i]) {
      case 0xff: ops.back().bytes += char(0xff); continue;
      case 't': kind = Op::Timeout; break;
      case 'p': kind = Op::PeerClosed; break;
      case 's': kind = Op::TlsStarted; break;
      case 'f': kind = Op::TlsFailed; break;
      case 'n': kind = Op::NextJob; break;
      case 'q': kind = Op::Quit; break;
      default: ops.emplace_back(); continue;  // read boundary
    }
    ops.push_back(Op{kind, {}});
    ops.emplace_back();
  }

  Run whole = run(settings, shape, message_size, ops, false);
  if (whole.problems > 0) fail("contract broken", whole.transcript);
  Run bytes = run(settings, shape, message_size, ops, true);
  if (bytes.problems > 0) fail("contract broken (byte by byte)", bytes.transcript);
  if (whole.transcript != bytes.transcript) {
    fail("byte-by-byte run differs", whole.transcript + "\n--- byte by byte ---\n" +
                                          bytes.transcript);
  }
  return 0;
}
