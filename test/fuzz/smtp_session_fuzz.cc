// libFuzzer target for smtp::ServerSession: arbitrary client bytes, split into arbitrary reads,
// with timeouts, shutdowns and peer closes in between. The driver answers every AskVerdict,
// StartMessage and CommitMessage at once, deterministically from the content (addresses with
// "bad" are refused, "tmp" tempfailed; senders with "fail" get a failed commit).
//
// Besides crashes and sanitizer reports it aborts on:
//   - a broken driver contract (Transcript's "!!" lines: Send after Close, ABORT without a
//     message, COMMIT size != stored octets, malformed or overlong reply lines ...);
//   - a difference between feeding the reads as given and feeding every byte on its own
//     (but for the improper-pipelining flag, which depends on the split by design);
//   - a committed message with a bare CR or LF, a line over max_text_line, more recipients than
//     max_recipients, or a non-ASCII address without SMTPUTF8, or control characters in an
//     address or DSN value;
//   - an open session that keeps more than one line of unprocessed input.
//
// Input: 4 bytes of settings, then client bytes. 0xFF starts an event: 0xFF 't' timeout,
// 0xFF 's' shutdown, 0xFF 'p' peer closed, 0xFF 0xFF a literal 0xFF byte, 0xFF and anything
// else a read boundary. So a plain SMTP dialog (with the 4-byte header) is a valid seed.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/smtp/server_session.h"
#include "session_transcript.h"

namespace {

using namespace petrel::smtp;
using petrel::smtp::testing::MemorySink;
using petrel::smtp::testing::Transcript;

struct Op {
  enum Kind { Feed, Timeout, Shutdown, PeerClosed } kind = Feed;
  std::string bytes;
};

[[noreturn]] void fail(const std::string& what, const std::string& transcript) {
  std::fprintf(stderr, "smtp_session_fuzz: %s\n--- transcript ---\n%s\n", what.c_str(),
               transcript.c_str());
  std::abort();
}

bool contains(std::string_view s, std::string_view what) {
  return s.find(what) != std::string_view::npos;
}

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

// Checks a committed message against the settings; returns what is wrong, or "".
std::string checkCommit(const Envelope& e, const std::string& body, const SessionSettings& s) {
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r' && (i + 1 == body.size() || body[i + 1] != '\n')) return "bare CR stored";
    if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r')) return "bare LF stored";
  }
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find("\r\n", start);
    size_t len = end == std::string::npos ? body.size() - start + 2 : end - start + 2;
    if (len > s.max_text_line) return "stored line longer than max_text_line";
    if (end == std::string::npos) break;
    start = end + 2;
  }
  if (!e.chunking && !body.empty() && !body.ends_with("\r\n")) return "DATA body without CRLF";
  if (e.recipients.empty() || e.recipients.size() > s.max_recipients) return "recipient count";
  std::vector<std::string_view> addrs = {e.mail.sender.text};
  for (const auto& r : e.recipients) addrs.push_back(r.params.recipient.text);
  for (std::string_view a : addrs) {
    if (hasControl(a)) return "control character in an address";
    if (!e.mail.smtputf8 && !isAscii(a)) return "non-ASCII address without SMTPUTF8";
  }
  if (hasControl(e.mail.dsn_envid) || !isAscii(e.mail.dsn_envid)) return "bad ENVID kept";
  for (const auto& r : e.recipients) {
    if (hasControl(r.params.dsn_orcpt)) return "control character in ORCPT";
  }
  return "";
}

struct Run {
  std::string transcript;
  int problems = 0;
};

