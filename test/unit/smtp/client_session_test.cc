// Tests for smtp::ClientSession and DotStuffer (source/smtp/client_session.cc).
//
// Most cases are golden dialogs: test/testdata/smtp-client/NN-name.in is a script of server
// replies and driver events, NN-name.ref the transcript of actions it must produce. Each script
// line is echoed before the actions it causes, so a .ref reads as the dialog.
//
// Script lines (.in):
//   #set key=value    a client::Settings override, before the first J: line:
//                     tls=none|may|encrypt|verify, implicit_tls=1, auth=USER:PASSWORD,
//                     auth_plaintext=1, helo=NAME, lmtp=1 (RFC 2033 mode)
//   # text            comment; blank lines are ignored
//   J: from=<a@x> to=<b@y> [notify=N] [orcpt=T;A] to=<c@y> ... [size=N] [8bit] [smtputf8]
//      [ret=FULL|HDRS] [envid=X] [xforward=NAME:value ...]
//                     a job; notify= and orcpt= belong to the to= before them. The first J:
//                     creates the session, later ones call nextJob(). Values take the escapes
//                     of session_transcript.h (\x20 for a space, \xHH for any octet).
//   S: text           the server sends text + CRLF          S+: text   exactly text
//   D: tls started | D: tls failed WHY | D: timeout | D: closed | D: quit
//                     driver events: onTlsStarted, onTlsFailed, onTimeout, onPeerClosed, quit
//
// Transcript lines (.ref):
//   > EHLO client.example.test   the first command line of a Send; ">+ " for further lines of
//                                the same Send (one write: PIPELINING); " (secret)" when the
//                                Send is marked secret (AUTH payloads)
//   STARTTLS                     StartTls          SEND-BODY   SendBody
//   RESULT [peer-dsn]            JobResult, then one line per recipient:
//     <bob@x> bounced 5.1.1 after RCPT TO: 550 5.1.1 User unknown [host]
//                                status, dsn, the command answered, the reply and/or our
//                                detail (in parentheses when both), [host] for host failures
//   CLOSE
//   !! what                      a broken contract (action after CLOSE, a command line not
//                                CRLF-clean or over 512 octets, SEND-BODY without DATA,
//                                RESULT that does not match its job, CLOSE with a job open,
//                                an AUTH payload in plaintext ...); tests fail on any.
// The transcript ends with "== closed", "== idle" or "== open" (+ " buffered=N").
//
// Regenerating goldens: PETREL_UPDATE_GOLDEN=1 ./petrel-unit --gtest_filter='*ClientGolden*'.
// Review every changed .ref against the RFCs: the goldens are the specification.
#include "petrel/core/base64.h"
#include "petrel/smtp/client_session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/strings.h"
#include "golden_files.h"
#include "session_transcript.h"

namespace petrel::smtp {
namespace {

using client::Action;
using client::Actions;
using client::Job;
using client::RecipientStatus;
using testing::escapeBytes;
using testing::expectMatchesGolden;
using testing::goldenNames;
using testing::goldenScript;
using testing::goldenTestName;
using testing::lineDiff;
using testing::unescapeBytes;

const std::filesystem::path GoldenDir =
    std::filesystem::path(PETREL_SOURCE_ROOT) / "test" / "testdata" / "smtp-client";

client::Settings defaultSettings() {
  client::Settings s;
  s.helo_name = "client.example.test";
  return s;
}

// Writes actions as transcript lines and checks the driver contract while doing so.
class ClientTranscript {
 public:
  explicit ClientTranscript(const client::Settings& s) : settings_(s), tls_(s.implicit_tls) {}

  void jobStarted(const Job& job) {
    std::vector<std::string> r;
    for (const auto& x : job.recipients) r.push_back(x.recipient.text);
    jobs_.push_back(std::move(r));
    data_sent_ = false;
    body_sent_ = false;
  }
  void tlsStarted() { tls_ = true; }

  void record(const Actions& actions) {
    for (const Action& a : actions) {
      if (closed_) problem("action after CLOSE");
      std::visit([&](const auto& x) { line(x); }, a);
    }
  }

