// Tests for smtp::ServerSession (source/smtp/server_session.cc).
//
// Most cases are golden dialogs: test/testdata/smtp/NN-name.in is a script, NN-name.ref the
// transcript it must produce. The runner below feeds the script to a session and writes every
// action as one line (grammar in session_transcript.h); each script line is echoed before the
// actions it causes, so a .ref reads as the dialog.
//
// Script lines (.in):
//   #set key=value      a SessionSettings override, before the first step: normalize, vrfy,
//                       max_recipients, max_message_size, max_command_line, max_text_line,
//                       max_errors, starttls, tls_required, implicit_tls, auth, auth_required,
//                       auth_plaintext
//   # text              comment; blank lines are ignored
//   C: text             the client sends text + CRLF
//   C+: text            the client sends exactly text (no CRLF added)
//     Both take the escapes \r \n \t \\ \xHH and {{N*c}} (c repeated N times).
//   #set verdicts=helo,mail,...  also ask for verdicts at these stages (connect, helo, mail,
//                       data, end_of_data, auth)
//   V: accept [addr..]  verdict for the pending CHECK; expands to addr.. (default: itself)
//   V: reject 550 5.1.1 text
//   V: drop 421 4.7.0 text   answer and close
//   S: started          storage is ready: onMessageStarted with a fresh memory sink
//   K: commit ID        onCommitted(ID)
//   K: fail 451 4.3.0 text
//   T: timeout          onTimeout()
//   X: shutdown         onShutdown()
//   P: peer closed      onPeerClosed()
//   A: ok USER          onAuthResult for the pending AUTHENTICATE (also: A: fail,
//                       A: fail drop, A: tempfail; A: refused = onAuthRefused)
//   #set greet_pause=1  start() waits; G: greet  onGreetPauseOver()
//   D: drop 421 4.7.0 text   onDrop (the driver ends the session)
//   #set rate_limits=1  install a rate_limit hook: each call is noted as "RATE MAIL" (RCPT,
//                       AUTH, STARTTLS) and answers what the last L: line for it said:
//   L: mail 450 4.7.1 text   refuse MAIL events from now on (L: mail ok: accept again)
// The transcript ends with "== closed", or "== open" (plus "buffered=N" if input is left).
//
// Regenerating goldens: PETREL_UPDATE_GOLDEN=1 ./petrel-unit --gtest_filter='Golden*' rewrites
// every .ref from the current code. Review each changed .ref by hand against the RFCs before
// committing it: the goldens are the specification, not a snapshot.
#include "petrel/smtp/server_session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
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

using testing::escapeBytes;
using testing::expectMatchesGolden;
using testing::goldenNames;
using testing::goldenScript;
using testing::goldenTestName;
using testing::lineDiff;
using testing::MemorySink;
using testing::Transcript;
using testing::unescapeBytes;
using testing::withoutSplitDependentLines;

const std::filesystem::path GoldenDir =
    std::filesystem::path(PETREL_SOURCE_ROOT) / "test" / "testdata" / "smtp";

SessionSettings defaultSettings() {
  SessionSettings s;
  s.hostname = "mail.example.test";
  s.banner = "mail.example.test ESMTP Petrel";
  return s;
}

// How the runner hands client bytes to the session.
enum class Feed { AsWritten, ByteByByte };

