// Tests for the users' scripts at delivery (delivery/sieve_filter.h): from a directory (with
// the address-without-extension fallback and changes seen at the next message), from a table
// (the script's text per address; one that does not compile is skipped and the message kept;
// a failing table defers), and include :personal / :global through the cache.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "../inline_table.h"
#include "petrel/content/header_section.h"
#include "petrel/delivery/sieve_filter.h"

namespace petrel::delivery {
namespace {

namespace fs = std::filesystem;

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

std::string folders(const SieveDecision& d) {
  std::string out;
  for (const Filing& f : d.filings) out += fmt::format("[{}]", f.folder);
  return out;
}

// A table that fails every lookup, as a database that is down.
class DownTable final : public lookup::LookupTable {
 public:
  lookup::LookupResult lookup(std::string_view) const override {
    return lookup::LookupResult::tempFail("table sqlite:users: database is locked");
  }
  std::string describe() const override { return "sqlite:users"; }
};

class SievePersonalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("petrel-sieve-personal-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "users" / "example.test" / "alice");
    fs::create_directories(dir_ / "global");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const fs::path& rel, std::string_view text) {
    std::ofstream(dir_ / rel, std::ios::binary | std::ios::trunc) << text;
  }
  SieveDecision decide(const SieveScripts& s, std::string_view subject, std::string to) {
    Message m(fmt::format("Subject: {}\r\n\r\nHello.\r\n", subject));
    return decideFilings(s, m.view, {"a@example.net", std::move(to)});
  }
  fs::path dir_;
};

TEST_F(SievePersonalTest, DirectoryScriptsWithTheAddressWithoutItsExtension) {
  write("users/example.test/alice.sieve", "require \"fileinto\";\nfileinto \"mine\";\n");
  SieveScripts s;
  s.user_dir = (dir_ / "users").string();
  EXPECT_EQ(folders(decide(s, "x", "alice@example.test")), "[mine]");
  EXPECT_EQ(folders(decide(s, "x", "Alice+Lists@example.test")), "[mine]");
  write("users/example.test/alice+lists.sieve", "require \"fileinto\";\nfileinto \"lists\";\n");
  EXPECT_EQ(folders(decide(s, "x", "alice+lists@example.test")), "[lists]");
  // The script changed on disk: the next message sees it (the size differs).
  write("users/example.test/alice.sieve", "require \"fileinto\";\nfileinto \"changed\";\n");
  EXPECT_EQ(folders(decide(s, "x", "alice@example.test")), "[changed]");
  SieveCacheStats stats = s.cache->stats();
  EXPECT_EQ(stats.misses, 3u);  // alice, alice+lists, alice again after the change
  EXPECT_EQ(stats.hits, 1u);    // alice+lists@ before it had its own script
}

TEST_F(SievePersonalTest, TableScripts) {
  SieveScripts s;
  s.user_table = lookup::makeTable(
      test_support::inlineTable(
          "users", {{"alice@example.test", "require \"fileinto\";\n"
                                           "if header :contains \"subject\" \"work\" "
                                           "{ fileinto \"Work\"; }\n"},
                    {"bob@example.test", "require \"fileinto\";\nif true {\n  fileinto;\n}\n"}}),
      [](const std::string&) {});
  EXPECT_EQ(folders(decide(s, "work", "alice@example.test")), "[Work]");
  EXPECT_EQ(folders(decide(s, "work", "alice+x@example.test")), "[Work]");
  EXPECT_EQ(folders(decide(s, "play", "alice@example.test")), "[]");  // INBOX
  EXPECT_EQ(s.cache->stats().misses, 1u);  // one text, compiled once
  // bob's script does not compile: skipped with its position, the message kept in INBOX.
  SieveDecision bob = decide(s, "work", "bob@example.test");
  EXPECT_EQ(folders(bob), "[]");
  ASSERT_EQ(bob.notes.size(), 1u);
  EXPECT_EQ(bob.notes[0].rfind("inline:users: bob@example.test:3:3: ", 0), 0u) << bob.notes[0];
  EXPECT_NE(bob.notes[0].find("(script skipped)"), std::string::npos);
  EXPECT_EQ(folders(decide(s, "work", "carol@example.test")), "[]");  // no script
  // A table that fails: nothing decided, the recipient waits.
  s.user_table = std::make_shared<DownTable>();
  SieveDecision down = decide(s, "work", "alice@example.test");
  ASSERT_TRUE(down.deferred.has_value());
  EXPECT_NE(down.deferred->find("database is locked"), std::string::npos) << *down.deferred;
  EXPECT_TRUE(down.filings.empty());
}

TEST_F(SievePersonalTest, IncludePersonalAndGlobalFromDirectories) {
  write("global/spam.sieve",
        "require \"fileinto\";\nif header :contains \"subject\" \"spam\" "
        "{ fileinto \"Junk\"; stop; }\n");
  write("users/example.test/alice/lists.sieve",
        "require \"fileinto\";\nif header :contains \"subject\" \"list\" { fileinto \"L\"; }\n");
  write("users/example.test/alice.sieve",
        "require \"include\";\ninclude :global \"spam\";\ninclude :personal \"lists\";\n"
        "include :optional \"absent\";\n");
  SieveScripts s;
  s.user_dir = (dir_ / "users").string();
  s.global_dir = (dir_ / "global").string();
  EXPECT_EQ(folders(decide(s, "spam", "alice@example.test")), "[Junk]");
  EXPECT_EQ(folders(decide(s, "a list", "alice@example.test")), "[L]");
  SieveDecision plain = decide(s, "hi", "alice@example.test");
  EXPECT_EQ(folders(plain), "[]");
  EXPECT_TRUE(plain.notes.empty()) << plain.notes[0];
  // Each script compiled once: alice's, spam, lists.
  EXPECT_EQ(s.cache->stats().misses, 3u);
  // A global script's include :personal runs the recipient's script of that name.
  s.before = std::get<sieve::ProgramPtr>(
      sieve::compile("require \"include\";\ninclude :personal :optional \"lists\";\n"));
  EXPECT_EQ(folders(decide(s, "a list", "alice@example.test")), "[L]");
  EXPECT_EQ(folders(decide(s, "a list", "bob@example.test")), "[]");  // bob has none

  // A missing include, one that does not compile, a bad name, no global_dir: run-time
  // errors, the message kept.
  s.before = nullptr;
  write("users/example.test/alice/broken.sieve", "if {");
  for (auto [script, expected] :
       {std::pair{"include \"nothere\";", "include \"nothere\": no such script"},
        std::pair{"include \"broken\";", "alice/broken.sieve:1:5: "},
        std::pair{"include \"../alice\";", "bad script name"},
        std::pair{"include :global \"x\";", "no delivery.sieve.global_dir"}}) {
    write("users/example.test/alice.sieve", fmt::format("require \"include\";\n{}\n", script));
    if (std::string_view(expected).find("global_dir") != std::string_view::npos) {
      s.global_dir.clear();
    }
    SieveDecision d = decide(s, "a list", "alice@example.test");
    EXPECT_EQ(folders(d), "[]") << script;
    ASSERT_EQ(d.notes.size(), 1u) << script;
    EXPECT_NE(d.notes[0].find(expected), std::string::npos) << d.notes[0];
    EXPECT_NE(d.notes[0].find("(kept)"), std::string::npos) << d.notes[0];
  }
}

TEST_F(SievePersonalTest, IncludePersonalFromTheTable) {
  SieveScripts s;
  s.user_table = lookup::makeTable(
      test_support::inlineTable(
          "users", {{"alice@example.test", "require \"include\";\ninclude \"work\";\n"},
                    {"alice@example.test/work",
                     "require \"fileinto\";\nif header :contains \"subject\" \"work\" "
                     "{ fileinto \"Work\"; }\n"}}),
      [](const std::string&) {});
  EXPECT_EQ(folders(decide(s, "work", "alice@example.test")), "[Work]");
  // alice+x@ found alice@'s script: its includes are alice@'s too.
  EXPECT_EQ(folders(decide(s, "work", "alice+x@example.test")), "[Work]");
  EXPECT_EQ(folders(decide(s, "play", "alice@example.test")), "[]");
  EXPECT_EQ(s.cache->stats().misses, 2u);
}

TEST_F(SievePersonalTest, GlobalScriptsAndTheirIncludesAreCheckedAtLoad) {
  write("global/before.sieve",
        "require \"include\";\nif true {\n  include :global \"spam\";\n}\n"
        "include :global :optional \"absent\";\n");
  write("global/spam.sieve", "require \"fileinto\";\nfileinto \"Junk\";\n");
  config::Config cfg;
  cfg.delivery.sieve.global_before = (dir_ / "global/before.sieve").string();
  cfg.delivery.sieve.global_dir = (dir_ / "global").string();
  auto loaded = loadSieveScripts(cfg);
  ASSERT_TRUE(loaded) << loaded.error().message();
  ASSERT_TRUE(*loaded);
  EXPECT_EQ(folders(decide(**loaded, "x", "alice@example.test")), "[Junk]");
  // The included script does not compile: the load fails naming the include and the script.
  write("global/spam.sieve", "require \"fileinto\";\nfileinto \"Junk\"\n");
  loaded = loadSieveScripts(cfg);
  ASSERT_FALSE(loaded);
  std::string before = (dir_ / "global/before.sieve").string();
  std::string spam = (dir_ / "global/spam.sieve").string();
  EXPECT_EQ(loaded.error().message().rfind(
                fmt::format("delivery.sieve: {}:3:3: include :global \"spam\": {}:3:1: ", before,
                            spam),
                0),
            0u)
      << loaded.error().message();
  fs::remove(dir_ / "global/spam.sieve");
  loaded = loadSieveScripts(cfg);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message().find("spam.sieve: no such script"), std::string::npos)
      << loaded.error().message();
  // The global script itself: its own line and column.
  write("global/before.sieve", "require \"include\";\ninclude :global \"spam\"\n");
  loaded = loadSieveScripts(cfg);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message().rfind(fmt::format("delivery.sieve: {}:3:1: ", before), 0),
            0u)
      << loaded.error().message();
}

}  // namespace
}  // namespace petrel::delivery
