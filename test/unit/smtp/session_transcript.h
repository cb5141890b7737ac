// Test-only helpers for driving smtp::ServerSession: a memory BodySink, byte escaping, and
// Transcript, which turns the session's actions into one text line each and checks the driver
// contract while doing so. Shared by server_session_test.cc (golden dialogs) and
// test/fuzz/smtp_session_fuzz.cc (differential fuzzing), so both read the same grammar.
//
// Transcript lines:
//   > 250-mail.example.test      one line of a reply (Send), CRLF removed
//   CHECK bob@example.test       AskVerdict for RCPT (CHECK VRFY ... for VRFY; other stages:
//                                CHECK CONNECT, CHECK HELO name, CHECK MAIL sender, CHECK DATA,
//                                CHECK END-OF-MESSAGE, CHECK AUTH user)
//   START                        StartMessage
//   COMMIT helo=... from=<...> [MAIL params] rcpt=<...> [RCPT params] ... via=DATA|BDAT
//          size=N body=ESCAPED   CommitMessage (one line), body as stored by the sink
//   ABORT                        AbortMessage
//   REJECT RCPT 550 5.1.1 ... from=<...> [to=<...>]   Rejected
//   CLOSE                        Close
//   STARTTLS                     StartTls (the driver switches to TLS)
//   AUTHENTICATE PLAIN authzid=<..> user=<..> password=<..>   Authenticate
//   PREGREET count=N ESCAPED     Pregreet (the client talked during the greet pause)
//   PIPELINING after=EHLO pending=ESCAPED   ImproperPipelining
//   !! what                      a broken driver contract (Send after Close, ABORT without a
//                                message, a malformed or overlong reply, a control character
//                                in a reply ...); tests fail on any of these.
//
// It owns nothing of the session; it does not answer checks itself (callers do, so the golden
// scripts decide every verdict explicitly).
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "petrel/smtp/server_session.h"

namespace petrel::smtp::testing {

class MemorySink : public BodySink {
 public:
  void append(std::string_view content) override { data.append(content); }
  std::string data;
};

// Printable ASCII as is; '\\', CR, LF, TAB as C escapes; other bytes and '{' as \xHH. Runs of 10 or
// more of one printable character become {{N*c}} so long lines stay readable.
inline std::string escapeBytes(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t run = 1;
    while (i + run < s.size() && s[i + run] == s[i]) ++run;
    if (run >= 10 && c > 0x20 && c < 0x7f && c != '\\' && c != '{') {
      fmt::format_to(std::back_inserter(out), "{{{{{}*{}}}}}", run, char(c));
      i += run;
      continue;
    }
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f || c == '{') {  // '{' could start a {{N*c}} run
          fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
        } else {
          out += char(c);
        }
    }
    ++i;
  }
  return out;
}

// Inverse of escapeBytes: \r \n \t \\ \xHH and {{N*c}}. nullopt on a malformed escape.
inline std::optional<std::string> unescapeBytes(std::string_view s) {
  std::string out;
  auto hex = [](char h) -> int {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.substr(i, 2) == "{{") {
      size_t star = s.find('*', i);
      size_t end = s.find("}}", i);
      if (star == std::string_view::npos || end == std::string_view::npos || star > end ||
          end != star + 2) {
        return std::nullopt;
      }
      size_t n = 0;
      for (size_t k = i + 2; k < star; ++k) {
        if (s[k] < '0' || s[k] > '9') return std::nullopt;
        n = n * 10 + size_t(s[k] - '0');
      }
      out.append(n, s[star + 1]);
      i = end + 1;
      continue;
    }
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i >= s.size()) return std::nullopt;
    switch (s[i]) {
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case '\\': out += '\\'; break;
      case 'x': {
        if (i + 2 >= s.size()) return std::nullopt;
        int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += char(hi * 16 + lo);
        i += 2;
        break;
      }
      default: return std::nullopt;
    }
  }
  return out;
}