  void note(std::string_view text) { text_ += fmt::format("{}\n", text); }
  void problem(std::string_view what) {
    text_ += fmt::format("!! {}\n", what);
    ++problems_;
  }
  int problems() const { return problems_; }
  size_t openJobs() const { return jobs_.size(); }
  const std::string& text() const { return text_; }

 private:
  void line(const client::Send& s) {
    std::string_view rest = s.bytes;
    if (rest.empty()) problem("empty Send");
    bool first = true;
    while (!rest.empty()) {
      size_t end = rest.find("\r\n");
      if (end == std::string_view::npos) {
        problem(fmt::format("command not CRLF-terminated: {}", escapeBytes(rest)));
        return;
      }
      std::string_view l = rest.substr(0, end);
      rest.remove_prefix(end + 2);
      note(fmt::format("{} {}{}", first ? ">" : ">+", escapeBytes(l), s.secret ? " (secret)" : ""));
      first = false;
      for (unsigned char c : l) {
        if (c < 0x20 || c == 0x7f) {
          problem("control character in a command line");
          break;
        }
      }
      // RFC 5321 4.5.3.1.4: 512 octets with CRLF; RFC 4954 4: AUTH lines up to 12288.
      if (l.size() + 2 > (s.secret || istartsWith(l, "AUTH ") ? 12288u : 512u)) {
        problem("command line too long");
      }
      if (l == "DATA") data_sent_ = true;
    }
    if (s.secret && !tls_ && !settings_.auth_plaintext) problem("AUTH payload in plaintext");
  }
  void line(const client::StartTls&) {
    note("STARTTLS");
    if (tls_) problem("STARTTLS while TLS is active");
    if (settings_.tls == client::TlsPolicy::None) problem("STARTTLS under tls=none");
  }
  void line(const client::SendBody&) {
    note("SEND-BODY");
    if (!data_sent_) problem("SEND-BODY without DATA");
    if (body_sent_) problem("second SEND-BODY for one job");
    body_sent_ = true;
  }
  void line(const client::JobResult& r) {
    note(r.peer_dsn ? "RESULT peer-dsn" : "RESULT");
    if (jobs_.empty()) {
      problem("RESULT without a job");
      return;
    }
    const std::vector<std::string> want = std::move(jobs_.front());
    jobs_.pop_front();
    if (r.recipients.size() != want.size()) {
      problem("RESULT does not have one outcome per recipient");
    }
    for (size_t i = 0; i < r.recipients.size(); ++i) {
      const client::Outcome& o = r.recipients[i];
      std::string l = fmt::format("  <{}> {} {}", escapeBytes(o.recipient), toString(o.status),
                                  escapeBytes(o.dsn));
      if (!o.command.empty()) l += fmt::format(" after {}:", o.command);
      if (o.reply) l += " " + escapeBytes(o.reply->oneLine());
      if (!o.detail.empty()) {
        l += o.reply ? fmt::format(" ({})", escapeBytes(o.detail)) : " " + escapeBytes(o.detail);
      }
      if (o.host_failure) l += " [host]";
      note(l);
      if (i < want.size() && o.recipient != want[i]) problem("outcome for another recipient");
      char cls = o.status == RecipientStatus::Delivered ? '2'
                 : o.status == RecipientStatus::Deferred ? '4'
                                                         : '5';
      if (o.dsn.size() < 5 || o.dsn[0] != cls || o.dsn[1] != '.') {
        problem("dsn does not match status");
      }
      if (o.status == RecipientStatus::Delivered && !body_sent_) {
        problem("delivered without a body");
      }
      if (!o.reply && o.detail.empty()) problem("outcome without a reason");
    }
  }
  void line(const client::Close&) {
    note("CLOSE");
    closed_ = true;
    if (!jobs_.empty()) problem("CLOSE while a job has no RESULT");
  }