// Runs `script` and returns the transcript. Script errors become "!!" lines.
std::string runScript(const std::string& script, Feed feed) {
  SessionSettings settings = defaultSettings();
  std::vector<std::string> lines;
  {
    std::istringstream in(script);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  Transcript t;
  std::array<std::optional<Reply>, 4> rate_refusals;  // per ClientEvent, set by L: lines
  // Settings first: they are fixed for the whole session.
  size_t first_step = 0;
  for (; first_step < lines.size(); ++first_step) {
    std::string_view l = lines[first_step];
    if (l.empty() || (l.front() == '#' && !l.starts_with("#set "))) continue;
    if (!l.starts_with("#set ")) break;
    std::string_view kv = trim(l.substr(5));
    size_t eq = kv.find('=');
    std::string key(kv.substr(0, eq));
    if (key == "verdicts" && eq != std::string_view::npos) {
      for (auto name : split(kv.substr(eq + 1), ',')) {
        static const std::vector<std::pair<std::string_view, Stage>> stages{
            {"connect", Stage::Connect}, {"helo", Stage::Helo},
            {"mail", Stage::Mail},       {"data", Stage::Data},
            {"end_of_data", Stage::EndOfData}, {"auth", Stage::Auth}};
        auto it = std::find_if(stages.begin(), stages.end(),
                               [&](const auto& p) { return p.first == name; });
        if (it == stages.end()) {
          t.problem(fmt::format("unknown verdict stage: {}", name));
        } else {
          settings.verdict_stages |= stageBit(it->second);
        }
      }
      continue;
    }
    auto value = eq == std::string_view::npos ? std::nullopt : parseUnsigned(kv.substr(eq + 1));
    if (!value) {
      t.problem(fmt::format("bad #set line: {}", l));
    } else if (key == "normalize") {
      settings.normalize_bare_line_endings = *value != 0;
    } else if (key == "vrfy") {
      settings.vrfy = *value != 0;
    } else if (key == "max_recipients") {
      settings.max_recipients = uint32_t(*value);
    } else if (key == "max_message_size") {
      settings.max_message_size = *value;
    } else if (key == "max_command_line") {
      settings.max_command_line = uint32_t(*value);
    } else if (key == "max_text_line") {
      settings.max_text_line = uint32_t(*value);
    } else if (key == "max_errors") {
      settings.max_errors = uint32_t(*value);
    } else if (key == "starttls") {
      settings.starttls = *value != 0;
    } else if (key == "tls_required") {
      settings.tls_required = *value != 0;
    } else if (key == "implicit_tls") {
      settings.implicit_tls = *value != 0;
    } else if (key == "auth") {
      settings.auth = *value != 0;
    } else if (key == "auth_required") {
      settings.auth_required = *value != 0;
    } else if (key == "auth_plaintext") {
      settings.auth_plaintext = *value != 0;
    } else if (key == "greet_pause") {
      settings.greet_pause = *value != 0;
    } else if (key == "rate_limits") {
      if (*value != 0) {
        settings.rate_limit = [&t, &rate_refusals](ClientEvent e) -> std::optional<Reply> {
          static const char* const names[] = {"MAIL", "RCPT", "AUTH", "STARTTLS"};
          t.note(fmt::format("RATE {}", names[size_t(e)]));
          return rate_refusals[size_t(e)];
        };
      }
    } else {
      t.problem(fmt::format("unknown setting: {}", key));
    }
  }

  ServerSession session(settings);
  std::vector<std::unique_ptr<MemorySink>> sinks;  // every sink outlives the session's use
  auto sink = [&]() -> const MemorySink* { return sinks.empty() ? nullptr : sinks.back().get(); };
  t.record(session.start(), sink());

  for (size_t i = first_step; i < lines.size(); ++i) {
    const std::string& l = lines[i];
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
    auto words = split(arg, ' ');
    // "550 5.1.1 text" -> Reply
    auto parseReply = [&](size_t from) -> std::optional<Reply> {
      if (words.size() < from + 3) return std::nullopt;
      auto code = parseUnsigned(words[from]);
      if (!code) return std::nullopt;
      size_t text = size_t(words[from + 2].data() - arg.data());
      return Reply(int(*code), std::string(words[from + 1]), std::string(arg.substr(text)));
    };

    if (kind == "C" || kind == "C+") {
      auto bytes = unescapeBytes(arg);
      if (!bytes) {
        t.problem("bad escape");
        continue;
      }
      if (kind == "C") *bytes += "\r\n";
      if (feed == Feed::AsWritten) {
        t.record(session.onInput(*bytes), sink());
      } else {
        // After STARTTLS the rest of a network write belongs to the TLS engine, not to the
        // session (the driver switches transports), so byte-by-byte feeding stops there too.
        int tls_before = t.starttlsCount();
        for (char c : *bytes) {
          t.record(session.onInput(std::string_view(&c, 1)), sink());
          if (t.starttlsCount() != tls_before) break;
        }
      }
    } else if (kind == "V") {
      if (t.pendingChecks() == 0) {
        t.problem("verdict without a pending CHECK");
        continue;
      }
      Verdict v;
      if (words[0] == "accept") {
        std::vector<std::string> expand;
        for (size_t k = 1; k < words.size(); ++k) expand.emplace_back(words[k]);
        v = Verdict::accept(std::move(expand));
      } else if (auto r = words[0] == "reject" ? parseReply(1) : std::nullopt) {
        v = Verdict::refuse(*r);
      } else if (auto d = words[0] == "drop" ? parseReply(1) : std::nullopt) {
        v = Verdict::drop(*d);
      } else {
        t.problem("expected V: accept [addr..] | reject CODE X.Y.Z text | drop CODE X.Y.Z text");
        continue;
      }
      t.answeredCheck();
      t.record(session.onVerdict(std::move(v)), sink());
    } else if (kind == "S") {
      if (!t.pendingStart()) {
        t.problem("S: without a pending START");
        continue;
      }
      t.answeredStart();
      sinks.push_back(std::make_unique<MemorySink>());
      t.record(session.onMessageStarted(*sinks.back()), sink());
    } else if (kind == "K") {
      if (!t.pendingCommit()) {
        t.problem("K: without a pending COMMIT");
        continue;
      }
      if (words[0] == "commit" && words.size() == 2) {
        t.answeredCommit();
        t.record(session.onCommitted(std::string(words[1])), sink());
      } else if (auto r = words[0] == "fail" ? parseReply(1) : std::nullopt) {
        t.answeredCommit();
        t.record(session.onCommitFailed(*r), sink());
      } else {
        t.problem("expected K: commit ID | fail CODE X.Y.Z text");
      }
    } else if (kind == "T") {
      t.record(session.onTimeout(), sink());
    } else if (kind == "G") {
      t.record(session.onGreetPauseOver(), sink());
    } else if (kind == "D") {
      if (auto r = words[0] == "drop" ? parseReply(1) : std::nullopt) {
        t.record(session.onDrop(*r), sink());
      } else {
        t.problem("expected D: drop CODE X.Y.Z text");
      }
    } else if (kind == "L") {
      static const std::vector<std::string_view> events{"mail", "rcpt", "auth", "starttls"};
      auto it = std::find(events.begin(), events.end(), words[0]);
      if (it == events.end()) {
        t.problem("expected L: mail|rcpt|auth|starttls ok | CODE X.Y.Z text");
        continue;
      }
      size_t e = size_t(it - events.begin());
      if (words.size() == 2 && words[1] == "ok") {
        rate_refusals[e].reset();
      } else if (auto r = parseReply(1)) {
        rate_refusals[e] = *r;
      } else {
        t.problem("expected L: EVENT ok | EVENT CODE X.Y.Z text");
      }
    } else if (kind == "X") {
      t.record(session.onShutdown(), sink());
    } else if (kind == "P") {
      t.record(session.onPeerClosed(), sink());
    } else if (kind == "A") {
      if (!t.pendingAuth()) {
        t.problem("A: without a pending AUTHENTICATE");
        continue;
      }
      t.answeredAuth();
      if (words[0] == "ok" && words.size() == 2) {
        t.record(session.onAuthResult(true, std::string(words[1]), false, false), sink());
      } else if (words[0] == "fail") {
        bool drop = words.size() == 2 && words[1] == "drop";
        t.record(session.onAuthResult(false, "", false, drop), sink());
      } else if (words[0] == "tempfail") {
        t.record(session.onAuthResult(false, "", true, false), sink());
      } else if (words[0] == "refused") {
        t.record(session.onAuthRefused(), sink());
      } else {
        t.problem("expected A: ok USER | fail [drop] | tempfail | refused");
      }
    } else {
      t.problem("unknown step");
    }
  }
  std::string end = session.closed() ? "== closed" : "== open";
  if (!session.closed() && session.bufferedInput() > 0) {
    end += fmt::format(" buffered={}", session.bufferedInput());
  }
  t.note(end);
  return t.text();
}

class GoldenDialog : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenDialog, MatchesReference) {
  const std::string got = runScript(goldenScript(GoldenDir, GetParam()), Feed::AsWritten);
  EXPECT_EQ(got.find("\n!! "), std::string::npos) << got;
  expectMatchesGolden(GoldenDir, GetParam(), got);
}

