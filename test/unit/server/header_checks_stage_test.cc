// The header and body checks stage (server/header_checks_stage.h): golden scripts and unit
// tests.
//
// A golden script test/testdata/checks/NN-name.in has sections, each opened by a line
// "== NAME": "== header", "== mime_header", "== nested_header", "== body" hold regexp table
// lines (Postfix regexp_table(5)) for that class; "== limit N" sets body_size_limit; "==
// message" holds the message (LF line ends, fed as CRLF, in chunks of 5 octets) sent to
// alice@example.org and bob@example.org; an empty "== full" section shows the whole stored
// message instead of its header. The .ref lists each action the stage took
// ("class action what: line [-> text] [(not applied)]"), the end-of-data outcome (refusal,
// hold, discard, filter, recipients) and the stored header section as the queue gets it.
// Regenerating: PETREL_UPDATE_GOLDEN=1 ./petrel-unit --gtest_filter='ChecksGolden*', then
// review against header_checks(5).
#include "petrel/server/header_checks_stage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "petrel/server/content_stages.h"

namespace petrel::server {
namespace {

namespace fs = std::filesystem;

const fs::path GoldenDir = fs::path(PETREL_SOURCE_ROOT) / "test" / "testdata" / "checks";

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Store : smtp::BodySink {
  std::string data;
  void append(std::string_view content) override { data.append(content); }
};

std::string crlf(const std::string& lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::string visible(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '\r') continue;
    out += c;
  }
  return out;
}

fs::path tempDir() {
  return fs::temp_directory_path() / ("petrel-checks-" + std::to_string(::getpid()));
}

lookup::TablePtr regexpTable(const std::string& lines, const std::string& name) {
  fs::path dir = tempDir();
  fs::create_directories(dir);
  fs::path file = dir / name;
  std::ofstream(file, std::ios::binary) << lines;
  config::TableSpec spec;
  spec.type = "regexp";
  spec.name = file.string();
  spec.path = file.string();
  return lookup::makeTable(spec, [](const std::string& w) { ADD_FAILURE() << w; });
}

// Runs one script; returns the report.
std::string runScript(const std::string& script, const std::string& name) {
  std::map<std::string, std::string> sections;
  std::string current;
  uint64_t limit = 51200;
  std::istringstream in(script);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("== limit ")) {
      limit = std::stoull(line.substr(9));
      current.clear();
      continue;
    }
    if (line.starts_with("== ")) {
      current = line.substr(3);
      sections[current];
      continue;
    }
    if (!current.empty()) sections[current] += line + "\n";
  }
  auto tables = std::make_shared<CheckTables>();
  auto table = [&](const std::string& klass) -> lookup::TablePtr {
    auto it = sections.find(klass);
    return it == sections.end() ? nullptr : regexpTable(it->second, name + "-" + klass);
  };
  tables->header = table("header");
  // Postfix: mime_header and nested_header default to header.
  tables->mime_header = sections.contains("mime_header") ? table("mime_header") : tables->header;
  tables->nested_header =
      sections.contains("nested_header") ? table("nested_header") : tables->header;
  tables->body = table("body");
  tables->body_size_limit = limit;

  std::string out;
  HeaderChecksSetup setup;
  setup.tables = tables;
  setup.queue_id = "3F2A91C04B";
  setup.on_hit = [&out](const CheckHit& h) {
    if (h.what == "config") {
      std::string text = h.text;
      std::string dir = tempDir().string() + "/";
      for (size_t at; (at = text.find(dir)) != std::string::npos;) text.erase(at, dir.size());
      out += "warning: " + text + "\n";
      return;
    }
    out += h.klass;
    out += " " + h.action + " " + h.what + ": " + h.line;
    if (!h.text.empty()) out += " -> " + h.text;
    if (!h.applied) out += " (not applied)";
    out += "\n";
  };
  std::vector<std::unique_ptr<content::ContentStage>> stages;
  stages.push_back(prependFields({"Received: by mx.example.org\r\n"}));
  stages.push_back(headerChecks(std::move(setup)));
  Store store;
  content::ContentChain chain(std::move(stages), store);
  std::string message = crlf(sections["message"]);
  for (size_t i = 0; i < message.size(); i += 5) {
    chain.append(std::string_view(message).substr(i, 5));
  }
  std::vector<content::Recipient> rcpts{{"alice@example.org", "alice@example.org", "", ""},
                                        {"bob@example.org", "bob@example.org", "", ""}};
  content::ContentChain::End end = chain.finish(rcpts);
  out += "--\n";
  if (end.refusal) out += "refusal: " + end.refusal->oneLine() + "\n";
  if (end.hold) out += "hold: " + *end.hold + "\n";
  if (end.discard) out += "discard: " + *end.discard + "\n";
  if (end.filter) out += "filter: " + *end.filter + "\n";
  if (!end.refusal) {
    out += "recipients:";
    for (const auto& r : rcpts) out += " " + r.address + " (" + r.orig_address + ")";
    out += "\n";
    std::string stored = store.data;
    if (end.header) stored = *end.header + stored.substr(end.replaced_octets);
    stored = end.top_fields + stored;
    if (sections.contains("full")) {
      out += "stored message:\n" + visible(stored);
    } else {
      out += "stored header:\n" + visible(stored.substr(0, stored.find("\r\n\r\n") + 2));
    }
  }
  return out;
}