  client::Settings settings_;
  bool tls_;
  std::string text_;
  int problems_ = 0;
  bool closed_ = false;
  std::deque<std::vector<std::string>> jobs_;  // recipients of jobs without a RESULT yet
  bool data_sent_ = false;
  bool body_sent_ = false;
};

// "from=<a@x> to=<b@y> notify=SUCCESS size=100 8bit" -> Job; nullopt with `why` on errors.
std::optional<Job> parseJob(std::string_view spec, std::string& why) {
  Job job;
  auto path = [](std::string_view v) -> std::optional<std::string> {
    if (v.size() < 2 || v.front() != '<' || v.back() != '>') return std::nullopt;
    return unescapeBytes(v.substr(1, v.size() - 2));
  };
  for (auto word : split(spec, ' ')) {
    if (word.empty()) continue;
    size_t eq = word.find('=');
    std::string_view key = word.substr(0, eq);
    std::string_view raw = eq == std::string_view::npos ? "" : word.substr(eq + 1);
    auto value = unescapeBytes(raw);
    if (!value) {
      why = fmt::format("bad escape in {}", word);
      return std::nullopt;
    }
    if (key == "from" || key == "to") {
      auto p = path(raw);
      if (!p) {
        why = fmt::format("expected {}=<address>", key);
        return std::nullopt;
      }
      if (key == "from") {
        job.sender.text = *p;
      } else {
        job.recipients.emplace_back();
        job.recipients.back().recipient.text = *p;
      }
    } else if ((key == "notify" || key == "orcpt") && !job.recipients.empty()) {
      (key == "notify" ? job.recipients.back().dsn_notify : job.recipients.back().dsn_orcpt) =
          *value;
    } else if (key == "size" && parseUnsigned(*value)) {
      job.size = *parseUnsigned(*value);
    } else if (key == "8bit" && eq == std::string_view::npos) {
      job.is_8bit = true;
    } else if (key == "smtputf8" && eq == std::string_view::npos) {
      job.needs_smtputf8 = true;
    } else if (key == "ret") {
      job.dsn_ret = *value;
    } else if (key == "envid") {
      job.dsn_envid = *value;
    } else if (key == "xforward" && value->find(':') != std::string::npos) {
      size_t colon = value->find(':');
      job.xforward.emplace_back(value->substr(0, colon), value->substr(colon + 1));
    } else {
      why = fmt::format("unknown job word: {}", word);
      return std::nullopt;
    }
  }
  return job;
}

enum class Feed { AsWritten, ByteByByte };

std::string runScript(const std::string& script, Feed feed) {
  client::Settings settings = defaultSettings();
  std::vector<std::string> lines;
  {
    std::istringstream in(script);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  std::string setup_problems;
  size_t step = 0;
  for (; step < lines.size(); ++step) {
    std::string_view l = lines[step];
    if (l.empty() || (l.front() == '#' && !l.starts_with("#set "))) continue;
    if (!l.starts_with("#set ")) break;
    std::string_view kv = trim(l.substr(5));
    size_t eq = kv.find('=');
    std::string key(kv.substr(0, eq));
    std::string value(eq == std::string_view::npos ? "" : kv.substr(eq + 1));
    if (key == "tls" && value == "none") {
      settings.tls = client::TlsPolicy::None;
    } else if (key == "tls" && value == "may") {
      settings.tls = client::TlsPolicy::May;
    } else if (key == "tls" && value == "encrypt") {
      settings.tls = client::TlsPolicy::Encrypt;
    } else if (key == "tls" && value == "verify") {
      settings.tls = client::TlsPolicy::Verify;
    } else if (key == "implicit_tls") {
      settings.implicit_tls = value == "1";
    } else if (key == "auth" && value.find(':') != std::string::npos) {
      auth::Credentials c;
      c.authcid = value.substr(0, value.find(':'));
      c.password = value.substr(value.find(':') + 1);
      settings.credentials = c;
    } else if (key == "auth_plaintext") {
      settings.auth_plaintext = value == "1";
    } else if (key == "helo") {
      settings.helo_name = value;
    } else if (key == "lmtp") {
      settings.lmtp = value == "1";
    } else {
      setup_problems += fmt::format("!! bad #set line: {}\n", l);
    }
  }

  ClientTranscript t(settings);
  if (!setup_problems.empty()) t.problem(setup_problems);
  if (step == lines.size() || !lines[step].starts_with("J: ")) {
    t.problem("the script must start with a J: line");
    return t.text();
  }
  t.note(lines[step]);
  std::string why;
  auto first = parseJob(std::string_view(lines[step]).substr(3), why);
  if (!first) {
    t.problem(why);
    return t.text();
  }
  t.jobStarted(*first);
  ClientSession session(settings, std::move(*first));

  for (++step; step < lines.size(); ++step) {
    const std::string& l = lines[step];
    if (l.empty() || l.front() == '#') {
      if (l.starts_with("#set ")) t.problem("#set after the first step");
      continue;
    }
    t.note(l);
    size_t colon = l.find(": ");
    if (colon == std::string::npos) {
      t.problem("not a script line");
      continue;
    }
    std::string_view kind = std::string_view(l).substr(0, colon);
    std::string_view arg = std::string_view(l).substr(colon + 2);
    if (kind == "S" || kind == "S+") {
      auto bytes = unescapeBytes(arg);
      if (!bytes) {
        t.problem("bad escape");
        continue;
      }
      if (kind == "S") *bytes += "\r\n";
      if (feed == Feed::AsWritten) {
        t.record(session.onInput(*bytes));
      } else {
        for (char c : *bytes) t.record(session.onInput(std::string_view(&c, 1)));
      }
    } else if (kind == "J") {
      auto job = parseJob(arg, why);
      if (!job) {
        t.problem(why);
        continue;
      }
      if (!session.idle()) t.problem("J: while the session is not idle");
      t.jobStarted(*job);
      t.record(session.nextJob(std::move(*job)));
    } else if (kind == "D" && arg == "tls started") {
      t.tlsStarted();
      t.record(session.onTlsStarted());
    } else if (kind == "D" && arg.starts_with("tls failed ")) {
      t.record(session.onTlsFailed(arg.substr(11)));
    } else if (kind == "D" && arg == "timeout") {
      t.record(session.onTimeout());
    } else if (kind == "D" && arg == "closed") {
      t.record(session.onPeerClosed());
    } else if (kind == "D" && arg == "quit") {
      t.record(session.quit());
    } else {
      t.problem("unknown step");
    }
  }
  std::string end = session.closed() ? "== closed" : session.idle() ? "== idle" : "== open";
  if (!session.closed() && session.bufferedInput() > 0) {
    end += fmt::format(" buffered={}", session.bufferedInput());
  }
  t.note(end);
  return t.text();
}

class ClientGoldenDialog : public ::testing::TestWithParam<std::string> {};

TEST_P(ClientGoldenDialog, MatchesReference) {
  const std::string got = runScript(goldenScript(GoldenDir, GetParam()), Feed::AsWritten);
  EXPECT_EQ(got.find("!! "), std::string::npos) << got;
  expectMatchesGolden(GoldenDir, GetParam(), got);
}

// TCP may split replies anywhere: one byte per onInput() must give the same transcript.
TEST_P(ClientGoldenDialog, SameTranscriptWhenFedByteByByte) {
  const std::string script = goldenScript(GoldenDir, GetParam());
  const std::string whole = runScript(script, Feed::AsWritten);
  const std::string bytes = runScript(script, Feed::ByteByByte);
  EXPECT_EQ(whole, bytes) << lineDiff(whole, bytes);
}

INSTANTIATE_TEST_SUITE_P(SmtpClient, ClientGoldenDialog, ::testing::ValuesIn(goldenNames(GoldenDir)),
                         goldenTestName);

TEST(ClientGoldenDialogRunner, CoversEveryScenario) {
  const std::vector<std::string> names = goldenNames(GoldenDir);
  EXPECT_GE(names.size(), 20u);
  for (const auto& n : names) {
    EXPECT_TRUE(std::filesystem::exists(GoldenDir / (n + ".ref"))) << n;
  }
}

// --- Focused cases where a golden file would be awkward. ---

Job oneRecipient() {
  Job j;
  j.sender.text = "alice@example.test";
  j.recipients.emplace_back();
  j.recipients.back().recipient.text = "bob@example.org";
  j.size = 10;
  return j;
}

// Feeds `replies` and returns the last batch of actions.
Actions feed(ClientSession& s, std::string_view replies) { return s.onInput(replies); }

TEST(ClientSession, SaysNothingBeforeTheGreeting) {
  ClientSession s(defaultSettings(), oneRecipient());
  EXPECT_EQ(s.phase(), client::Phase::Greeting);
  EXPECT_TRUE(feed(s, "220-mx.example.org ESMTP\r\n").empty());
  Actions a = feed(s, "220 ready\r\n");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(std::get<client::Send>(a[0]).bytes, "EHLO client.example.test\r\n");
  EXPECT_EQ(s.phase(), client::Phase::Helo);
}

TEST(ClientSession, PhasesFollowTheDialogForTheDriversTimers) {
  ClientSession s(defaultSettings(), oneRecipient());
  feed(s, "220 mx\r\n250 mx\r\n");  // no PIPELINING: lockstep
  EXPECT_EQ(s.phase(), client::Phase::Mail);
  feed(s, "250 2.1.0 ok\r\n");
  EXPECT_EQ(s.phase(), client::Phase::Rcpt);
  feed(s, "250 2.1.5 ok\r\n");
  EXPECT_EQ(s.phase(), client::Phase::DataInit);
  Actions a = feed(s, "354 go\r\n");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<client::SendBody>(a[0]));
  EXPECT_EQ(s.phase(), client::Phase::DataDone);
  a = feed(s, "250 2.0.0 queued\r\n");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(std::get<client::JobResult>(a[0]).recipients[0].status, RecipientStatus::Delivered);
  EXPECT_EQ(s.phase(), client::Phase::Idle);
  a = s.quit();
  EXPECT_EQ(s.phase(), client::Phase::Quit);
  a = s.onPeerClosed();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<client::Close>(a[0]));
  EXPECT_TRUE(s.closed());
  EXPECT_TRUE(s.onTimeout().empty());
  EXPECT_TRUE(s.onInput("250 late\r\n").empty());
  EXPECT_TRUE(s.onTlsStarted().empty());
}

TEST(ClientSession, ParsesEhloKeywords) {
  ClientSession s(defaultSettings(), oneRecipient());
  feed(s,
       "220 mx\r\n250-mx.example.org Hello\r\n250-pipelining\r\n250-SIZE\r\n250-8BITMIME\r\n"
       "250-AUTH=LOGIN PLAIN\r\n250-AUTH PLAIN CRAM-MD5\r\n250-CHUNKING\r\n250-DSN\r\n"
       "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n");
  const auto& p = s.peer();
  EXPECT_EQ(p.name, "mx.example.org");
  EXPECT_TRUE(p.esmtp && p.pipelining && p.size && p.eightbitmime && p.chunking && p.dsn &&
              p.smtputf8 && p.enhanced_status_codes && p.starttls);
  EXPECT_EQ(p.size_limit, 0u);
  EXPECT_EQ(p.auth, (std::vector<std::string>{"LOGIN", "PLAIN", "CRAM-MD5"}));
  EXPECT_EQ(s.phase(), client::Phase::StartTls);
}

TEST(ClientSession, NextJobWhileBusyDefersItAndLeavesTheSessionAlone) {
  ClientSession s(defaultSettings(), oneRecipient());
  Actions a = s.nextJob(oneRecipient());
  ASSERT_EQ(a.size(), 1u);
  const auto& r = std::get<client::JobResult>(a[0]);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].status, RecipientStatus::Deferred);
  EXPECT_EQ(r.recipients[0].dsn, "4.3.0");
  EXPECT_EQ(s.phase(), client::Phase::Greeting);
  a = feed(s, "220 mx\r\n");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<client::Send>(a[0]));
}