Run run(const SessionSettings& settings, const std::vector<Op>& ops, bool byte_by_byte) {
  ServerSession session(settings);
  Transcript t;
  std::vector<std::unique_ptr<MemorySink>> sinks;
  int queue_ids = 0;
  auto sink = [&]() -> const MemorySink* { return sinks.empty() ? nullptr : sinks.back().get(); };

  // Records `actions` and answers what they ask for, until the session waits for input.
  auto handle = [&](Actions actions) {
    while (!actions.empty()) {
      t.record(actions, sink());
      Actions next;
      for (const Action& a : actions) {
        if (const auto* c = std::get_if<AskVerdict>(&a)) {
          Verdict v = Verdict::accept({c->address});
          if (contains(c->address, "bad")) {
            v = Verdict::refuse(Reply(550, "5.1.1", "User unknown"));
          } else if (contains(c->address, "tmp")) {
            v = Verdict::refuse(Reply(451, "4.3.0", "Temporary lookup failure"));
          }
          t.answeredCheck();
          next = session.onVerdict(std::move(v));
        } else if (std::holds_alternative<StartMessage>(a)) {
          sinks.push_back(std::make_unique<MemorySink>());
          t.answeredStart();
          next = session.onMessageStarted(*sinks.back());
        } else if (const auto* c = std::get_if<CommitMessage>(&a)) {
          std::string why = checkCommit(c->envelope, sink()->data, settings);
          if (!why.empty()) t.problem(why);
          t.answeredCommit();
          if (contains(c->envelope.mail.sender.text, "fail")) {
            next = session.onCommitFailed(Reply(451, "4.3.0", "Error: queue file write error"));
          } else {
            next = session.onCommitted("Q" + std::to_string(++queue_ids));
          }
        }
      }
      actions = std::move(next);
    }
    // An AUTH command line or SASL response may be up to 12288 octets (RFC 4954 4).
    constexpr uint32_t MaxAuthLine = 12288;
    if (!session.closed() &&
        session.bufferedInput() >
            std::max({settings.max_command_line, settings.max_text_line, MaxAuthLine})) {
      t.problem("open session buffers more than a line: " +
                std::to_string(session.bufferedInput()));
    }
  };

  handle(session.start());
  for (const Op& op : ops) {
    switch (op.kind) {
      case Op::Feed:
        t.note("C+: " + petrel::smtp::testing::escapeBytes(op.bytes));
        if (byte_by_byte) {
          for (char c : op.bytes) handle(session.onInput(std::string_view(&c, 1)));
        } else {
          handle(session.onInput(op.bytes));
        }
        break;
      case Op::Timeout:
        t.note("T: timeout");
        handle(session.onTimeout());
        break;
      case Op::Shutdown:
        t.note("X: shutdown");
        handle(session.onShutdown());
        break;
      case Op::PeerClosed:
        t.note("P: peer closed");
        handle(session.onPeerClosed());
        break;
    }
  }
  return {t.text(), t.problems()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  SessionSettings settings;
  settings.hostname = "mx.example.test";
  settings.banner = "mx.example.test ESMTP";
  // Small limits so the fuzzer reaches them; byte 3 picks message size and line limits.
  settings.normalize_bare_line_endings = data[0] & 1;
  settings.vrfy = data[0] & 2;
  settings.max_recipients = 1 + (data[1] & 3);
  settings.max_errors = 1 + (data[2] % 20);
  static constexpr uint64_t Sizes[] = {0, 10, 100, 1000, 25 * 1024 * 1024};
  settings.max_message_size = Sizes[(data[3] & 7) % 5];
  static constexpr uint32_t CommandLines[] = {512, 64, 16, 512};
  settings.max_command_line = CommandLines[(data[3] >> 3) & 3];
  static constexpr uint32_t TextLines[] = {1000, 78, 8, 1000};
  settings.max_text_line = TextLines[(data[3] >> 5) & 3];

  std::vector<Op> ops(1);
  for (size_t i = 4; i < size; ++i) {
    if (data[i] != 0xff) {
      ops.back().bytes += char(data[i]);
      continue;
    }
    if (++i == size) break;
    switch (data[i]) {
      case 0xff: ops.back().bytes += char(0xff); continue;
      case 't': ops.push_back({Op::Timeout, {}}); break;
      case 's': ops.push_back({Op::Shutdown, {}}); break;
      case 'p': ops.push_back({Op::PeerClosed, {}}); break;
      default: break;
    }
    ops.push_back({Op::Feed, {}});
  }

  Run as_given = run(settings, ops, false);
  if (as_given.problems > 0) fail("contract or invariant broken", as_given.transcript);
  Run bytes = run(settings, ops, true);
  if (bytes.problems > 0) fail("contract or invariant broken (byte by byte)", bytes.transcript);
  // The improper-pipelining flag depends on the split by design (session_transcript.h).
  if (petrel::smtp::testing::withoutSplitDependentLines(as_given.transcript) !=
      petrel::smtp::testing::withoutSplitDependentLines(bytes.transcript)) {
    fail("transcript depends on how input was split; byte by byte:\n" + bytes.transcript,
         as_given.transcript);
  }
  return 0;
}
