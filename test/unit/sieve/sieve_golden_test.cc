// Golden tests of the interpreter: every test/testdata/sieve/NN-name.sieve runs against every
// message in test/testdata/sieve/messages/*.eml (envelope from sender@example.org to
// bob+lists@example.com, delimiter "+"); NN-name.ref holds, per message, "== NAME" and the
// actions in formatAction's form (or the compile error). include reads
// test/testdata/sieve/include/ (:personal) and include/global/ (:global).
// PETREL_UPDATE_GOLDEN=1 rewrites the .ref files; review them (the oracle test
// t-80-sieve-oracle compares the same corpus with Pigeonhole's sieve-test).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "petrel/content/header_section.h"
#include "petrel/sieve/interpreter.h"

namespace petrel::sieve {
namespace {

namespace fs = std::filesystem;
const fs::path Dir = fs::path(PETREL_SOURCE_ROOT) / "test" / "testdata" / "sieve";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string crlf(const std::string& t) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\n' && (i == 0 || t[i - 1] != '\r')) out += '\r';
    out += t[i];
  }
  return out;
}

std::vector<fs::path> sorted(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ext) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string evaluate(const fs::path& script) {
  Options o;
  o.include = [](IncludeLocation where, std::string_view name) -> Result<std::string> {
    fs::path p = Dir / "include" / (where == IncludeLocation::Global ? "global" : "") /
                 (std::string(name) + ".sieve");
    if (!fs::exists(p)) return Error::permanent("not found");
    return slurp(p);
  };
  auto program = compile(slurp(script), o);
  if (auto* e = std::get_if<SyntaxError>(&program)) {
    return "compile error: " + e->message() + "\n";
  }
  std::string out;
  for (const auto& m : sorted(Dir / "messages", ".eml")) {
    std::string wire = crlf(slurp(m));
    content::HeaderSection hs(256 * 1024);
    size_t used = hs.feed(wire);
    hs.end();
    MessageView view{hs.fields(), std::string_view(wire).substr(used), wire.size()};
    Outcome r = run(*std::get<ProgramPtr>(program), view,
                    {"sender@example.org", "bob+lists@example.com"}, o);
    out += "== " + m.filename().string() + "\n";
    for (const auto& a : r.actions) out += formatAction(a) + "\n";
    if (r.error) out += "error: " + *r.error + "\n";
  }
  return out;
}

TEST(SieveGolden, Corpus) {
  bool update = std::getenv("PETREL_UPDATE_GOLDEN") != nullptr;
  auto scripts = sorted(Dir, ".sieve");
  ASSERT_GE(scripts.size(), 20u);
  for (const auto& s : scripts) {
    std::string got = evaluate(s);
    fs::path ref = s;
    ref.replace_extension(".ref");
    if (update) {
      std::ofstream(ref, std::ios::binary) << got;
      continue;
    }
    EXPECT_EQ(slurp(ref), got) << s.filename();
  }
}

}  // namespace
}  // namespace petrel::sieve
