// The Sieve interpreter (sieve/interpreter.h): each command, test and extension against small
// messages; the implicit keep rules of RFC 5228 2.10.2; the run-time limits and errors.
#include "petrel/sieve/interpreter.h"

#include <gtest/gtest.h>

#include "petrel/content/header_section.h"

namespace petrel::sieve {
namespace {

const char* Plain =
    "From: \"Alice Example\" <alice@example.org>\r\n"
    "To: bob+lists@example.com, Carol <carol@EXAMPLE.net>\r\n"
    "Cc: team: dave@example.com, erin@example.com;\r\n"
    "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= from\r\n the list\r\n"
    "X-Spam-Flag: YES\r\n"
    "X-Count: 12\r\n"
    "\r\n"
    "Hello Bob,\r\nthis is the body.\r\n";

std::string runScript(std::string_view script, const std::string& message = Plain,
                      Options options = {}, Envelope env = {"sender@example.org", "bob+lists@example.com"}) {
  auto program = compile(script, options);
  if (auto* e = std::get_if<SyntaxError>(&program)) {
    return "compile error: " + e->message();
  }
  content::HeaderSection hs(64 * 1024);
  size_t used = hs.feed(message);
  hs.end();
  MessageView view{hs.fields(), std::string_view(message).substr(used), message.size()};
  Outcome out = run(*std::get<ProgramPtr>(program), view, env, options);
  std::string text;
  for (const auto& a : out.actions) {
    text += (text.empty() ? "" : "; ") + formatAction(a);
  }
  if (out.error) {
    text += " [error " + *out.error + "]";
  }
  return text;
}

TEST(SieveRun, ImplicitKeep) {
  EXPECT_EQ(runScript(""), "keep");
  EXPECT_EQ(runScript("keep;"), "keep");
  EXPECT_EQ(runScript("discard;"), "discard");
  EXPECT_EQ(runScript("require \"fileinto\"; fileinto \"a\";"), "fileinto \"a\"");
  EXPECT_EQ(runScript("redirect \"x@example.net\";"), "redirect \"x@example.net\"");
  // :copy does not cancel the implicit keep (RFC 3894 3)
  EXPECT_EQ(runScript("require [\"copy\", \"fileinto\"]; fileinto :copy \"a\"; redirect :copy \"x@y.z\";"),
            "fileinto :copy \"a\"; redirect :copy \"x@y.z\"; keep");
  // stop ends the script; the implicit keep still stands
  EXPECT_EQ(runScript("stop; discard;"), "keep");
  // duplicates are done once
  EXPECT_EQ(runScript("require \"fileinto\"; keep; fileinto \"INBOX\"; redirect \"a@b.c\"; redirect \"A@b.c\";"),
            "keep; redirect \"a@b.c\"");
}

TEST(SieveRun, IfElsifElse) {
  const char* s =
      "require \"fileinto\";\n"
      "if header :is \"X-Count\" \"1\" { fileinto \"one\"; }\n"
      "elsif header :is \"X-Count\" \"12\" { fileinto \"twelve\"; }\n"
      "else { fileinto \"other\"; }\n"
      "if false { discard; } else { fileinto \"second\"; }\n";
  EXPECT_EQ(runScript(s), "fileinto \"twelve\"; fileinto \"second\"");
}

TEST(SieveRun, HeaderMatchTypesAndComparators) {
  auto t = [](const std::string& test) {
    return runScript("if " + test + " { discard; }") == "discard";
  };
  EXPECT_TRUE(t("header :contains \"X-Spam-Flag\" \"YES\""));
  EXPECT_TRUE(t("header :contains \"x-spam-flag\" \"yes\""));
  EXPECT_FALSE(t("header :comparator \"i;octet\" :contains \"X-Spam-Flag\" \"yes\""));
  EXPECT_TRUE(t("header :is \"Subject\" \"Grüße from the list\""));  // RFC 2047 and unfolding
  EXPECT_TRUE(t("header :matches \"Subject\" \"Gr*the ?ist\""));
  EXPECT_FALSE(t("header :matches \"Subject\" \"Gr\\\\*\""));
  EXPECT_TRUE(t("header :matches \"X-Count\" \"1?\""));
  EXPECT_TRUE(t("header :matches \"X-Count\" \"*\""));
  EXPECT_FALSE(t("header :is \"X-Missing\" \"\""));
  EXPECT_TRUE(t("header :contains [\"A\", \"Subject\"] [\"nope\", \"list\"]"));
  EXPECT_TRUE(t("exists [\"From\", \"x-count\"]"));
  EXPECT_FALSE(t("exists [\"From\", \"X-Nope\"]"));
  EXPECT_TRUE(t("not exists \"X-Nope\""));
  EXPECT_TRUE(t("allof (true, not false)"));
  EXPECT_FALSE(t("anyof (false, not true)"));
}

TEST(SieveRun, AddressAndEnvelope) {
  auto t = [](const std::string& test) {
    return runScript("require [\"envelope\", \"subaddress\"]; if " + test + " { discard; }") ==
           "discard";
  };
  EXPECT_TRUE(t("address :is \"From\" \"alice@example.org\""));
  EXPECT_TRUE(t("address :localpart :is \"From\" \"alice\""));
  EXPECT_TRUE(t("address :domain :is \"To\" \"example.net\""));
  EXPECT_TRUE(t("address :all :is \"Cc\" \"erin@example.com\""));  // inside a group
  EXPECT_FALSE(t("address :is \"Cc\" \"team\""));
  EXPECT_TRUE(t("address :user :is \"To\" \"bob\""));
  EXPECT_TRUE(t("address :detail :is \"To\" \"lists\""));
  EXPECT_FALSE(t("address :detail :matches \"From\" \"*\""));  // no delimiter: no detail
  EXPECT_TRUE(t("envelope :is \"from\" \"sender@example.org\""));
  EXPECT_TRUE(t("envelope :detail \"to\" \"lists\""));
  EXPECT_TRUE(t("envelope :domain :is \"to\" \"EXAMPLE.COM\""));
}

TEST(SieveRun, SubaddressDelimiters) {
  Options o;
  o.recipient_delimiter = "-+";
  EXPECT_EQ(runScript("require [\"envelope\", \"subaddress\"]; if envelope :detail \"to\" \"x+y\" { discard; }",
                      Plain, o, {"", "bob-x+y@example.com"}),
            "discard");
}

TEST(SieveRun, Size) {
  EXPECT_EQ(runScript("if size :over 100 { discard; }"), "discard");
  EXPECT_EQ(runScript("if size :under 1K { discard; }"), "discard");
  EXPECT_EQ(runScript("if size :over 1M { discard; }"), "keep");
}

TEST(SieveRun, Variables) {
  EXPECT_EQ(runScript("require [\"variables\", \"fileinto\"];\n"
                      "if header :matches \"From\" \"*<*@*>\" { fileinto \"from.${3}.${2}\"; }"),
            "fileinto \"from.example.org.alice\"");
  EXPECT_EQ(runScript("require [\"variables\", \"fileinto\"];\n"
                      "set \"a\" \"Hello\"; set :upper \"b\" \"${a}\"; set :length \"n\" \"${A}\";\n"
                      "set :lower :upperfirst \"c\" \"wORLD\"; set :quotewildcard \"q\" \"a*b\";\n"
                      "fileinto \"${b}-${n}-${c}-${q}-${unknown}\";"),
            "fileinto \"HELLO-5-World-a\\\\*b-\"");
  EXPECT_EQ(runScript("require \"variables\"; set \"x\" \"abc\"; if string :is \"${x}\" \"abc\" { discard; }"),
            "discard");
}

TEST(SieveRun, Imap4Flags) {
  EXPECT_EQ(runScript("require [\"imap4flags\", \"fileinto\"];\n"
                      "setflag \"\\\\Seen\"; addflag [\"\\\\Flagged\", \"\\\\seen\"];\n"
                      "fileinto \"a\"; removeflag \"\\\\Seen\";\n"
                      "if hasflag :contains \"Flag\" { fileinto :flags \"x y\" \"b\"; }"),
            "fileinto :flags \"\\\\Seen \\\\Flagged\" \"a\"; fileinto :flags \"x y\" \"b\"");
  EXPECT_EQ(runScript("require \"imap4flags\"; addflag \"$Junk\";"), "keep :flags \"$Junk\"");
  EXPECT_EQ(runScript("require [\"imap4flags\", \"variables\"]; addflag \"v\" \"a b\"; "
                      "removeflag \"v\" \"a\"; if hasflag \"v\" \"b\" { discard; }"),
            "discard");
}

TEST(SieveRun, RejectAndConflicts) {
  EXPECT_EQ(runScript("require \"reject\"; reject \"go away\";"), "reject \"go away\"");
  EXPECT_EQ(runScript("require \"ereject\"; ereject \"no\";"), "ereject \"no\"");
  EXPECT_EQ(runScript("require [\"reject\", \"fileinto\"]; fileinto \"a\"; reject \"x\";"),
            "keep [error 1:47: reject conflicts with another action (RFC 5429 2.1)]");
}

TEST(SieveRun, Vacation) {
  EXPECT_EQ(runScript("require \"vacation\"; vacation \"away\";"),
            "vacation :days 7 \"away\"; keep");
  EXPECT_EQ(runScript("require \"vacation\";\n"
                      "vacation :days 0 :subject \"Out\" :from \"bob@example.com\" :addresses "
                      "[\"bob@example.com\", \"b@example.com\"] :mime :handle \"h1\" text:\nline\n.\n;"),
            "vacation :days 1 :subject \"Out\" :from \"bob@example.com\" :addresses "
            "[\"bob@example.com\", \"b@example.com\"] :mime :handle \"h1\" \"line\\x0d\\x0a\"; keep");
  EXPECT_EQ(runScript("require \"vacation\"; vacation \"a\"; vacation \"b\";"),
            "keep [error 1:35: more than one vacation action (RFC 5230 4.7)]");
}

TEST(SieveRun, Relational) {
  auto t = [](const std::string& test) {
    return runScript("require [\"relational\", \"comparator-i;ascii-numeric\"]; if " + test +
                     " { discard; }") == "discard";
  };
  EXPECT_TRUE(t("header :value \"gt\" :comparator \"i;ascii-numeric\" \"X-Count\" \"9\""));
  EXPECT_FALSE(t("header :value \"gt\" \"X-Count\" \"9\""));  // casemap: "12" < "9"
  EXPECT_TRUE(t("header :count \"eq\" \"Received\" \"0\""));
  EXPECT_TRUE(t("address :count \"ge\" :comparator \"i;ascii-numeric\" [\"To\", \"Cc\"] \"4\""));
  EXPECT_TRUE(t("header :value \"ne\" \"X-Count\" \"13\""));
}

TEST(SieveRun, Body) {
  const std::string mime =
      "From: a@b.c\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
      "preamble\r\n--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
      "caf=C3=A9 time\r\n--XX\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "c2VjcmV0IHBkZg==\r\n--XX--\r\n";
  auto t = [&](const std::string& test) {
    return runScript("require \"body\"; if " + test + " { discard; }", mime) == "discard";
  };
  EXPECT_TRUE(t("body :contains \"café\""));
  EXPECT_FALSE(t("body :text :contains \"secret\""));
  EXPECT_TRUE(t("body :content \"application\" :contains \"secret pdf\""));
  EXPECT_TRUE(t("body :raw :contains \"caf=C3=A9\""));
  EXPECT_FALSE(t("body :raw :contains \"café\""));
  EXPECT_EQ(runScript("require \"body\"; if body :contains \"the body\" { discard; }"), "discard");
}

TEST(SieveRun, Include) {
  Options o;
  o.include = [](IncludeLocation where, std::string_view name) -> Result<std::string> {
    if (where == IncludeLocation::Global && name == "spam") {
      return std::string(
          "require \"fileinto\"; if header :contains \"X-Spam-Flag\" \"YES\" { fileinto \"spam\"; stop; }");
    }
    if (name == "ret") return std::string("require \"include\"; return; discard;");
    if (name == "broken") return std::string("frob;");
    return Error::permanent("not found");
  };
  EXPECT_EQ(runScript("require \"include\"; include :global \"spam\"; discard;", Plain, o),
            "fileinto \"spam\"");
  EXPECT_EQ(runScript("require \"include\"; include \"ret\";", Plain, o), "keep");
  EXPECT_EQ(runScript("require \"include\"; include :optional \"none\"; discard;", Plain, o), "discard");
  EXPECT_EQ(runScript("require \"include\"; include \"none\";", Plain, o),
            "keep [error 1:20: include \"none\": not found]");
  EXPECT_EQ(runScript("require \"include\"; include \"broken\";", Plain, o),
            "keep [error 1:20: include \"broken\": 1:1: unknown command 'frob']");
}

TEST(SieveRun, LimitsFailToKeep) {
  Options o;
  o.run_limits.max_redirects = 1;
  EXPECT_EQ(runScript("redirect \"a@b.c\"; redirect \"d@e.f\";", Plain, o),
            "keep [error 1:19: more than 1 redirects]");
  o = {};
  o.run_limits.max_actions = 2;
  EXPECT_EQ(runScript("require \"fileinto\"; fileinto \"a\"; fileinto \"b\"; fileinto \"c\";", Plain, o),
            "keep [error 1:49: more than 2 actions]");
  o = {};
  o.run_limits.max_steps = 50;
  EXPECT_EQ(runScript("if header :matches \"Subject\" \"*?*?*?*?*?*?*?*?*?*?X\" { discard; }", Plain, o),
            "keep [error 1:4: CPU budget of 50 steps exhausted]");
  EXPECT_EQ(runScript("redirect \"not an address\";"),
            "keep [error 1:1: redirect to a bad address \"not an address\"]");
}

}  // namespace
}  // namespace petrel::sieve