// TCP may split a dialog anywhere: one byte per onInput() must give the same transcript.
TEST_P(GoldenDialog, SameTranscriptWhenFedByteByByte) {
  const std::string script = goldenScript(GoldenDir, GetParam());
  const std::string whole = withoutSplitDependentLines(runScript(script, Feed::AsWritten));
  const std::string bytes = withoutSplitDependentLines(runScript(script, Feed::ByteByByte));
  EXPECT_EQ(whole, bytes) << lineDiff(whole, bytes);
}

INSTANTIATE_TEST_SUITE_P(Smtp, GoldenDialog, ::testing::ValuesIn(goldenNames(GoldenDir)),
                         goldenTestName);

TEST(GoldenDialogRunner, CoversEveryScenario) {
  // The scenarios the protocol layer must keep covered; renaming one must be deliberate.
  const std::vector<std::string> names = goldenNames(GoldenDir);
  EXPECT_GE(names.size(), 20u);
  for (const auto& n : names) {
    EXPECT_TRUE(std::filesystem::exists(GoldenDir / (n + ".ref"))) << n;
  }
}

// --- Focused cases where a golden file would be awkward. ---

// A small synchronous driver: accepts every recipient, commits every message.
struct Driver {
  explicit Driver(SessionSettings s = defaultSettings()) : session(std::move(s)) {
    t.record(session.start(), nullptr);
  }
  void handle(Actions actions) {
    while (!actions.empty()) {
      t.record(actions, sink.get());
      Actions next;
      for (const Action& a : actions) {
        if (std::holds_alternative<AskVerdict>(a)) {
          t.answeredCheck();
          next = session.onVerdict(Verdict::accept({std::get<AskVerdict>(a).address}));
        } else if (std::holds_alternative<StartMessage>(a)) {
          sink = std::make_unique<MemorySink>();
          t.answeredStart();
          next = session.onMessageStarted(*sink);
        } else if (std::holds_alternative<CommitMessage>(a)) {
          t.answeredCommit();
          next = session.onCommitted("Q1");
        }
      }
      actions = std::move(next);
    }
  }
  void send(std::string_view bytes) { handle(session.onInput(bytes)); }

