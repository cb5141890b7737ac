// Tests for the after-queue content filter's configuration (docs/filters.md): the settings of
// smtp-type transports (source/config/transports.cc), filters.content_filter and the
// listeners' content_filter and receive_override_options (source/config/filters.cc), with the
// errors and their positions.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "section_load.h"

namespace petrel::config {
namespace {

using section_test::Errors;

constexpr std::string_view Minimal = "domains: {local: []}\n";

constexpr std::string_view OneListener =
    "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
    "transports: {amavis: {type: smtp, concurrency: 2, xforward: true}}\n";

LoadResult load(std::string_view extra) {
  return section_test::loadAfter(Minimal, extra, "/tmp", {});
}

Errors errorsWith(std::string_view extra) { return section_test::errorsOf(load(extra)); }

TEST(ContentFilterConfigTest, SmtpTransportSettings) {
  LoadResult r = load(
      "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
      "transports:\n"
      "  amavis: {type: smtp, concurrency: 5, xforward: true, data_timeout: 1200s}\n"
      "  plain: {type: smtp}\n");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].toString());
  const SmtpTransportSettings& a = r.config->transports[0].smtp;
  EXPECT_EQ(a.concurrency, 5u);
  EXPECT_TRUE(a.xforward);
  EXPECT_EQ(a.data_timeout, 1200u);
  EXPECT_TRUE(a.any());
  const SmtpTransportSettings& p = r.config->transports[1].smtp;
  EXPECT_FALSE(p.concurrency);
  EXPECT_FALSE(p.xforward);
  EXPECT_FALSE(p.data_timeout);
  EXPECT_FALSE(p.any());  // the relay agent itself

  std::string_view l = "listeners: [{name: mx, address: '127.0.0.1:25'}]\n";
  Errors zero = errorsWith(std::string(l) + "transports: {a: {type: smtp, concurrency: 0}}\n");
  ASSERT_EQ(zero.size(), 1u);
  EXPECT_EQ(zero[0].rfind("t.yaml:3:43: transports.a.concurrency: ", 0), 0u) << zero[0];
  Errors word = errorsWith(std::string(l) + "transports: {a: {type: smtp, xforward: maybe}}\n");
  ASSERT_EQ(word.size(), 1u);
  EXPECT_NE(word[0].find("xforward"), std::string::npos) << word[0];
  Errors none = errorsWith(std::string(l) + "transports: {a: {type: smtp, data_timeout: 0}}\n");
  EXPECT_EQ(none, (Errors{"t.yaml:3:44: transports.a.data_timeout: must not be zero"}));
  Errors lmtp = errorsWith(std::string(l) + "transports: {a: {type: lmtp, xforward: true}}\n");
  ASSERT_EQ(lmtp.size(), 1u);  // an smtp setting
  EXPECT_NE(lmtp[0].find("xforward"), std::string::npos) << lmtp[0];
}

TEST(ContentFilterConfigTest, ContentFilterAndTheReinjectionListener) {
  LoadResult none = load(OneListener);
  ASSERT_TRUE(none.config);
  EXPECT_FALSE(none.config->filters.content_filter);
  EXPECT_EQ(none.config->listeners[0].receive_override, ReceiveOverrides{});
  EXPECT_FALSE(listenerContentFilter(*none.config, none.config->listeners[0]));

  LoadResult r = load(
      "listeners:\n"
      "  - {name: mx, address: '127.0.0.1:25'}\n"
      "  - name: reinject\n"
      "    address: '127.0.0.1:10025'\n"
      "    content_filter: false\n"
      "    receive_override_options: [no_header_body_checks, no_milters,\n"
      "                               no_unknown_recipient_checks, no_address_mappings]\n"
      "  - {name: other, address: '127.0.0.1:26', content_filter: 'amavis:[127.0.0.1]:10026'}\n"
      "transports: {amavis: {type: smtp, concurrency: 2, xforward: true}}\n"
      "filters: {content_filter: 'amavis:[127.0.0.1]:10024', milters: ['inet:127.0.0.1:9']}\n");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].toString());
  const Config& c = *r.config;
  EXPECT_EQ(c.filters.content_filter, (TransportRef{"amavis", "[127.0.0.1]:10024"}));
  EXPECT_EQ(listenerContentFilter(c, c.listeners[0]), c.filters.content_filter);
  EXPECT_FALSE(listenerContentFilter(c, c.listeners[1]));  // "-o content_filter="
  EXPECT_EQ(listenerContentFilter(c, c.listeners[2]),
            (TransportRef{"amavis", "[127.0.0.1]:10026"}));
  const ReceiveOverrides& o = c.listeners[1].receive_override;
  EXPECT_TRUE(o.no_header_body_checks && o.no_milters && o.no_unknown_recipient_checks &&
              o.no_address_mappings);
  EXPECT_TRUE(listenerMilters(c, c.listeners[1]).empty());
  EXPECT_EQ(listenerMilters(c, c.listeners[0]).size(), 1u);
}

TEST(ContentFilterConfigTest, ErrorsNameTheirPlace) {
  std::string l(OneListener);
  EXPECT_EQ(errorsWith(l + "filters: {content_filter: 'scanner:[127.0.0.1]:10024'}\n"),
            (Errors{"t.yaml:4:27: filters.content_filter: 'scanner:[127.0.0.1]:10024': "
                    "expected transport:nexthop with a transport that is built in (smtp, "
                    "relay, lmtp) or under transports:, or false"}));
  EXPECT_EQ(errorsWith(l + "filters: {content_filter: 'amavis:'}\n"),
            (Errors{"t.yaml:4:27: filters.content_filter: 'amavis:': a content filter needs "
                    "its next hop, e.g. amavis:[127.0.0.1]:10024"}));
  EXPECT_EQ(errorsWith(l + "filters: {content_filter: virtual}\n"),
            (Errors{"t.yaml:4:27: filters.content_filter: 'virtual': a content filter is a "
                    "transport that sends the mail on (smtp, lmtp or pipe), not the Maildir"}));
  Errors hop = errorsWith(l + "filters: {content_filter: 'amavis:[127.0.0.1]:99999'}\n");
  ASSERT_EQ(hop.size(), 1u);
  EXPECT_EQ(hop[0].rfind("t.yaml:4:27: filters.content_filter: 'amavis:[127.0.0.1]:99999': ", 0),
            0u)
      << hop[0];
  Errors listener = errorsWith(
      "listeners: [{name: mx, address: '127.0.0.1:25', content_filter: 'nope:x'}]\n");
  ASSERT_EQ(listener.size(), 1u);
  EXPECT_EQ(listener[0].rfind("t.yaml:2:65: ", 0), 0u) << listener[0];
  Errors option = errorsWith(
      "listeners: [{name: mx, address: '127.0.0.1:25', receive_override_options: [no_rbl]}]\n");
  ASSERT_EQ(option.size(), 1u);
  EXPECT_NE(option[0].find("no_header_body_checks"), std::string::npos) << option[0];
}

TEST(ContentFilterConfigTest, TheAmavisExampleLoads) {
  LoadResult r = loadConfig(std::string(PETREL_SOURCE_ROOT) + "/config-examples/amavis.yaml");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].toString());
  const Config& c = *r.config;
  EXPECT_EQ(c.filters.content_filter, (TransportRef{"amavis", "[127.0.0.1]:10024"}));
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_FALSE(listenerContentFilter(c, c.listeners[1]));
  EXPECT_TRUE(c.listeners[1].receive_override.no_address_mappings);
  EXPECT_EQ(c.findTransport("amavis")->smtp.concurrency, 5u);
}

}  // namespace
}  // namespace petrel::config