TEST(ClientSession, QuitMidJobDefersAndClosesWithoutQuit) {
  ClientSession s(defaultSettings(), oneRecipient());
  feed(s, "220 mx\r\n250-mx\r\n250 PIPELINING\r\n");
  Actions a = s.quit();
  ASSERT_EQ(a.size(), 2u);
  const auto& r = std::get<client::JobResult>(a[0]);
  EXPECT_EQ(r.recipients[0].dsn, "4.3.0");
  EXPECT_TRUE(std::holds_alternative<client::Close>(a[1]));
}

TEST(ClientSession, AuthPayloadsAreMarkedSecret) {
  client::Settings settings = defaultSettings();
  settings.tls = client::TlsPolicy::None;
  settings.auth_plaintext = true;
  settings.credentials = auth::Credentials{"", "bob", "s3cret"};
  ClientSession s(settings, oneRecipient());
  Actions a = feed(s, "220 mx\r\n250-mx\r\n250 AUTH LOGIN\r\n");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_FALSE(std::get<client::Send>(a[1]).secret);  // "AUTH LOGIN" itself
  a = feed(s, "334 VXNlcm5hbWU6\r\n");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(std::get<client::Send>(a[0]).secret);
  EXPECT_EQ(std::get<client::Send>(a[0]).bytes, base64Encode("bob") + "\r\n");
  a = feed(s, "334 UGFzc3dvcmQ6\r\n");
  EXPECT_TRUE(std::get<client::Send>(a[0]).secret);
  EXPECT_EQ(std::get<client::Send>(a[0]).bytes, base64Encode("s3cret") + "\r\n");
  a = feed(s, "235 2.7.0 ok\r\n");
  EXPECT_TRUE(s.authenticated());
  ASSERT_EQ(a.size(), 1u);
  EXPECT_FALSE(std::get<client::Send>(a[0]).secret);  // MAIL FROM
}

