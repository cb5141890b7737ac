// Tests for the `filters:` section (source/config/filters.cc): the milters, their default
// action and timeouts, and the errors with their positions.
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

LoadResult load(std::string_view extra) { return section_test::loadAfter(Minimal, extra, "/tmp", {}); }

Errors errorsWith(std::string_view extra) { return section_test::errorsOf(load(extra)); }

TEST(FiltersConfigTest, DefaultsAndMilters) {
  LoadResult none = load("");
  ASSERT_TRUE(none.config);
  const Filters& d = none.config->filters;
  EXPECT_TRUE(d.milters.empty());
  EXPECT_EQ(d.milter_default_action, Filters::MilterDefaultAction::Tempfail);
  EXPECT_EQ(d.milter_connect_timeout, 30u);
  EXPECT_EQ(d.milter_command_timeout, 30u);
  EXPECT_EQ(d.milter_content_timeout, 300u);
  LoadResult r = load(
      "filters:\n"
      "  milters: ['inet:127.0.0.1:8891', 'unix:/run/opendkim/opendkim.sock', 'inet:[::1]:9']\n"
      "  milter_default_action: accept\n"
      "  milter_connect_timeout: 5s\n"
      "  milter_command_timeout: 1m\n"
      "  milter_content_timeout: 10m\n");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].toString());
  const Filters& f = r.config->filters;
  ASSERT_EQ(f.milters.size(), 3u);
  EXPECT_EQ(f.milters[0].kind, MilterEndpoint::Kind::Inet);
  EXPECT_EQ(f.milters[0].host, "127.0.0.1");
  EXPECT_EQ(f.milters[0].port, 8891);
  EXPECT_EQ(f.milters[1].kind, MilterEndpoint::Kind::Unix);
  EXPECT_EQ(f.milters[1].path, "/run/opendkim/opendkim.sock");
  EXPECT_EQ(f.milters[2].host, "::1");
  EXPECT_EQ(f.milters[1].text, "unix:/run/opendkim/opendkim.sock");
  EXPECT_EQ(f.milter_default_action, Filters::MilterDefaultAction::Accept);
  EXPECT_EQ(f.milter_connect_timeout, 5u);
  EXPECT_EQ(f.milter_command_timeout, 60u);
  EXPECT_EQ(f.milter_content_timeout, 600u);
}

TEST(FiltersConfigTest, PerListenerMilters) {
  LoadResult r = loadConfigFromString(
      "listeners:\n"
      "  - {name: mx, address: '127.0.0.1:25'}\n"
      "  - {name: submission, address: '127.0.0.1:587', milters: ['unix:/run/opendkim.sock']}\n"
      "  - {name: local, address: '127.0.0.1:10025', milters: []}\n"
      "domains: {local: []}\n"
      "filters: {milters: ['inet:127.0.0.1:8891']}\n",
      "t.yaml", "/tmp");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].toString());
  const Config& c = *r.config;
  ASSERT_EQ(c.listeners.size(), 3u);
  EXPECT_FALSE(c.listeners[0].milters);
  EXPECT_EQ(listenerMilters(c, c.listeners[0]).at(0).port, 8891);
  EXPECT_EQ(listenerMilters(c, c.listeners[1]).at(0).path, "/run/opendkim.sock");
  EXPECT_TRUE(listenerMilters(c, c.listeners[2]).empty());
  LoadResult bad = loadConfigFromString(
      "listeners: [{name: mx, address: '127.0.0.1:25', milters: ['tcp:1']}]\n"
      "domains: {local: []}\n",
      "t.yaml", "/tmp");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].toString(),
            "t.yaml:1:59: listeners[0].milters[0]: 'tcp:1': expected inet:host:port or "
            "unix:/path (Postfix's milter syntax)");
}

TEST(FiltersConfigTest, Errors) {
  EXPECT_EQ(errorsWith("filters:\n  milters: ['127.0.0.1:8891', 'unix:run/x', 'inet:host:1']\n"),
            (Errors{"t.yaml:4:13: filters.milters[0]: '127.0.0.1:8891': expected inet:host:port "
                    "or unix:/path (Postfix's milter syntax)",
                    "t.yaml:4:31: filters.milters[1]: 'unix:run/x': a unix: milter needs an "
                    "absolute path",
                    "t.yaml:4:45: filters.milters[2]: 'inet:host:1': 'host' is not an IP address "
                    "(names are not resolved; IPv6 goes in brackets)"}));
  EXPECT_EQ(errorsWith("filters:\n  milters: inet:127.0.0.1:1\n"),
            Errors{"t.yaml:4:12: filters.milters: expected a list of milters "
                   "(\"inet:127.0.0.1:8891\", \"unix:/path\")"});
  EXPECT_EQ(errorsWith("filters:\n  milter_default_action: quarantine\n"),
            Errors{"t.yaml:4:26: filters.milter_default_action: expected tempfail, accept or "
                   "reject, got 'quarantine'"});
  EXPECT_EQ(errorsWith("filters:\n  milter_timeout: 1s\n"),
            Errors{"t.yaml:4:3: unknown key 'milter_timeout' in filters"});
}

}  // namespace
}  // namespace petrel::config