  ServerSession session;
  Transcript t;
  std::unique_ptr<MemorySink> sink;
};

constexpr std::string_view Dialog =
    "EHLO client.example.test\r\n"
    "MAIL FROM:<alice@example.test> SIZE=40\r\n"
    "RCPT TO:<bob@example.test>\r\n"
    "RCPT TO:<carol@example.test>\r\n"
    "DATA\r\n"
    "Subject: t\r\n\r\n..dot\r\nline\r\n.\r\n"
    "MAIL FROM:<>\r\n"
    "RCPT TO:<bob@example.test>\r\n"
    "BDAT 5\r\nabc\r\n"
    "BDAT 3 LAST\r\nd\r\n"
    "QUIT\r\n";

TEST(ServerSession, DialogGivesSameActionsWhateverTheSplit) {
  Driver whole;
  whole.send(Dialog);
  EXPECT_EQ(whole.t.problems(), 0) << whole.t.text();
  EXPECT_NE(whole.t.text().find("body=Subject: t\\r\\n\\r\\n.dot\\r\\nline\\r\\n"),
            std::string::npos)
      << whole.t.text();
  EXPECT_NE(whole.t.text().find("via=BDAT size=8 body=abc\\r\\nd\\r\\n"), std::string::npos)
      << whole.t.text();
  for (size_t step : {1u, 2u, 3u, 7u, 13u, 64u}) {
    Driver split;
    for (size_t i = 0; i < Dialog.size(); i += step) split.send(Dialog.substr(i, step));
    EXPECT_EQ(withoutSplitDependentLines(whole.t.text()), withoutSplitDependentLines(split.t.text()))
        << "step " << step;
  }
}

