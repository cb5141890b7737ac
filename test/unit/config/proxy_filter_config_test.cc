// Tests for a listener's before-queue filter keys (source/config/listeners.cc, filters.cc):
// proxy_filter in its three spellings, proxy_timeout, proxy_ehlo, and the errors with their
// positions.
#include <gtest/gtest.h>

#include <string>

#include "petrel/config/config.h"
#include "section_load.h"

namespace petrel::config {
namespace {

using section_test::Errors;

LoadResult load(const std::string& listener) {
  return loadConfigFromString("listeners:\n  - " + listener + "\ndomains: {local: []}\n", "t.yaml",
                              "/tmp", {});
}

TEST(ProxyFilterConfigTest, SpellingsAndDefaults) {
  LoadResult none = load("{name: mx, address: '127.0.0.1:25'}");
  ASSERT_TRUE(none.config);
  EXPECT_FALSE(none.config->listeners[0].proxy_filter);

  LoadResult bare = load("{name: mx, address: '127.0.0.1:25', proxy_filter: '127.0.0.1:10025'}");
  ASSERT_TRUE(bare.config) << (bare.errors.empty() ? "" : bare.errors[0].toString());
  const auto& p = *bare.config->listeners[0].proxy_filter;
  EXPECT_EQ(p.endpoint.kind, MilterEndpoint::Kind::Inet);
  EXPECT_EQ(p.endpoint.host, "127.0.0.1");
  EXPECT_EQ(p.endpoint.port, 10025);
  EXPECT_EQ(p.endpoint.text, "127.0.0.1:10025");
  EXPECT_EQ(p.timeout, 100u);
  EXPECT_EQ(p.ehlo, "");

  LoadResult inet = load(
      "{name: mx, address: '127.0.0.1:25', proxy_filter: 'inet:[::1]:10025', "
      "proxy_timeout: 2m, proxy_ehlo: filter.example}");
  ASSERT_TRUE(inet.config) << (inet.errors.empty() ? "" : inet.errors[0].toString());
  const auto& q = *inet.config->listeners[0].proxy_filter;
  EXPECT_EQ(q.endpoint.host, "::1");
  EXPECT_EQ(q.timeout, 120u);
  EXPECT_EQ(q.ehlo, "filter.example");

  LoadResult unix_socket =
      load("{name: mx, address: '127.0.0.1:25', proxy_filter: 'unix:/run/filter.sock'}");
  ASSERT_TRUE(unix_socket.config);
  EXPECT_EQ(unix_socket.config->listeners[0].proxy_filter->endpoint.kind,
            MilterEndpoint::Kind::Unix);
  EXPECT_EQ(unix_socket.config->listeners[0].proxy_filter->endpoint.path, "/run/filter.sock");
}

TEST(ProxyFilterConfigTest, Errors) {
  EXPECT_EQ(section_test::errorsOf(
                load("{name: mx, address: '127.0.0.1:25', proxy_filter: 'filter:10025'}")),
            Errors{"t.yaml:2:55: listeners[0].proxy_filter: 'filter:10025': 'filter' is not an "
                   "IP address (names are not resolved; IPv6 goes in brackets)"});
  EXPECT_EQ(section_test::errorsOf(load("{name: mx, address: '127.0.0.1:25', proxy_timeout: 5s}")),
            Errors{"t.yaml:2:56: listeners[0].proxy_timeout: only meaningful with proxy_filter"});
  EXPECT_EQ(section_test::errorsOf(load("{name: mx, address: '127.0.0.1:25', proxy_filter: "
                                        "'127.0.0.1:1', proxy_ehlo: 'a b'}")),
            Errors{"t.yaml:2:82: listeners[0].proxy_ehlo: expected a host name (no spaces or "
                   "control characters)"});
}

}  // namespace
}  // namespace petrel::config
