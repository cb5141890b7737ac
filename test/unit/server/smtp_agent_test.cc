// server::xforwardAttributes: what an after-queue content filter is told about the original
// client of a queued message (Postfix XFORWARD_README).
#include "petrel/server/smtp_agent.h"

#include <gtest/gtest.h>

namespace petrel::server {
namespace {

using Attributes = std::vector<std::pair<std::string, std::string>>;

TEST(XforwardAttributesTest, TheStoredClientWithItsPort) {
  queue::StoredMessage m;
  m.id = "3F2A91C04B";
  m.client = "mx.example.net[2001:db8::7]";
  m.client_port = 40123;
  m.helo = "mx.example.net";
  m.protocol = "UTF8SMTP";
  EXPECT_EQ(xforwardAttributes(m), (Attributes{{"NAME", "mx.example.net"},
                                               {"ADDR", "IPV6:2001:db8::7"},
                                               {"PORT", "40123"},
                                               {"PROTO", "ESMTP"},
                                               {"HELO", "mx.example.net"},
                                               {"IDENT", "3F2A91C04B"},
                                               {"SOURCE", "REMOTE"}}));
}

// A message queued before the port was kept (or made by the server): PORT is unavailable.
TEST(XforwardAttributesTest, AnUnknownPortIsEmpty) {
  queue::StoredMessage m;
  m.id = "3F2A91C04C";
  m.client = "unknown[192.0.2.1]";
  m.protocol = "SMTP";
  Attributes a = xforwardAttributes(m);
  ASSERT_EQ(a.size(), 7u);
  EXPECT_EQ(a[0], (std::pair<std::string, std::string>{"NAME", "unknown"}));
  EXPECT_EQ(a[2], (std::pair<std::string, std::string>{"PORT", ""}));
  EXPECT_EQ(a[3], (std::pair<std::string, std::string>{"PROTO", "SMTP"}));
}

}  // namespace
}  // namespace petrel::server
