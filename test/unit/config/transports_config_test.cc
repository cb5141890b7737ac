// Tests for the `transports:` section and delivery.transport (source/config/transports.cc):
// named transports with their types, the built-in names, and the errors with positions.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "section_load.h"

namespace petrel::config {
namespace {

using section_test::Errors;

constexpr std::string_view Minimal =
    "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
    "domains: {local: []}\n";

LoadResult load(std::string_view extra) {
  return section_test::loadAfter(Minimal, extra, "/tmp", {});
}

Errors errorsWith(std::string_view extra) { return section_test::errorsOf(load(extra)); }

TEST(TransportsConfigTest, NamedTransportsAndTheLocalTransport) {
  LoadResult none = load("");
  ASSERT_TRUE(none.config);
  EXPECT_TRUE(none.config->transports.empty());
  EXPECT_EQ(none.config->delivery.transport, (TransportRef{"virtual", ""}));

  LoadResult r = load(
      "transports:\n"
      "  amavis: {type: smtp}\n"
      "  dovecot: {type: pipe, argv: [/bin/cat]}\n"
      "delivery:\n"
      "  transport: 'lmtp:unix:/run/dovecot/lmtp'\n");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].toString());
  const Config& c = *r.config;
  ASSERT_EQ(c.transports.size(), 2u);
  EXPECT_EQ(c.transports[0].name, "amavis");
  EXPECT_EQ(c.transports[0].type, TransportType::Smtp);
  EXPECT_EQ(c.transports[1].type, TransportType::Pipe);
  EXPECT_EQ(c.transports[1].origin, "t.yaml:5:3");
  EXPECT_EQ(c.delivery.transport, (TransportRef{"lmtp", "unix:/run/dovecot/lmtp"}));
  EXPECT_EQ(c.findTransport("dovecot")->type, TransportType::Pipe);
  EXPECT_EQ(c.findTransport("relay")->type, TransportType::Smtp);
  EXPECT_FALSE(c.findTransport("amavis2"));

  LoadResult piped = load(
      "transports: {dovecot: {type: pipe, argv: [/bin/cat]}}\ndelivery: {transport: dovecot}\n");
  ASSERT_TRUE(piped.config);
  EXPECT_EQ(piped.config->delivery.transport, (TransportRef{"dovecot", ""}));
}

TEST(TransportsConfigTest, ErrorsNameTheirPlace) {
  EXPECT_EQ(errorsWith("transports:\n  virtual: {type: smtp}\n"),
            (Errors{"t.yaml:4:3: transports: 'virtual' is the built-in Maildir agent; its "
                    "settings are under delivery.maildir"}));
  EXPECT_EQ(errorsWith("transports:\n  'a:b': {type: smtp}\n"),
            (Errors{"t.yaml:4:3: transports: 'a:b' is not a valid transport name (use letters, "
                    "digits, '-', '_' and '.')"}));
  Errors bad_type = errorsWith("transports:\n  x: {type: uucp}\n");
  ASSERT_EQ(bad_type.size(), 1u);
  EXPECT_EQ(bad_type[0].rfind("t.yaml:4:13: ", 0), 0u) << bad_type[0];
  Errors no_type = errorsWith("transports:\n  x: {}\n");
  ASSERT_EQ(no_type.size(), 1u);
  EXPECT_NE(no_type[0].find("type"), std::string::npos) << no_type[0];
  Errors unknown_key = errorsWith("transports:\n  x: {type: lmtp, flags: R}\n");
  ASSERT_EQ(unknown_key.size(), 1u);
  EXPECT_NE(unknown_key[0].find("flags"), std::string::npos) << unknown_key[0];
  EXPECT_EQ(errorsWith("delivery: {transport: 'dovecot:'}\n"),
            (Errors{"t.yaml:3:23: delivery.transport: 'dovecot:': expected transport:nexthop "
                    "with a transport that is built in (virtual, smtp, relay, lmtp) or under "
                    "transports:"}));
}

TEST(TransportsConfigTest, LmtpSettings) {
  LoadResult defaults = load("transports: {dovecot: {type: lmtp}}\n");
  ASSERT_TRUE(defaults.config);
  const LmtpTransportSettings& d = defaults.config->transports[0].lmtp;
  EXPECT_EQ(d.concurrency, 20u);
  EXPECT_EQ(d.connection_cache_time, 2u);
  EXPECT_EQ(d.timeouts.connect, 30u);
  EXPECT_EQ(d.timeouts.data_done, 600u);

  LoadResult r = load(
      "transports:\n"
      "  lmtp:\n"
      "    type: lmtp\n"
      "    concurrency: 4\n"
      "    connection_cache_time: 10s\n"
      "    timeouts: {connect: 5s, greeting: 1m, command: 2m, data_init: 3m, data_block: 4m,\n"
      "               data_done: 5m}\n");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].toString());
  const LmtpTransportSettings& s = r.config->transports[0].lmtp;
  EXPECT_EQ(s.concurrency, 4u);
  EXPECT_EQ(s.connection_cache_time, 10u);
  EXPECT_EQ(s.timeouts.connect, 5u);
  EXPECT_EQ(s.timeouts.greeting, 60u);
  EXPECT_EQ(s.timeouts.command, 120u);
  EXPECT_EQ(s.timeouts.data_init, 180u);
  EXPECT_EQ(s.timeouts.data_block, 240u);
  EXPECT_EQ(s.timeouts.data_done, 300u);

  Errors zero = errorsWith("transports: {x: {type: lmtp, concurrency: 0}}\n");
  ASSERT_EQ(zero.size(), 1u);
  EXPECT_EQ(zero[0].rfind("t.yaml:3:", 0), 0u) << zero[0];
  Errors bad_timeout = errorsWith("transports: {x: {type: lmtp, timeouts: {lhlo: 5s}}}\n");
  ASSERT_EQ(bad_timeout.size(), 1u);
  EXPECT_NE(bad_timeout[0].find("lhlo"), std::string::npos) << bad_timeout[0];
}