TEST(ServerSession, GreetingRefusalClosesAtOnce) {
  ServerSession s(defaultSettings());
  Transcript t;
  t.record(s.start(Reply(421, "4.7.0", "mail.example.test Error: too many connections")), nullptr);
  EXPECT_EQ(t.text(), "> 421 4.7.0 mail.example.test Error: too many connections\nCLOSE\n");
  EXPECT_TRUE(s.closed());
  EXPECT_TRUE(s.onInput("EHLO x\r\n").empty());
  EXPECT_FALSE(s.wantsInput());
}

TEST(ServerSession, StopsAskingForInputWhileAVerdictIsPendingAndTheBufferIsFull) {
  ServerSession s(defaultSettings());
  s.start();
  s.onInput("EHLO x\r\nMAIL FROM:<a@example.test>\r\n");
  Actions a = s.onInput("RCPT TO:<b@example.test>\r\n");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<AskVerdict>(a[0]));
  EXPECT_TRUE(s.wantsInput());
  // Pipelined NOOPs pile up while the check is pending; past 64 KiB the driver must stop.
  std::string noops;
  while (noops.size() <= 64 * 1024) noops += "NOOP\r\n";
  EXPECT_TRUE(s.onInput(noops).empty());
  EXPECT_EQ(s.bufferedInput(), noops.size());
  EXPECT_FALSE(s.wantsInput());
  a = s.onVerdict(Verdict::accept());
  EXPECT_EQ(a.size(), 1 + noops.size() / 6);  // 250 for RCPT, then one 250 per NOOP
  EXPECT_EQ(s.bufferedInput(), 0u);
  EXPECT_TRUE(s.wantsInput());
}

TEST(ServerSession, ARefusedHeloNamesTheRefusedNameForTheLog) {
  SessionSettings settings = defaultSettings();
  settings.verdict_stages |= stageBit(Stage::Helo);
  ServerSession s(settings);
  s.start();
  s.onInput("EHLO first.example\r\n");
  s.onVerdict(Verdict::accept());
  s.onInput("HELO bad_name\r\n");
  Actions a =
      s.onVerdict(Verdict::refuse(Reply(504, "5.5.2", "<bad_name>: Helo command rejected")));
  auto it = std::find_if(a.begin(), a.end(),
                         [](const Action& x) { return std::holds_alternative<Rejected>(x); });
  ASSERT_NE(it, a.end());
  // Postfix: "...; proto=SMTP helo=<bad_name>"
  EXPECT_EQ(std::get<Rejected>(*it).helo, "bad_name");
  s.onInput("MAIL FROM:<a@example.test>\r\n");
  a = s.onInput("RCPT TO:<b@example.test>\r\n");
  ASSERT_TRUE(std::holds_alternative<AskVerdict>(a[0]));
  a = s.onVerdict(Verdict::refuse(Reply(554, "5.7.1", "no")));
  it = std::find_if(a.begin(), a.end(),
                    [](const Action& x) { return std::holds_alternative<Rejected>(x); });
  ASSERT_NE(it, a.end());
  EXPECT_EQ(std::get<Rejected>(*it).helo, "first.example");  // the session's name
}

TEST(ServerSession, KeepsReadingMessageContentWhateverItsSize) {
  Driver d;
  d.send("EHLO x\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n");
  ASSERT_TRUE(d.session.inBody());
  std::string body;
  while (body.size() <= 128 * 1024) body += "0123456789012345678901234567890123456789\r\n";
  d.send(body);
  EXPECT_TRUE(d.session.wantsInput());
  EXPECT_EQ(d.session.bufferedInput(), 0u);
  d.send(".\r\n");
  EXPECT_NE(d.t.text().find("250 2.0.0 Ok: queued as Q1"), std::string::npos);
  EXPECT_EQ(d.t.lastCommit()->body_size, body.size());
}