TEST(ClientSession, EveryReplySplitGivesTheSameActions) {
  const std::string replies =
      "220-mx.example.org ESMTP\r\n220 ready\r\n"
      "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250 8BITMIME\r\n"
      "250 2.1.0 Ok\r\n550-5.1.1 no such\r\n550 5.1.1 user\r\n250 2.1.5 Ok\r\n354 go\r\n"
      "250 2.0.0 queued\r\n";
  auto run = [&](size_t step) {
    Job j = oneRecipient();
    j.recipients.insert(j.recipients.begin(), j.recipients[0]);
    j.recipients[0].recipient.text = "nobody@example.org";
    ClientSession s(defaultSettings(), j);
    std::string out;
    for (size_t i = 0; i < replies.size(); i += step) {
      for (const Action& a : s.onInput(std::string_view(replies).substr(i, step))) {
        out += std::to_string(a.index()) + ";";
        if (const auto* r = std::get_if<client::JobResult>(&a)) {
          for (const auto& o : r->recipients) out += o.dsn + ";";
        }
      }
    }
    return out;
  };
  const std::string whole = run(replies.size());
  EXPECT_EQ(whole, "0;0;2;3;5.1.1;2.0.0;");
  for (size_t step : {1u, 2u, 3u, 5u, 7u, 11u, 64u}) EXPECT_EQ(run(step), whole) << step;
}

