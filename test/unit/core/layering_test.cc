// The layering of the code, checked against its description: every `#include "petrel/AREA/..."`
// of every file under source/ and headers/petrel/ must name the file's own area or one listed
// before it in the "Areas and their direction" block of docs/architecture.md, which is read
// here at test time so that the document stays the single source of the order. Also: the
// headers of the pure areas include no libuv, SQLite or the whole Config, and no file under
// source/ is over 700 lines.
//
// It reads the tree at PETREL_SOURCE_ROOT and nothing else; a failure names file:line and the
// two areas.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace petrel {
namespace {

namespace fs = std::filesystem;

const fs::path Root = PETREL_SOURCE_ROOT;
constexpr size_t MaxSourceLines = 700;

std::vector<std::string> readLines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// The area names of the "Areas and their direction" block, in its order: each line of the
// fenced block that starts with "name/".
std::vector<std::string> documentedOrder() {
  std::vector<std::string> lines = readLines(Root / "docs" / "architecture.md");
  auto heading = std::find(lines.begin(), lines.end(), "## Areas and their direction");
  if (heading == lines.end()) {
    return {};
  }
  auto open = std::find_if(heading, lines.end(),
                           [](const std::string& l) { return l.rfind("```", 0) == 0; });
  std::vector<std::string> areas;
  static const std::regex Area(R"(^([a-z_]+)/(\s|$))");
  for (auto it = open == lines.end() ? open : open + 1; it != lines.end(); ++it) {
    if (it->rfind("```", 0) == 0) {
      break;
    }
    std::smatch m;
    if (std::regex_search(*it, m, Area)) {
      areas.push_back(m[1]);
    }
  }
  return areas;
}

struct SourceFile {
  fs::path path;     // relative to Root
  std::string area;  // "lookup" for source/lookup/backends/file.cc and headers/petrel/lookup/x.h
};

std::vector<SourceFile> codeFiles() {
  std::vector<SourceFile> files;
  for (const fs::path& top : {fs::path("source"), fs::path("headers") / "petrel"}) {
    for (const auto& entry : fs::recursive_directory_iterator(Root / top)) {
      std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".h" && ext != ".cc")) {
        continue;
      }
      fs::path rel = fs::relative(entry.path(), Root);
      fs::path inside = fs::relative(entry.path(), Root / top);
      files.push_back({rel, inside.begin()->string()});
    }
  }
  std::sort(files.begin(), files.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  return files;
}

std::optional<size_t> position(const std::vector<std::string>& order, const std::string& area) {
  auto it = std::find(order.begin(), order.end(), area);
  if (it == order.end()) {
    return std::nullopt;
  }
  return static_cast<size_t>(it - order.begin());
}

TEST(LayeringTest, TheDocumentNamesTheAreas) {
  std::vector<std::string> order = documentedOrder();
  ASSERT_GE(order.size(), 10u) << "no area list found in docs/architecture.md";
  EXPECT_EQ(order.front(), "core");
  for (const SourceFile& f : codeFiles()) {
    EXPECT_TRUE(position(order, f.area).has_value())
        << f.path.string() << ": area '" << f.area
        << "' is not in docs/architecture.md's \"Areas and their direction\"";
  }
}

// An area may include itself and the areas listed before it.
TEST(LayeringTest, NoAreaIncludesOneAboveIt) {
  std::vector<std::string> order = documentedOrder();
  static const std::regex Include(R"(^\s*#\s*include\s*"petrel/([a-z_]+)/)");
  for (const SourceFile& f : codeFiles()) {
    std::optional<size_t> own = position(order, f.area);
    if (!own) {
      continue;  // reported by TheDocumentNamesTheAreas
    }
    std::vector<std::string> lines = readLines(Root / f.path);
    for (size_t i = 0; i < lines.size(); ++i) {
      std::smatch m;
      if (!std::regex_search(lines[i], m, Include)) {
        continue;
      }
      std::string included = m[1];
      std::optional<size_t> theirs = position(order, included);
      EXPECT_TRUE(theirs && *theirs <= *own)
          << f.path.string() << ":" << i + 1 << ": " << f.area << "/ includes " << included
          << "/ (" << lines[i] << "), which "
          << (theirs ? "comes after it" : "is not an area") << " in docs/architecture.md";
    }
  }
}

// The pure areas' interfaces stay free of the loop, the database and the whole Config, so
// that their tests and fuzz targets need none of them.
TEST(LayeringTest, PureHeadersIncludeNoLoopDatabaseOrConfig) {
  static const std::regex Forbidden(
      R"(^\s*#\s*include\s*(<uv\.h>|<sqlite3\.h>|"petrel/config/config\.h"))");
  for (const char* area : {"smtp", "policy", "lookup", "auth", "dns", "milter"}) {
    fs::path dir = Root / "headers" / "petrel" / area;
    ASSERT_TRUE(fs::is_directory(dir)) << dir.string();
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file()) {
        continue;
      }
      std::vector<std::string> lines = readLines(entry.path());
      for (size_t i = 0; i < lines.size(); ++i) {
        std::smatch m;
        EXPECT_FALSE(std::regex_search(lines[i], m, Forbidden))
            << fs::relative(entry.path(), Root).string() << ":" << i + 1 << ": " << area
            << "/ includes " << m[1];
      }
    }
  }
}

TEST(LayeringTest, NoSourceFileIsOver700Lines) {
  for (const auto& entry : fs::recursive_directory_iterator(Root / "source")) {
    if (!entry.is_regular_file()) {
      continue;
    }
    size_t lines = readLines(entry.path()).size();
    EXPECT_LE(lines, MaxSourceLines)
        << fs::relative(entry.path(), Root).string() << " has " << lines << " lines";
  }
}

}  // namespace
}  // namespace petrel