// Whether a client pipelined improperly depends, by design, on how its bytes arrived (what
// was already there when a command was read): fed byte by byte, nothing ever is. So do the
// bytes a PREGREET line shows (those of the first read). Transcripts compared across splits
// leave those lines out.
inline std::string withoutSplitDependentLines(const std::string& text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl + 1;
    std::string_view line = std::string_view(text).substr(pos, end - pos);
    if (!line.starts_with("PIPELINING ") && !line.starts_with("PREGREET ")) out += line;
    pos = end;
  }
  return out;
}

class Transcript {
 public:
  // Appends one line per action and checks the contract. `sink` is the storage the driver
  // handed over with onMessageStarted (nullptr before that); COMMIT prints what it holds.
  void record(const Actions& actions, const MemorySink* sink) {
    for (const Action& a : actions) {
      if (closed_) problem("action after CLOSE");
      std::visit([&](const auto& x) { line(x, sink); }, a);
    }
  }

  // What the driver still owes the session; callers consume these as they answer.
  int pendingChecks() const { return pending_checks_; }
  bool pendingStart() const { return pending_start_; }
  bool pendingCommit() const { return pending_commit_; }
  void answeredCheck() { --pending_checks_; }
  void answeredStart() { pending_start_ = false; }
  void answeredCommit() { pending_commit_ = false; }
  bool pendingAuth() const { return pending_auth_; }
  int starttlsCount() const { return starttls_; }
  void answeredAuth() { pending_auth_ = false; }
  bool closed() const { return closed_; }
  // The last CHECK's address (for verdicts that expand to it).
  const std::string& lastChecked() const { return last_checked_; }
  // The envelope of the last COMMIT, for tests that look at fields the line leaves out.
  const std::optional<Envelope>& lastCommit() const { return last_commit_; }

  void note(std::string_view text) { text_ += fmt::format("{}\n", text); }
  void problem(std::string_view what) {
    text_ += fmt::format("!! {}\n", what);
    ++problems_;
  }
  int problems() const { return problems_; }
  const std::string& text() const { return text_; }