TEST(ClientSession, ReplyLinesHaveALengthLimit) {
  ClientSession s(defaultSettings(), oneRecipient());
  Actions a = feed(s, "220 " + std::string(5000, 'x'));
  ASSERT_EQ(a.size(), 2u);
  const auto& r = std::get<client::JobResult>(a[0]);
  EXPECT_EQ(r.recipients[0].detail, "protocol error: reply line too long");
  EXPECT_TRUE(std::holds_alternative<client::Close>(a[1]));
}

// --- DotStuffer ---

TEST(Xforward, OnlyOfferedAttributesAsXtextWithUnavailable) {
  std::vector<std::pair<std::string, std::string>> attrs = {
      {"NAME", "mail.example.org"}, {"ADDR", "192.0.2.7"}, {"PORT", ""},
      {"HELO", "we ird+=name"},     {"IDENT", "4AbC"},     {"SOURCE", "REMOTE"}};
  EXPECT_EQ(client::xforwardCommands(attrs, {"NAME", "ADDR", "PORT", "HELO", "SOURCE"}),
            (std::vector<std::string>{"XFORWARD NAME=mail.example.org ADDR=192.0.2.7 "
                                      "PORT=[UNAVAILABLE] HELO=we+20ird+2B+3Dname "
                                      "SOURCE=REMOTE\r\n"}));
  EXPECT_TRUE(client::xforwardCommands(attrs, {}).empty());
  EXPECT_TRUE(client::xforwardCommands({}, {"NAME"}).empty());
  // A CR or LF in a stored value cannot end the command line.
  auto injected = client::xforwardCommands({{"HELO", "x\r\nRCPT TO:<a@b>"}}, {"HELO"});
  ASSERT_EQ(injected.size(), 1u);
  EXPECT_EQ(injected[0], "XFORWARD HELO=x+0D+0ARCPT+20TO:<a@b>\r\n");
}

