// Tests for the pipe agent's pure rules (delivery/pipe_command.h): argv expansion with the
// h, q, u flags and hostile values, runs per recipient, the header lines of D R O F, the
// content conversion of . > B, and the exit status verdicts of Postfix's sysexits table.
#include "petrel/delivery/pipe_command.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace petrel::delivery {
namespace {

config::PipeTransportSettings settings(std::vector<std::string> argv, std::string flags = "") {
  config::PipeTransportSettings s;
  s.argv = std::move(argv);
  s.flags = std::move(flags);
  return s;
}

PipeMessageInfo info() {
  PipeMessageInfo m;
  m.sender = "Alice@Example.NET";
  m.nexthop = "Mail.Example.ORG";
  m.size = 1234;
  m.client = "mx.example.net[192.0.2.7]";
  m.helo = "mx.example.net";
  m.protocol = "ESMTP";
  m.queue_id = "3F2A91C04B";
  return m;
}

std::vector<std::string> expand(const config::PipeTransportSettings& s,
                                const std::vector<PipeRecipient>& rcpts,
                                PipeMessageInfo m = info()) {
  auto argv = expandPipeArgv(s, m, rcpts);
  EXPECT_TRUE(argv) << argv.error().message();
  return argv ? *argv : std::vector<std::string>{};
}

TEST(PipeCommandTest, ExpandsEveryMacro) {
  auto s =
      settings({"/bin/prog", "${sender}", "${recipient}", "${user}", "${extension}", "${domain}",
                "${nexthop}", "${mailbox}", "${original_recipient}", "${size}", "${client_address}",
                "${client_hostname}", "${client_helo}", "${client_protocol}", "${sasl_method}",
                "${sasl_username}", "${queue_id}", "x=$user,$$"});
  EXPECT_EQ(expand(s, {{"Bob+Tag@Example.ORG", "bob@example.org"}}),
            (std::vector<std::string>{"/bin/prog", "Alice@Example.NET", "Bob+Tag@Example.ORG",
                                      "Bob", "Tag", "Example.ORG", "Mail.Example.ORG", "Bob+Tag",
                                      "bob@example.org", "1234", "192.0.2.7", "mx.example.net",
                                      "mx.example.net", "ESMTP", "", "", "3F2A91C04B", "x=Bob,$"}));
}

TEST(PipeCommandTest, FlagsFoldAndQuote) {
  auto s = settings({"/bin/prog", "${recipient}", "${domain}", "${nexthop}", "${user}"}, "hu");
  EXPECT_EQ(expand(s, {{"Bob+Tag@Example.ORG", ""}}),
            (std::vector<std::string>{"/bin/prog", "bob+tag@example.org", "example.org",
                                      "mail.example.org", "bob"}));
  auto q = settings({"/bin/prog", "${sender}", "${recipient}", "${user}"}, "q");
  EXPECT_EQ(expand(q, {{"john smith@example.org", ""}}),
            (std::vector<std::string>{"/bin/prog", "Alice@Example.NET",
                                      "\"john smith\"@example.org", "john smith"}));
  EXPECT_EQ(quoteLocalPart("a\"b\\c@x"), "\"a\\\"b\\\\c\"@x");
  EXPECT_EQ(quoteLocalPart(".a@x"), "\".a\"@x");
  EXPECT_EQ(quoteLocalPart("a.b@x"), "a.b@x");
  PipeMessageInfo null_sender = info();
  null_sender.sender = "";
  EXPECT_EQ(expand(settings({"/bin/prog", "-f", "$sender"}), {{"b@x", ""}}, null_sender),
            (std::vector<std::string>{"/bin/prog", "-f", "MAILER-DAEMON"}));
}

TEST(PipeCommandTest, PerRecipientArgumentsRepeat) {
  auto s = settings({"/bin/prog", "-f", "${sender}", "--", "${recipient}"});
  EXPECT_EQ(expand(s, {{"a@x", ""}, {"b@x", ""}, {"c@y", ""}}),
            (std::vector<std::string>{"/bin/prog", "-f", "Alice@Example.NET", "--", "a@x", "b@x",
                                      "c@y"}));
  EXPECT_EQ(pipeRuns(3, 1), (std::vector<std::vector<size_t>>{{0}, {1}, {2}}));
  EXPECT_EQ(pipeRuns(5, 2), (std::vector<std::vector<size_t>>{{0, 1}, {2, 3}, {4}}));
  EXPECT_EQ(pipeRuns(3, 0), (std::vector<std::vector<size_t>>{{0, 1, 2}}));
}

TEST(PipeCommandTest, HostileValuesStayOneArgument) {
  std::string hostile = "x;rm -rf /;$(reboot)`id`|&>\"'\n\r\tBcc: y@z";
  std::string huge(100000, 'a');
  auto s = settings({"/bin/prog", "-d", "${recipient}", "--user=${user}"});
  auto argv = expand(s, {{hostile + "@example.org", ""}});
  ASSERT_EQ(argv.size(), 4u);
  EXPECT_EQ(argv[2], hostile + "@example.org");
  EXPECT_EQ(argv[3], "--user=" + hostile.substr(0, hostile.find('+')));
  // A value is never expanded again: "${sender}" in an address is text.
  EXPECT_EQ(expand(s, {{"${sender}@x", ""}})[2], "${sender}@x");
  auto long_argv = expand(s, {{huge + "@example.org", ""}});
  ASSERT_EQ(long_argv.size(), 4u);
  EXPECT_EQ(long_argv[2].size(), huge.size() + 12);
}

TEST(PipeCommandTest, HeaderLinesOfTheFlags) {
  std::vector<PipeRecipient> one = {{"Bob@Example.ORG", "bobby@example.org"}};
  EXPECT_EQ(pipeHeaderLines("DRO", "alice@example.net", "MAILER-DAEMON", one, 0),
            "Return-Path: <alice@example.net>\n"
            "Delivered-To: bob@example.org\n"
            "X-Original-To: bobby@example.org\n");
  EXPECT_EQ(pipeHeaderLines("F", "", "MAILER-DAEMON", one, 1700000000),
            "From MAILER-DAEMON  Tue Nov 14 22:13:20 2023\n");
  EXPECT_EQ(pipeHeaderLines("R", "", "", one, 0), "Return-Path: <>\n");
  EXPECT_EQ(pipeHeaderLines("", "a@b", "MAILER-DAEMON", one, 0), "");
  // A line end in an address never starts a header field of its own.
  EXPECT_EQ(pipeHeaderLines("O", "a@b", "", {{"x@y", "x\nBcc: z@w"}}, 0),
            "X-Original-To: \"x_Bcc: z\"@w\n");
}

TEST(PipeCommandTest, DeliveredToLoop) {
  std::string header = "Received: x\r\nDelivered-To: Bob@Example.org\r\nSubject: s\r\n";
  EXPECT_TRUE(hasDeliveredTo(header, "bob@example.org"));
  EXPECT_FALSE(hasDeliveredTo(header, "carol@example.org"));
  EXPECT_FALSE(hasDeliveredTo("X-Delivered-To: bob@example.org\r\n", "bob@example.org"));
}

std::string convert(std::string_view flags, std::string_view wire, size_t piece) {
  PipeContentWriter w(flags);
  std::string out;
  for (size_t i = 0; i < wire.size(); i += piece) w.add(wire.substr(i, piece), out);
  w.finish(out);
  return out;
}

TEST(PipeCommandTest, ContentConversion) {
  std::string wire = "Subject: s\r\n\r\nFrom me\r\n.dot\r\nFro\r\nFrom\r\nbare\rcr\r\nend";
  for (size_t piece : {1u, 2u, 3u, 7u, 1000u}) {
    EXPECT_EQ(convert("", wire, piece), "Subject: s\n\nFrom me\n.dot\nFro\nFrom\nbare\rcr\nend\n")
        << piece;
    EXPECT_EQ(convert(".>B", wire, piece),
              "Subject: s\n\n>From me\n..dot\nFro\nFrom\nbare\rcr\nend\n\n")
        << piece;
  }
  EXPECT_EQ(convert("", "", 1), "");
  EXPECT_EQ(convert(">", "From ", 1), ">From \n");
  EXPECT_EQ(convert("", "a\r", 1), "a\r\n");
}

TEST(PipeCommandTest, PrintableOutput) {
  EXPECT_EQ(printablePipeOutput("no such\tuser\n\x1b[31mred\xff\n"), "no such user _[31mred_");
  EXPECT_EQ(printablePipeOutput(std::string(5000, 'x')).size(), 1024u);
}

PipeVerdict verdict(int status, std::string_view output = "") {
  PipeExit e;
  e.exited = true;
  e.status = status;
  return pipeVerdict(e, output, "/bin/prog");
}

TEST(PipeCommandTest, ExitStatusVerdicts) {
  using S = PipeVerdict::Status;
  EXPECT_EQ(verdict(0).status, S::Delivered);
  PipeVerdict t = verdict(75, "try later");
  EXPECT_EQ(t.status, S::Deferred);
  EXPECT_EQ(t.dsn, "4.3.0");
  EXPECT_EQ(t.text, "temporary failure. Command output: try later");
  EXPECT_EQ(verdict(71).status, S::Deferred);
  PipeVerdict u = verdict(67, "no such user: bob");
  EXPECT_EQ(u.status, S::Bounced);
  EXPECT_EQ(u.dsn, "5.1.1");
  EXPECT_EQ(u.text, "user unknown. Command output: no such user: bob");
  struct Row {
    int code;
    const char* dsn;
  };
  for (Row r : {Row{64, "5.3.0"}, Row{65, "5.6.0"}, Row{68, "5.1.2"}, Row{73, "5.2.0"},
                Row{76, "5.5.0"}, Row{77, "5.7.0"}, Row{78, "5.3.5"}}) {
    EXPECT_EQ(verdict(r.code).dsn, r.dsn) << r.code;
    EXPECT_EQ(verdict(r.code).status, S::Bounced) << r.code;
  }
  PipeVerdict other = verdict(1);
  EXPECT_EQ(other.status, S::Bounced);
  EXPECT_EQ(other.dsn, "5.3.0");
  EXPECT_EQ(other.text, "Command died with status 1: \"/bin/prog\"");
  // Output that starts with an enhanced status code decides (pipe(8)).
  PipeVerdict quota = verdict(1, "4.2.2 mailbox full");
  EXPECT_EQ(quota.status, S::Deferred);
  EXPECT_EQ(quota.dsn, "4.2.2");
  EXPECT_EQ(quota.text, "mailbox full");
  EXPECT_EQ(verdict(1, "5.1.1").dsn, "5.1.1");
  EXPECT_EQ(verdict(1, "5.1.1x").dsn, "5.3.0");

  PipeExit signaled;
  signaled.status = 9;
  EXPECT_EQ(pipeVerdict(signaled, "", "/bin/prog").status, S::Deferred);
  EXPECT_EQ(pipeVerdict(signaled, "", "/bin/prog").text,
            "Command died with signal 9: \"/bin/prog\"");
  PipeExit timeout;
  timeout.timed_out = true;
  PipeVerdict tv = pipeVerdict(timeout, "partial", "/bin/prog");
  EXPECT_EQ(tv.status, S::Bounced);  // as Postfix's pipe(8), not a deferral
  EXPECT_EQ(tv.dsn, "5.3.0");
  EXPECT_EQ(tv.text, "Command time limit exceeded: \"/bin/prog\". Command output: partial");
  PipeVerdict silent = pipeVerdict(timeout, "", "/bin/prog");
  EXPECT_EQ(silent.text, "Command time limit exceeded: \"/bin/prog\"");
  PipeExit stopped;
  stopped.interrupted = true;
  EXPECT_EQ(pipeVerdict(stopped, "", "/bin/prog").dsn, "4.3.2");
}

}  // namespace
}  // namespace petrel::delivery