TEST(ServerSession, BufferedInputStaysBoundedInEveryState) {
  // An endless command line or content line never makes the session buffer more than a line.
  for (std::string_view prefix :
       {"", "EHLO x\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n"}) {
    Driver d;
    d.send(prefix);
    for (int i = 0; i < 1000; ++i) d.send(std::string(100, 'x'));
    EXPECT_LE(d.session.bufferedInput(), 1001u) << prefix;
    EXPECT_FALSE(d.session.closed());
  }
}

TEST(ServerSession, CountsCommandsAsPostfixLogsThemAtDisconnect) {
  EXPECT_EQ(Driver().session.commandStats(), "commands=0/0");  // a port scan
  Driver d;
  d.send(Dialog);
  // DATA counts once, by its final 250 (not the 354); each BDAT chunk is a command.
  EXPECT_EQ(d.session.commandStats(), "ehlo=1 mail=2 rcpt=3 data=1 bdat=2 quit=1 commands=10");
  Driver e;
  e.send("EHLO x.example\r\nRCPT TO:<b@example.test>\r\nFOO\r\nNOOP\r\n");
  EXPECT_EQ(e.session.commandStats(), "ehlo=1 rcpt=0/1 noop=1 unknown=0/1 commands=2/4");
}

TEST(ServerSession, KeepsHeloAcrossRsetAndTransactions) {
  Driver d;
  d.send("HELO client.example.test\r\nMAIL FROM:<a@example.test>\r\nRSET\r\n");
  EXPECT_EQ(d.session.helo(), "client.example.test");
  EXPECT_FALSE(d.session.esmtp());
  d.send("RCPT TO:<b@example.test>\r\n");  // RSET ended the transaction
  EXPECT_NE(d.t.text().find("> 503 5.5.1 Error: need MAIL command"), std::string::npos);
  d.send("EHLO again.example.test\r\n");
  EXPECT_EQ(d.session.helo(), "again.example.test");
  EXPECT_TRUE(d.session.esmtp());
}

TEST(ServerSession, EnvelopeCarriesExpansionsAndDsnParameters) {
  ServerSession s(defaultSettings());
  s.start();
  s.onInput("EHLO x\r\nMAIL FROM:<a@example.test> RET=HDRS ENVID=id+2B1\r\n");
  s.onInput(
      "RCPT TO:<list@example.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;list+40example.test\r\n");
  s.onVerdict(Verdict::accept({"x@example.test", "y@example.test"}));
  s.onInput("DATA\r\n");
  MemorySink sink;
  s.onMessageStarted(sink);
  Actions a = s.onInput("hi\r\n.\r\n");
  ASSERT_EQ(a.size(), 1u);
  const Envelope& e = std::get<CommitMessage>(a[0]).envelope;
  EXPECT_EQ(e.mail.dsn_ret, "HDRS");
  EXPECT_EQ(e.mail.dsn_envid, "id+1");
  ASSERT_EQ(e.recipients.size(), 1u);
  EXPECT_EQ(e.recipients[0].params.recipient.text, "list@example.test");
  EXPECT_EQ(e.recipients[0].params.dsn_notify, "FAILURE,DELAY");
  EXPECT_EQ(e.recipients[0].params.dsn_orcpt, "rfc822;list@example.test");
  EXPECT_EQ(e.recipients[0].expand, (std::vector<std::string>{"x@example.test", "y@example.test"}));
  EXPECT_EQ(e.helo, "x");
  EXPECT_TRUE(e.esmtp);
  EXPECT_FALSE(e.chunking);
  EXPECT_EQ(e.body_size, 4u);
  EXPECT_EQ(sink.data, "hi\r\n");
}