TEST(Xforward, LongValuesSpreadOverLinesOfAtMost512Octets) {
  std::vector<std::pair<std::string, std::string>> attrs = {
      {"NAME", std::string(250, 'n')}, {"ADDR", "192.0.2.7"}, {"HELO", std::string(250, 'h')},
      {"IDENT", std::string(600, 'i')}};
  auto lines = client::xforwardCommands(attrs, {"NAME", "ADDR", "HELO", "IDENT"});
  ASSERT_EQ(lines.size(), 2u);
  for (const std::string& l : lines) {
    EXPECT_LE(l.size(), 512u);
    EXPECT_TRUE(l.starts_with("XFORWARD ") && l.ends_with("\r\n")) << l;
  }
  EXPECT_EQ(lines[0], "XFORWARD NAME=" + std::string(250, 'n') + " ADDR=192.0.2.7\r\n");
  EXPECT_EQ(lines[1], "XFORWARD HELO=" + std::string(250, 'h') + " IDENT=[UNAVAILABLE]\r\n");
}

TEST(ClientSession, ParsesXforwardAttributes) {
  ClientSession s(defaultSettings(), oneRecipient());
  feed(s, "220 mx\r\n250-amavis\r\n250-XFORWARD NAME ADDR proto HELO\r\n250 8BITMIME\r\n");
  EXPECT_EQ(s.peer().xforward, (std::vector<std::string>{"NAME", "ADDR", "PROTO", "HELO"}));
}

TEST(DotStuff, TransparencyAndTermination) {
  EXPECT_EQ(dotStuff(""), ".\r\n");
  EXPECT_EQ(dotStuff("\r\n"), "\r\n.\r\n");
  EXPECT_EQ(dotStuff("a\r\nb\r\n"), "a\r\nb\r\n.\r\n");
  EXPECT_EQ(dotStuff("no final line ending"), "no final line ending\r\n.\r\n");
  EXPECT_EQ(dotStuff(".hidden\r\n..two\r\n.\r\nmid.dot\r\n"),
            "..hidden\r\n...two\r\n..\r\nmid.dot\r\n.\r\n");
  EXPECT_EQ(dotStuff("."), "..\r\n.\r\n");
}

TEST(DotStuff, BareLineEndingsBecomeCrlfSoNothingIsSmuggled) {
  // "\n.\n" and "\r.\r" would end DATA early at a lenient next hop (SMTP smuggling).
  EXPECT_EQ(dotStuff("a\n.\nMAIL FROM:<x>\n"), "a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n");
  EXPECT_EQ(dotStuff("a\r.\rb"), "a\r\n..\r\nb\r\n.\r\n");
  EXPECT_EQ(dotStuff("a\r\r\nb\n\r"), "a\r\n\r\nb\r\n\r\n.\r\n");
  EXPECT_EQ(dotStuff("a\r"), "a\r\n.\r\n");
}

TEST(DotStuff, ChunkBoundariesDoNotMatter) {
  const std::string content =
      ".start\r\nx\r\n.\r\n\r\n.\n..\r\r\n\r.y\rz\r\n\r\n.end\r\nlast.\r";
  const std::string whole = dotStuff(content);
  for (size_t step = 1; step <= content.size(); ++step) {
    DotStuffer d;
    std::string out;
    for (size_t i = 0; i < content.size(); i += step) {
      out += d.feed(std::string_view(content).substr(i, step));
    }
    out += d.finish();
    EXPECT_EQ(out, whole) << "step " << step;
  }
  // Every byte in one piece, plus empty feeds in between.
  DotStuffer d;
  std::string out;
  for (char c : content) {
    out += d.feed(std::string_view(&c, 1));
    out += d.feed("");
  }
  EXPECT_EQ(out + d.finish(), whole);
}

TEST(DotStuff, OutputIsCrlfCleanAndEndsOnce) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += char(c);
  all += "\r\n.\r\n";
  const std::string out = dotStuff(all + all);
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\r') {
      ASSERT_LT(i + 1, out.size());
      EXPECT_EQ(out[i + 1], '\n') << i;
    }
    if (out[i] == '\n') {
      EXPECT_EQ(out[i - 1], '\r') << i;
    }
  }
  EXPECT_EQ(out.find("\r\n.\r\n"), out.size() - 5);
}

}  // namespace
}  // namespace petrel::smtp
