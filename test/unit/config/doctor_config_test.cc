// Tests for the `doctor:` section (source/config/doctor.cc): defaults, every key, and the
// exact text and position of errors.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "petrel/config/config.h"
#include "section_load.h"

namespace petrel::config {
namespace {

using section_test::Errors;

constexpr std::string_view Minimal =
    "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
    "domains: {local: []}\n";

LoadResult load(std::string_view extra) { return section_test::loadAfter(Minimal, extra); }

Errors errorsWith(std::string_view extra) { return section_test::errorsOf(load(extra)); }

TEST(DoctorConfigTest, Defaults) {
  LoadResult r = load("");
  ASSERT_TRUE(r.config.has_value());
  const Doctor& d = r.config->doctor;
  EXPECT_EQ(d.interval, 6u * 3600);
  EXPECT_TRUE(d.addresses.empty());
  EXPECT_FALSE(d.dns_lists.has_value());
  EXPECT_EQ(d.relay_test_source, "");
  EXPECT_EQ(d.min_free_space, 1ull << 30);
  EXPECT_EQ(d.certificate_warning, 14u * 86400);
}

TEST(DoctorConfigTest, EveryKey) {
  LoadResult r = load(
      "doctor:\n"
      "  interval: 1h\n"
      "  addresses: [192.0.2.25, '2001:DB8::25']\n"
      "  dns_lists: [Zen.Spamhaus.org]\n"
      "  relay_test_source: 127.0.0.2\n"
      "  min_free_space: 5GB\n"
      "  certificate_warning: 30d\n");
  ASSERT_TRUE(r.config.has_value()) << section_test::errorsOf(r).front();
  const Doctor& d = r.config->doctor;
  EXPECT_EQ(d.interval, 3600u);
  EXPECT_EQ(d.addresses, (std::vector<std::string>{"192.0.2.25", "2001:db8::25"}));
  EXPECT_EQ(d.dns_lists, (std::vector<std::string>{"zen.spamhaus.org"}));
  EXPECT_EQ(d.relay_test_source, "127.0.0.2");
  EXPECT_EQ(d.min_free_space, 5ull << 30);  // sizes are binary (limits.message_size too)
  EXPECT_EQ(d.certificate_warning, 30u * 86400);
}

TEST(DoctorConfigTest, EmptyDnsListsTurnsThemOff) {
  LoadResult r = load("doctor: {dns_lists: []}\n");
  ASSERT_TRUE(r.config.has_value());
  EXPECT_EQ(r.config->doctor.dns_lists, (std::vector<std::string>{}));
}

TEST(DoctorConfigTest, Errors) {
  EXPECT_EQ(errorsWith("doctor: {addresses: [mail.example]}\n"),
            (Errors{"t.yaml:3:22: doctor.addresses[0]: 'mail.example' is not an IP address"}));
  EXPECT_EQ(errorsWith("doctor: {relay_test_source: 1.2.3}\n"),
            (Errors{"t.yaml:3:29: doctor.relay_test_source: '1.2.3' is not an IP address of "
                    "this host"}));
  EXPECT_EQ(errorsWith("doctor: {dns_lists: zen.spamhaus.org}\n"),
            (Errors{"t.yaml:3:21: doctor.dns_lists: expected a list (a DNS list zone such as "
                    "zen.spamhaus.org), got 'zen.spamhaus.org'"}));
  EXPECT_EQ(errorsWith("doctor: {intervals: 1h}\n").size(), 1u);
  EXPECT_EQ(errorsWith("doctor: 5\n").size(), 1u);
}

}  // namespace
}  // namespace petrel::config
