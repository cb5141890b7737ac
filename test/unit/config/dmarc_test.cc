// Tests for the `dmarc:` section (source/config/dmarc.cc): defaults, every key, and the exact
// text and position of errors.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "section_load.h"
#include "petrel/server/config_checks.h"

namespace petrel::config {
namespace {

using section_test::Errors;

constexpr std::string_view Minimal =
    "hostname: mx.example.org\n"
    "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
    "domains: {local: []}\n";

LoadResult load(std::string_view extra) { return section_test::loadAfter(Minimal, extra); }

Errors errorsWith(std::string_view extra) { return section_test::errorsOf(load(extra)); }

TEST(DmarcConfigTest, Defaults) {
  LoadResult r = load("state_dir: /srv/petrel\n");
  ASSERT_TRUE(r.config.has_value());
  const Dmarc& d = r.config->dmarc;
  EXPECT_TRUE(d.verify);
  EXPECT_EQ(d.on_reject, Dmarc::OnReject::Reject);
  EXPECT_EQ(d.on_quarantine, Dmarc::OnQuarantine::Header);
  EXPECT_EQ(d.public_suffix_list, "/usr/share/publicsuffix/public_suffix_list.dat");
  EXPECT_FALSE(d.reports.enabled);
  EXPECT_EQ(d.reports.database, "/srv/petrel/dmarc.db");
  EXPECT_EQ(d.reports.org_name, "mx.example.org");
  EXPECT_EQ(d.reports.email, "postmaster@mx.example.org");
}

TEST(DmarcConfigTest, EveryKey) {
  LoadResult r = load(
      "dmarc:\n"
      "  verify: false\n"
      "  on_reject: quarantine\n"
      "  on_quarantine: hold\n"
      "  public_suffix_list: psl/list.dat\n"
      "  reports:\n"
      "    enabled: true\n"
      "    database: dmarc/reports.db\n"
      "    org_name: Example Org\n"
      "    email: dmarc-reports@example.org\n");
  ASSERT_TRUE(r.config.has_value()) << (r.errors.empty() ? "" : r.errors[0].toString());
  const Dmarc& d = r.config->dmarc;
  EXPECT_FALSE(d.verify);
  EXPECT_EQ(d.on_reject, Dmarc::OnReject::Quarantine);
  EXPECT_EQ(d.on_quarantine, Dmarc::OnQuarantine::Hold);
  EXPECT_EQ(d.public_suffix_list, "/etc/petrel/psl/list.dat");
  EXPECT_TRUE(d.reports.enabled);
  EXPECT_EQ(d.reports.database, "/etc/petrel/dmarc/reports.db");
  EXPECT_EQ(d.reports.org_name, "Example Org");
  EXPECT_EQ(d.reports.email, "dmarc-reports@example.org");
  r = load("dmarc: {on_reject: none, on_quarantine: none}\n");
  ASSERT_TRUE(r.config.has_value());
  EXPECT_EQ(r.config->dmarc.on_reject, Dmarc::OnReject::None);
  EXPECT_EQ(r.config->dmarc.on_quarantine, Dmarc::OnQuarantine::None);
}

TEST(DmarcConfigTest, BadValues) {
  EXPECT_EQ(errorsWith("dmarc:\n"
                       "  verify: maybe\n"
                       "  on_reject: bounce\n"
                       "  on_quarantine: junk\n"
                       "  public_suffix_list: ''\n"
                       "  report: {}\n"
                       "  reports: {enabled: true, email: nobody, sender: x}\n"),
            (Errors{
                "t.yaml:5:11: dmarc.verify: expected true or false, got 'maybe'",
                "t.yaml:6:14: dmarc.on_reject: expected reject, quarantine or none, got 'bounce'",
                "t.yaml:7:18: dmarc.on_quarantine: expected hold, header or none, got 'junk'",
                "t.yaml:8:23: dmarc.public_suffix_list: expected a path, got ''",
                "t.yaml:9:3: unknown key 'report' in dmarc (did you mean 'reports'?)",
                "t.yaml:10:35: dmarc.reports.email: 'nobody' is not an address (local@domain)",
                "t.yaml:10:43: unknown key 'sender' in dmarc.reports",
            }));
  EXPECT_EQ(errorsWith("dmarc: [verify]\n"),
            (Errors{"t.yaml:4:8: dmarc: expected a mapping, got a list"}));
}

}  // namespace
}  // namespace petrel::config