std::vector<std::string> goldenNames() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(GoldenDir)) {
    if (e.path().extension() == ".in") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class ChecksGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ChecksGolden, MatchesReference) {
  const std::string got = runScript(readFile(GoldenDir / (GetParam() + ".in")), GetParam());
  const auto ref_path = GoldenDir / (GetParam() + ".ref");
  if (const char* u = std::getenv("PETREL_UPDATE_GOLDEN"); u != nullptr && std::string(u) == "1") {
    std::ofstream(ref_path, std::ios::binary) << got;
  }
  EXPECT_EQ(got, readFile(ref_path)) << "golden " << ref_path;
}

INSTANTIATE_TEST_SUITE_P(Scripts, ChecksGolden, ::testing::ValuesIn(goldenNames()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

// A table that fails defers the message (451 4.3.0), never a silent accept.
class FailingTable final : public lookup::LookupTable {
 public:
  lookup::LookupResult lookup(std::string_view) const override {
    return lookup::LookupResult::tempFail("table regexp:/x: broken");
  }
  std::string describe() const override { return "regexp:/x"; }
};

TEST(HeaderChecksStageTest, FailingTableDefers) {
  auto tables = std::make_shared<CheckTables>();
  tables->header = std::make_shared<FailingTable>();
  HeaderChecksSetup setup;
  setup.tables = tables;
  std::vector<CheckHit> hits;
  setup.on_hit = [&hits](const CheckHit& h) { hits.push_back(h); };
  std::vector<std::unique_ptr<content::ContentStage>> stages;
  stages.push_back(headerChecks(std::move(setup)));
  Store store;
  content::ContentChain chain(std::move(stages), store);
  EXPECT_TRUE(chain.mayRefuse());
  chain.append("Subject: x\r\n\r\nbody\r\n");
  std::vector<content::Recipient> rcpts{{"a@example.org", "a@example.org", "", ""}};
  content::ContentChain::End end = chain.finish(rcpts);
  ASSERT_TRUE(end.refusal);
  EXPECT_EQ(end.refusal->code, 451);
  EXPECT_EQ(end.refusal->enhanced, "4.3.0");
}

// Runs `message` (CRLF) through the stage with mime_header = `table`, fed in `chunk`-octet
// pieces; returns what was stored and collects the hits.
std::string storeThrough(const std::string& table, const std::string& message, size_t chunk,
                         std::vector<CheckHit>& hits) {
  auto tables = std::make_shared<CheckTables>();
  tables->mime_header = regexpTable(table, "part-header-table");
  HeaderChecksSetup setup;
  setup.tables = tables;
  setup.on_hit = [&hits](const CheckHit& h) { hits.push_back(h); };
  std::vector<std::unique_ptr<content::ContentStage>> stages;
  stages.push_back(headerChecks(std::move(setup)));
  Store store;
  content::ContentChain chain(std::move(stages), store);
  for (size_t i = 0; i < message.size(); i += chunk) {
    chain.append(std::string_view(message).substr(i, chunk));
  }
  std::vector<content::Recipient> rcpts{{"a@example.org", "a@example.org", "", ""}};
  content::ContentChain::End end = chain.finish(rcpts);
  EXPECT_FALSE(end.refusal);
  return store.data;
}

const std::string Multipart = crlf(
    "Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
    "Content-Type: text/plain\n\ntext\n--b\nContent-Type: message/rfc822\n\nFrom: c@d\n"
    "Subject: inner\n\ninner body\n--b--\nepilogue without a line end");

// Nothing matches: the stored octets are the received ones, whatever the chunks.
TEST(HeaderChecksStageTest, PartHeadersPassUnchangedWhenNothingMatches) {
  for (size_t chunk : {1, 3, 64, 4096}) {
    std::vector<CheckHit> hits;
    EXPECT_EQ(storeThrough("/^X-Nothing: / IGNORE\n", Multipart, chunk, hits), Multipart)
        << "chunk " << chunk;
    EXPECT_TRUE(hits.empty());
  }
}

// A part header longer than 100 KiB is passed on from there unedited, with a warning: the
// fields not matched yet when the limit is reached are "not applied" (here the first too: a
// field is whole only when the next line starts, and the next line is the long one).
TEST(HeaderChecksStageTest, APartHeaderOverTheLimitPassesUnedited) {
  std::string longline = "X-Long: " + std::string(110 * 1024, 'x') + "\n";
  std::string message = crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
                             "Content-Description: first\n" + longline +
                             "Content-Description: second\n\nbody\n--b--\n");
  std::vector<CheckHit> hits;
  std::string stored = storeThrough("/^Content-Description: / IGNORE\n", message, 4096, hits);
  EXPECT_EQ(stored, message);
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].what, "config");
  EXPECT_NE(hits[0].text.find("over 102400 octets"), std::string::npos) << hits[0].text;
  EXPECT_EQ(hits[1].line, "Content-Description: first");
  EXPECT_FALSE(hits[1].applied);
  EXPECT_EQ(hits[2].line, "Content-Description: second");
  EXPECT_FALSE(hits[2].applied);
}

TEST(HeaderChecksStageTest, OpenCheckTablesSharesTheHeaderTable) {
  config::Checks c;
  EXPECT_EQ(openCheckTables(c, [](const std::string&) {}), nullptr);
  config::TableSpec spec;
  spec.type = "inline";
  spec.name = "hc";
  spec.entries["subject: x"] = "REJECT";
  c.header = spec;
  c.mime_header = spec;
  auto t = openCheckTables(c, [](const std::string&) {});
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->header, t->mime_header);
  EXPECT_EQ(t->body, nullptr);
}

}  // namespace
}  // namespace petrel::server
