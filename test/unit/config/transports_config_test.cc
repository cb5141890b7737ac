// Tests for the `transports:` section and delivery.transport (source/config/transports.cc):
// named transports with their types, the built-in names, and the errors with positions.
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
      "  dovecot: {type: pipe}\n"
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

  LoadResult piped = load("transports: {dovecot: {type: pipe}}\ndelivery: {transport: dovecot}\n");
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

}  // namespace
}  // namespace petrel::config