TEST(TransportsConfigTest, PipeSettings) {
  LoadResult r = load(
      "transports:\n"
      "  dovecot:\n"
      "    type: pipe\n"
      "    argv: [/usr/lib/dovecot/deliver, -f, \"${sender}\", -d, \"${recipient}\"]\n"
      "    user: vmail:mail\n"
      "    flags: DRhu\n"
      "    size_limit: 10M\n"
      "    time_limit: 5m\n"
      "    directory: /tmp\n"
      "    env: {LANG: C}\n"
      "  batch: {type: pipe, argv: [/usr/bin/batch, '$$HOME', '$(sender)']}\n");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].toString());
  const PipeTransportSettings& p = r.config->transports[0].pipe;
  EXPECT_EQ(p.argv, (std::vector<std::string>{"/usr/lib/dovecot/deliver", "-f", "${sender}", "-d",
                                              "${recipient}"}));
  EXPECT_EQ(p.user, "vmail");
  EXPECT_EQ(p.group, "mail");
  EXPECT_EQ(p.flags, "DRhu");
  EXPECT_EQ(p.size_limit, 10u * 1024 * 1024);
  EXPECT_EQ(p.time_limit, 300u);
  EXPECT_EQ(p.max_recipients, 1u);  // ${recipient}: one run per recipient
  EXPECT_EQ(p.directory, "/tmp");
  EXPECT_EQ(p.env, (std::vector<std::pair<std::string, std::string>>{{"LANG", "C"}}));
  const PipeTransportSettings& b = r.config->transports[1].pipe;
  EXPECT_EQ(b.max_recipients, 0u);  // no per-recipient macro: all recipients in one run
  EXPECT_EQ(b.time_limit, 1000u);   // Postfix's command_time_limit
  EXPECT_EQ(b.null_sender, "MAILER-DAEMON");
}

TEST(TransportsConfigTest, PipeErrors) {
  auto one = [](std::string_view pipe) {
    Errors e = errorsWith(std::string("transports:\n  p: ") + std::string(pipe) + "\n");
    return e.size() == 1 ? e[0] : fmt::format("{} errors", e.size());
  };
  EXPECT_NE(one("{type: pipe}").find("argv"), std::string::npos);
  EXPECT_NE(one("{type: pipe, argv: '/bin/cat ${recipient}'}").find("no shell"), std::string::npos);
  EXPECT_NE(one("{type: pipe, argv: [cat]}").find("absolute path"), std::string::npos);
  EXPECT_EQ(one("{type: pipe, argv: [/bin/cat, '${recipent}']}"),
            "t.yaml:4:36: transports.p.argv[1]: '${recipent}': unknown macro '${recipent}' "
            "(write $$ for a '$')");
  EXPECT_NE(one("{type: pipe, argv: [/bin/cat, '${sender']}").find("unterminated"),
            std::string::npos);
  EXPECT_NE(one("{type: pipe, argv: [/bin/cat, $HOME]}").find("unknown macro '${HOME}'"),
            std::string::npos);
  EXPECT_NE(one("{type: pipe, argv: [/bin/cat], user: root}").find("never runs a program as root"),
            std::string::npos);
  EXPECT_NE(one("{type: pipe, argv: [/bin/cat], user: 'vmail:'}").find("user:group"),
            std::string::npos);
  EXPECT_NE(one("{type: pipe, argv: [/bin/cat], flags: DRZ}").find("unknown flag 'Z'"),
            std::string::npos);
  EXPECT_NE(
      one("{type: pipe, argv: [/bin/cat], flags: D, max_recipients: 5}").find("max_recipients: 1"),
      std::string::npos);
  EXPECT_NE(one("{type: pipe, argv: [/bin/cat], time_limit: 0}").find("time_limit"),
            std::string::npos);
  EXPECT_NE(one("{type: pipe, argv: [/bin/cat], shell: yes}").find("shell"), std::string::npos);
}

TEST(TransportsConfigTest, SplitPipeArgument) {
  auto parts = splitPipeArgument("-d${recipient}x$$y$user$(extension)");
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->size(), 5u);
  EXPECT_EQ((*parts)[0].text, "-d");
  EXPECT_TRUE((*parts)[1].macro);
  EXPECT_EQ((*parts)[1].text, "recipient");
  EXPECT_EQ((*parts)[2].text, "x$y");
  EXPECT_FALSE((*parts)[2].macro);
  EXPECT_EQ((*parts)[3].text, "user");
  EXPECT_EQ((*parts)[4].text, "extension");
  EXPECT_FALSE(splitPipeArgument("$"));
  EXPECT_FALSE(splitPipeArgument("${}"));
  EXPECT_TRUE(isPerRecipientPipeMacro("original_recipient"));
  EXPECT_FALSE(isPerRecipientPipeMacro("sender"));
}

}  // namespace
}  // namespace petrel::config