 private:
  void line(const Send& s, const MemorySink*) {
    std::string_view rest = s.bytes;
    if (rest.empty()) problem("empty Send");
    std::string code;
    while (!rest.empty()) {
      size_t end = rest.find("\r\n");
      if (end == std::string_view::npos) {
        problem(fmt::format("reply not CRLF-terminated: {}", escapeBytes(rest)));
        return;
      }
      std::string_view l = rest.substr(0, end);
      rest.remove_prefix(end + 2);
      note(fmt::format("> {}", escapeBytes(l)));
      // RFC 5321 4.2: "ddd-" on every line but the last, "ddd " on the last, one code.
      bool last = rest.empty();
      if (l.size() < 4 || l.substr(0, 3).find_first_not_of("0123456789") != std::string::npos ||
          l[3] != (last ? ' ' : '-')) {
        problem("malformed reply line");
      } else if (code.empty()) {
        code = std::string(l.substr(0, 3));
      } else if (code != l.substr(0, 3)) {
        problem("reply code changes within a multi-line reply");
      }
      if (l.size() + 2 > 512) problem("reply line longer than 512 octets (RFC 5321 4.5.3.1.5)");
      for (unsigned char c : l) {
        if (c < 0x20 || c == 0x7f) {
          problem("control character in a reply line (echoed client input?)");
          break;
        }
      }
    }
  }
  void line(const Close&, const MemorySink*) {
    note("CLOSE");
    closed_ = true;
  }
  void line(const AskVerdict& c, const MemorySink*) {
    std::string stage = c.stage == Stage::Rcpt ? "" : std::string(toString(c.stage));
    std::string text = stage;
    if (!c.address.empty() || c.stage == Stage::Rcpt || c.stage == Stage::Vrfy ||
        c.stage == Stage::Mail) {
      text += (text.empty() ? "" : " ") + escapeBytes(c.address);
    }
    note(fmt::format("CHECK {}", text));
    if (pending_checks_ > 0) problem("second CHECK before the first was answered");
    ++pending_checks_;
    last_checked_ = c.address;
  }
  void line(const StartMessage&, const MemorySink*) {
    note("START");
    if (message_open_ || pending_start_) problem("START while a message is open");
    pending_start_ = true;
    message_open_ = true;
  }
  void line(const CommitMessage& c, const MemorySink* sink) {
    const Envelope& e = c.envelope;
    std::string l = fmt::format("COMMIT helo={}{} from=<{}>", escapeBytes(e.helo),
                                e.esmtp ? "" : " (HELO)", escapeBytes(e.mail.sender.text));
    if (e.mail.size) l += fmt::format(" SIZE={}", *e.mail.size);
    if (!e.mail.body.empty()) l += fmt::format(" BODY={}", e.mail.body);
    if (e.mail.smtputf8) l += " SMTPUTF8";
    if (!e.mail.dsn_ret.empty()) l += fmt::format(" RET={}", e.mail.dsn_ret);
    if (!e.mail.dsn_envid.empty()) l += fmt::format(" ENVID={}", escapeBytes(e.mail.dsn_envid));
    for (const auto& r : e.recipients) {
      l += fmt::format(" rcpt=<{}>", escapeBytes(r.params.recipient.text));
      if (!r.params.dsn_notify.empty()) l += fmt::format(" NOTIFY={}", r.params.dsn_notify);
      if (!r.params.dsn_orcpt.empty()) {
        l += fmt::format(" ORCPT={}", escapeBytes(r.params.dsn_orcpt));
      }
      if (r.expand != std::vector<std::string>{r.params.recipient.text}) {
        std::string list;
        for (const auto& x : r.expand) list += (list.empty() ? "" : ",") + escapeBytes(x);
        l += fmt::format("->[{}]", list);
      }
    }
    l += fmt::format(" via={} size={}", e.chunking ? "BDAT" : "DATA", e.body_size);
    if (sink == nullptr) {
      problem("COMMIT without storage");
    } else {
      l += fmt::format(" body={}", escapeBytes(sink->data));
      if (sink->data.size() != e.body_size) {
        problem(fmt::format("body_size {} != {} octets stored", e.body_size, sink->data.size()));
      }
    }
    note(l);
    if (!message_open_ || pending_start_) problem("COMMIT without a started message");
    if (e.recipients.empty()) problem("COMMIT without recipients");
    message_open_ = false;
    pending_commit_ = true;
    last_commit_ = e;
  }
  void line(const AbortMessage&, const MemorySink*) {
    note("ABORT");
    if (!message_open_) problem("ABORT without an open message");
    message_open_ = false;
    pending_start_ = false;
  }
  void line(const StartTls&, const MemorySink*) {
    note("STARTTLS");
    ++starttls_;
  }
  void line(const Authenticate& a, const MemorySink*) {
    note(fmt::format("AUTHENTICATE {} authzid=<{}> user=<{}> password=<{}>", a.mechanism,
                     escapeBytes(a.credentials.authzid), escapeBytes(a.credentials.authcid),
                     escapeBytes(a.credentials.password)));
    if (pending_auth_) problem("AUTHENTICATE while another is pending");
    pending_auth_ = true;
  }
  void line(const Pregreet& p, const MemorySink*) {
    note(fmt::format("PREGREET count={} {}", p.count, escapeBytes(p.bytes)));
  }
  void line(const ImproperPipelining& p, const MemorySink*) {
    note(fmt::format("PIPELINING after={} pending={}", p.after, escapeBytes(p.pending)));
    if (++pipelining_ > 1) problem("ImproperPipelining twice in one session");
  }
  void line(const Rejected& r, const MemorySink*) {
    std::string l = fmt::format("REJECT {} {} from=<{}>", r.logStage(), escapeBytes(r.reply.oneLine()),
                                escapeBytes(r.from));
    if (!r.to.empty()) l += fmt::format(" to=<{}>", escapeBytes(r.to));
    note(l);
    if (r.reply.positive() && r.stage != Stage::Connect) problem("positive reply in a rejection");
  }

  std::string text_;
  int problems_ = 0;
  bool closed_ = false;
  int pending_checks_ = 0;
  bool pending_start_ = false;
  bool pending_commit_ = false;
  bool pending_auth_ = false;
  int starttls_ = 0;
  int pipelining_ = 0;
  bool message_open_ = false;  // START seen, neither COMMIT nor ABORT yet
  std::string last_checked_;
  std::optional<Envelope> last_commit_;
};

}  // namespace petrel::smtp::testing
