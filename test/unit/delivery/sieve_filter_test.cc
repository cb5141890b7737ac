// Tests for Sieve at delivery (delivery/sieve_filter.h): the sequence of global
// and personal scripts (the next runs only while the implicit keep stands),
// folder names as Maildir++ writes them, imap4flags as Maildir letters, and
// redirect, reject and vacation as decisions for the agent. Scripts are compiled
// from text; no files but a personal script in a temporary directory.
#include "petrel/delivery/sieve_filter.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <variant>

#include "petrel/content/header_section.h"

namespace petrel::delivery {
namespace {

sieve::ProgramPtr compiled(std::string_view text) {
  auto c = sieve::compile(text);
  EXPECT_TRUE(std::holds_alternative<sieve::ProgramPtr>(c));
  return std::holds_alternative<sieve::ProgramPtr>(c) ? std::get<sieve::ProgramPtr>(c) : nullptr;
}

struct Message {
  explicit Message(std::string text) : text_(std::move(text)), section_(64 * 1024) {
    size_t n = section_.feed(text_);
    if (!section_.complete()) section_.end();
    view = {section_.fields(), std::string_view(text_).substr(n), text_.size()};
  }
  std::string text_;
  content::HeaderSection section_;
  sieve::MessageView view;
};

std::string folders(const SieveDecision &d) {
  std::string out;
  for (const Filing &f : d.filings)
    out += fmt::format("[{}{}{}]", f.folder, f.flags.empty() ? "" : ":", f.flags);
  return out;
}

constexpr std::string_view Global =
    "require \"fileinto\";\nif header :contains \"X-Spam-Flag\" \"YES\" { "
    "fileinto \"spam\"; stop; }\n";

TEST(SieveFilterTest, TheGlobalScriptFilesSpamAndTheRestGoesToInbox) {
  SieveScripts s;
  s.before = compiled(Global);
  Message spam("Subject: x\r\nX-Spam-Flag: YES\r\n\r\nbody\r\n");
  Message ham("Subject: x\r\n\r\nbody\r\n");
  sieve::Envelope env{"a@example.net", "alice@example.test"};
  EXPECT_EQ(folders(decideFilings(s, spam.view, env)), "[spam]");
  EXPECT_EQ(folders(decideFilings(s, ham.view, env)), "[]");  // INBOX
}

TEST(SieveFilterTest, ThePersonalScriptRunsOnlyWhileTheImplicitKeepStands) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("petrel-sieve-filter-{}", ::getpid());
  std::filesystem::create_directories(dir / "example.test");
  std::ofstream(dir / "example.test" / "alice.sieve")
      << "require [\"fileinto\", \"imap4flags\"];\n"
         "if header :contains \"Subject\" \"list\" { fileinto :flags "
         "[\"\\\\Seen\", \"\\\\Flagged\"] \"Lists/Work\"; }\n"
         "elsif header :contains \"Subject\" \"drop\" { discard; }\n"
         "elsif header :contains \"Subject\" \"fwd\" { redirect "
         "\"x@elsewhere.example\"; }\n"
         "else { fileinto \"other\"; }\n";
  SieveScripts s;
  s.before = compiled(Global);
  s.after = compiled("require \"fileinto\";\nfileinto \"after\";\n");
  s.user_dir = dir.string();
  sieve::Envelope alice{"a@example.net", "Alice@Example.TEST"};
  Message spam("Subject: list\r\nX-Spam-Flag: YES\r\n\r\n");
  EXPECT_EQ(folders(decideFilings(s, spam.view, alice)), "[spam]");
  Message list("Subject: list of things\r\n\r\n");
  EXPECT_EQ(folders(decideFilings(s, list.view, alice)), "[Lists.Work:FS]");
  Message drop("Subject: drop\r\n\r\n");
  EXPECT_EQ(folders(decideFilings(s, drop.view, alice)), "");  // discarded
  Message fwd("Subject: fwd\r\n\r\n");
  SieveDecision kept = decideFilings(s, fwd.view, alice);
  EXPECT_EQ(folders(kept), "");  // redirected, not kept (no :copy)
  ASSERT_EQ(kept.redirects.size(), 1u);
  EXPECT_EQ(kept.redirects[0], "x@elsewhere.example");
  EXPECT_TRUE(kept.notes.empty());
  // bob has no script: the after script runs on what the global one kept.
  Message ham("Subject: hello\r\n\r\n");
  EXPECT_EQ(folders(decideFilings(s, ham.view, {"a@example.net", "bob@example.test"})), "[after]");
  // A personal script that does not compile is skipped, noted, and the sequence
  // goes on.
  std::ofstream(dir / "example.test" / "carol.sieve") << "if {";
  SieveDecision broken = decideFilings(s, ham.view, {"a@example.net", "carol@example.test"});
  EXPECT_EQ(folders(broken), "[after]");
  ASSERT_EQ(broken.notes.size(), 1u);
  EXPECT_NE(broken.notes[0].find("carol.sieve:1:"), std::string::npos) << broken.notes[0];
  std::filesystem::remove_all(dir);
}

TEST(SieveFilterTest, AnAddressCannotLeaveTheScriptDirectory) {
  SieveScripts s;
  s.user_dir = "/nonexistent";
  Message ham("Subject: hello\r\n\r\n");
  for (const char *to : {"../x@example.test", "a@../etc", ".hidden@example.test", "nodomain"}) {
    EXPECT_EQ(folders(decideFilings(s, ham.view, {"a@example.net", to})), "[]") << to;
  }
}

TEST(SieveFilterTest, RedirectsAreCountedOverTheSequenceAndSentOnce) {
  SieveScripts s;
  s.options.run_limits.max_redirects = 2;
  s.before = compiled("require \"copy\";\nredirect :copy \"a@x.example\";\n"
                      "redirect :copy \"A@X.example\";\n");
  s.after = compiled("redirect \"b@x.example\";\nredirect \"c@x.example\";\n");
  Message m("Subject: x\r\n\r\n");
  SieveDecision d = decideFilings(s, m.view, {"a@example.net", "alice@example.test"});
  ASSERT_EQ(d.redirects.size(), 2u);  // the duplicate once, then the limit
  EXPECT_EQ(d.redirects[0], "a@x.example");
  EXPECT_EQ(d.redirects[1], "b@x.example");
  EXPECT_EQ(folders(d), "[]");  // the one over the limit is kept instead
  ASSERT_EQ(d.notes.size(), 1u);
  EXPECT_NE(d.notes[0].find("more than 2 redirects"), std::string::npos) << d.notes[0];
}

TEST(SieveFilterTest, RejectFilesNothingAndVacationKeeps) {
  SieveScripts s;
  s.after = compiled(
      "require [\"reject\", \"vacation\"];\nif header :contains \"Subject\" \"no\" "
      "{ reject \"go away\"; } else { vacation :days 3 \"away\"; }\n");
  Message no("Subject: no thanks\r\n\r\n");
  SieveDecision rejected = decideFilings(s, no.view, {"a@example.net", "alice@example.test"});
  EXPECT_EQ(folders(rejected), "");
  EXPECT_EQ(rejected.reject, "go away");
  Message yes("Subject: hello\r\n\r\n");
  SieveDecision away = decideFilings(s, yes.view, {"a@example.net", "alice@example.test"});
  EXPECT_EQ(folders(away), "[]");  // RFC 5230: vacation does not cancel the implicit keep
  ASSERT_TRUE(away.vacation.has_value());
  EXPECT_EQ(away.vacation->seconds, 3u * 86400);
  EXPECT_EQ(away.vacation->reason, "away");
  // ereject is the same at delivery: the SMTP transaction is over.
  SieveScripts e;
  e.after = compiled("require \"ereject\";\nereject \"no\";\n");
  EXPECT_EQ(decideFilings(e, no.view, {"a@example.net", "alice@example.test"}).reject, "no");
  // A reject after an earlier script filed the message: too late, kept where it is.
  s.before = compiled("require [\"fileinto\", \"copy\"];\nfileinto :copy \"seen\";\n");
  SieveDecision late = decideFilings(s, no.view, {"a@example.net", "alice@example.test"});
  EXPECT_FALSE(late.reject.has_value());
  EXPECT_EQ(folders(late), "[seen]");
}

TEST(SieveFilterTest, FolderNamesAndFlags) {
  EXPECT_EQ(maildirFolderName("spam"), "spam");
  EXPECT_EQ(maildirFolderName("Lists/Work"), "Lists.Work");
  EXPECT_EQ(maildirFolderName("Lists.Work"), "Lists.Work");
  EXPECT_EQ(maildirFolderName("inbox"), "");
  for (const char *bad : {"", "/x", "x/", "a//b", "a..b", "..", "Spam\n", "Caf\xc3\xa9", "a&b"}) {
    EXPECT_FALSE(maildirFolderName(bad).has_value()) << bad;
  }
  EXPECT_EQ(maildirFlags({"\\Seen", "\\flagged", "$Label1", "\\Seen", "\\Draft"}), "DFS");
  EXPECT_EQ(maildirFlags({}), "");
}

}  // namespace
}  // namespace petrel::delivery
