// The dashboard's web pieces: HTML escaping, request heads, the CSRF check, the chart.
#include "petrel/status/web.h"

#include <gtest/gtest.h>

namespace petrel::status {
namespace {

TEST(WebTest, HtmlEscapesEverythingThatCouldOpenMarkup) {
  EXPECT_EQ(htmlEscape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
  EXPECT_EQ(htmlEscape("a\r\x01\x7f" "b\tc"), "a???b\tc");
  EXPECT_EQ(htmlEscape("bob@example.org"), "bob@example.org");
}

TEST(WebTest, PageEscapesTitleAndHasNoScript) {
  std::string page = htmlPage("<x>", "queue", "<p>body</p>");
  EXPECT_NE(page.find("<h1>&lt;x&gt;</h1>"), std::string::npos);
  EXPECT_NE(page.find("<a href=\"/dash/queue\" class=\"on\">Queue</a>"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);  // nothing from elsewhere
}

TEST(WebTest, ParsesRequestHeads) {
  auto r = parseHttpRequest(
      "POST /dash/queue/hold?id=3F2A&csrf=ab%2Bc+d HTTP/1.1\r\nHost: x\r\nX-CSRF-Token:  t1 ");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->path, "/dash/queue/hold");
  EXPECT_EQ(r->query.at("id"), "3F2A");
  EXPECT_EQ(r->query.at("csrf"), "ab+c d");
  EXPECT_EQ(r->headers.at("x-csrf-token"), "t1");
  EXPECT_FALSE(parseHttpRequest("DELETE / HTTP/1.1"));
  EXPECT_FALSE(parseHttpRequest("GET x HTTP/1.1"));
  EXPECT_FALSE(parseHttpRequest("GET /"));
  EXPECT_FALSE(parseHttpRequest(""));
  EXPECT_EQ(urlDecode("%4"), "%4");
  EXPECT_EQ(urlEncode("a b&c"), "a%20b%26c");
}

TEST(WebTest, CsrfTokenIsChecked) {
  std::string token = newCsrfToken();
  ASSERT_EQ(token.size(), 32u);
  EXPECT_NE(token, newCsrfToken());
  auto with = [](const std::string& head) { return *parseHttpRequest(head); };
  EXPECT_TRUE(csrfAllowed(with("POST /x?csrf=" + token + " HTTP/1.1"), token));
  EXPECT_TRUE(csrfAllowed(with("POST /x HTTP/1.1\r\nX-CSRF-Token: " + token), token));
  EXPECT_FALSE(csrfAllowed(with("POST /x HTTP/1.1"), token));
  EXPECT_FALSE(csrfAllowed(with("POST /x?csrf= HTTP/1.1"), token));
  EXPECT_FALSE(csrfAllowed(with("POST /x?csrf=" + token.substr(1) + " HTTP/1.1"), token));
  std::string wrong = token;
  wrong[5] = wrong[5] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(csrfAllowed(with("POST /x?csrf=" + wrong + " HTTP/1.1"), token));
  EXPECT_FALSE(csrfAllowed(with("POST /x?csrf= HTTP/1.1"), ""));  // no token: nothing passes
}

TEST(WebTest, ChartIsInlineSvg) {
  std::string svg = svgChart("Last <hour>", {{"received", "#2a7", {0, 2, 4}}}, "10:00", "11:00");
  EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_NE(svg.find("<title>Last &lt;hour&gt;</title>"), std::string::npos);
  EXPECT_NE(svg.find("points=\"30.0,160.0 313.0,95.0 596.0,30.0\""), std::string::npos);
}

}  // namespace
}  // namespace petrel::status