// A before-queue filter's replies (docs/filters.md): an accepted MAIL or RCPT says the
// filter's 2xx, the pending MAIL/RCPT parameters are there for the driver to pass on, and the
// end of data is answered by onRelayed with the filter's reply, a refusal too.
TEST(ServerSession, SaysTheRelayedRepliesOfABeforeQueueFilter) {
  SessionSettings settings = defaultSettings();
  settings.verdict_stages = stageBit(Stage::Mail);
  ServerSession s(std::move(settings));
  Transcript t;
  t.record(s.start(), nullptr);
  t.record(s.onInput("EHLO x\r\nMAIL FROM:<a@example.test> SIZE=10\r\n"), nullptr);
  EXPECT_EQ(s.pendingMail().sender.text, "a@example.test");
  EXPECT_EQ(s.pendingMail().size, 10u);
  Verdict v = Verdict::accept();
  v.accept_reply = Reply(250, "2.1.0", "Filter: sender ok");
  t.record(s.onVerdict(std::move(v)), nullptr);
  t.record(s.onInput("RCPT TO:<b@example.test> NOTIFY=NEVER\r\n"), nullptr);
  EXPECT_EQ(s.pendingRecipient().dsn_notify, "NEVER");
  v = Verdict::accept({"b@example.test"});
  v.accept_reply = Reply(250, "2.1.5", "Filter: recipient ok");
  t.record(s.onVerdict(std::move(v)), nullptr);
  t.record(s.onInput("DATA\r\n"), nullptr);
  MemorySink sink;
  t.record(s.onMessageStarted(sink), &sink);
  t.record(s.onInput("hi\r\n.\r\n"), &sink);
  t.record(s.onRelayed(Reply(554, "5.7.1", "Filter: looks like spam")), &sink);
  t.record(s.onInput("MAIL FROM:<>\r\n"), nullptr);
  std::string text = t.text();
  EXPECT_NE(text.find("> 250 2.1.0 Filter: sender ok\n"), std::string::npos) << text;
  EXPECT_NE(text.find("> 250 2.1.5 Filter: recipient ok\n"), std::string::npos) << text;
  EXPECT_NE(text.find("> 554 5.7.1 Filter: looks like spam\n"), std::string::npos) << text;
  // The transaction is over: the next MAIL is asked about (its verdict is pending).
  EXPECT_EQ(s.commandStats(), "ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4");
}

TEST(ServerSession, PeerClosingMidDataAbortsOnceButNotWhileCommitting) {
  {
    Driver d;
    d.send("EHLO x\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\npart");
    d.t.record(d.session.onPeerClosed(), d.sink.get());
    EXPECT_TRUE(d.t.text().ends_with("> 354 End data with <CR><LF>.<CR><LF>\nABORT\n"))
        << d.t.text();
    EXPECT_TRUE(d.session.onPeerClosed().empty());
    EXPECT_TRUE(d.session.onTimeout().empty());
  }
  {
    ServerSession s(defaultSettings());
    s.start();
    s.onInput("EHLO x\r\nMAIL FROM:<a@example.test>\r\n");
    s.onInput("RCPT TO:<b@example.test>\r\n");
    s.onVerdict(Verdict::accept({"b@example.test"}));
    s.onInput("DATA\r\n");
    MemorySink sink;
    s.onMessageStarted(sink);
    Actions a = s.onInput(".\r\n");
    ASSERT_EQ(a.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<CommitMessage>(a[0]));
    // Complete and being committed: the driver finishes it, the session aborts nothing.
    EXPECT_TRUE(s.onPeerClosed().empty());
  }
}

TEST(ServerSession, TimeoutWhileStorageIsPreparedAbortsIt) {
  for (bool bdat : {false, true}) {
    ServerSession s(defaultSettings());
    Transcript t;
    t.record(s.start(), nullptr);
    t.record(s.onInput("EHLO x\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n"),
             nullptr);
    t.answeredCheck();
    t.record(s.onVerdict(Verdict::accept({"b@example.test"})), nullptr);
    t.record(s.onInput(bdat ? "BDAT 3 LAST\r\nabc" : "DATA\r\n"), nullptr);
    ASSERT_TRUE(t.pendingStart());
    t.record(s.onTimeout(), nullptr);
    EXPECT_TRUE(t.text().ends_with(
        "START\nABORT\n> 421 4.4.2 mail.example.test Error: timeout exceeded\nCLOSE\n"))
        << t.text();
    EXPECT_EQ(t.problems(), 0) << t.text();
  }
}

TEST(ServerSession, NothingAfterCloseWhenTheDriverAnswersLate) {
  // Timeout while the commit runs: the driver still finishes it and reports back.
  ServerSession s(defaultSettings());
  s.start();
  s.onInput("EHLO x\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n");
  s.onVerdict(Verdict::accept({"b@example.test"}));
  s.onInput("DATA\r\n");
  MemorySink sink;
  s.onMessageStarted(sink);
  Actions a = s.onInput("hi\r\n.\r\nNOOP\r\n");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<CommitMessage>(a[0]));
  Transcript t;
  t.record(s.onTimeout(), &sink);
  EXPECT_EQ(t.text(), "> 421 4.4.2 mail.example.test Error: timeout exceeded\nCLOSE\n");
  EXPECT_TRUE(s.onCommitted("Q1").empty());

  // A verdict arriving after a timeout.
  ServerSession v(defaultSettings());
  v.start();
  v.onInput("EHLO x\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n");
  v.onTimeout();
  EXPECT_TRUE(v.onVerdict(Verdict::accept({"b@example.test"})).empty());
}

TEST(ServerSession, ClosingBetweenChunksAbortsTheStoredChunks) {
  // Whatever ends the session between two BDAT chunks discards what is stored.
  for (std::string_view last : {"BDAT nonsense\r\n", "GET / HTTP/1.1\r\n", "QUIT\r\n"}) {
    Driver d;
    d.send("EHLO x\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nBDAT 2\r\nab");
    d.send(last);
    EXPECT_TRUE(d.session.closed()) << last;
    EXPECT_TRUE(d.t.text().ends_with("ABORT\nCLOSE\n")) << d.t.text();
    EXPECT_EQ(d.t.problems(), 0) << d.t.text();
  }
}

TEST(ServerSession, ForeignProtocolOnTheLastAllowedErrorGetsOneReply) {
  SessionSettings settings = defaultSettings();
  settings.max_errors = 2;
  ServerSession s(settings);
  Transcript t;
  t.record(s.start(), nullptr);
  t.record(s.onInput("XYZZY\r\nGET / HTTP/1.1\r\nHost: x\r\n"), nullptr);
  EXPECT_EQ(t.text(),
            "> 220 mail.example.test ESMTP Petrel\n"
            "> 502 5.5.2 Error: command not recognized\n"
            "REJECT CONNECT 221 2.7.0 Error: I can break rules, too. Goodbye. from=<>\n"
            "> 221 2.7.0 Error: I can break rules, too. Goodbye.\n"
            "CLOSE\n");
}

TEST(ServerSession, CommandLineLimitCountsTheCrlf) {
  // RFC 5321 4.5.3.1.4: 512 octets including CRLF; a bare LF counts as if it were CRLF.
  auto reply = [](std::string line) {
    Driver d;
    d.send("EHLO x\r\n");
    std::string before = d.t.text();
    d.send(line);
    return d.t.text().substr(before.size());
  };
  std::string noop510 = "NOOP " + std::string(505, 'x');
  EXPECT_EQ(reply(noop510 + "\r\n"), "> 250 2.0.0 Ok\n");
  EXPECT_EQ(reply(noop510 + "y\r\n"), "> 500 5.5.2 Error: command line too long\n");
  EXPECT_EQ(reply(noop510 + "\n"), "> 250 2.0.0 Ok\n");
  EXPECT_EQ(reply(noop510 + "y\n"), "> 500 5.5.2 Error: command line too long\n");
}

TEST(ServerSession, EscapingRoundTrips) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += char(c);
  all += std::string(30, 'a') + "{{" + std::string(12, '{') + "\\\\";
  EXPECT_EQ(unescapeBytes(escapeBytes(all)), all);
  EXPECT_EQ(unescapeBytes("{{3*x}}\\r\\n\\x41"), "xxx\r\nA");
  EXPECT_EQ(unescapeBytes("\\q"), std::nullopt);
  EXPECT_EQ(unescapeBytes("\\x4"), std::nullopt);
}

}  // namespace
}  // namespace petrel::smtp
