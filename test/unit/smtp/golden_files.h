// Test-only file handling for golden dialogs, shared by server_session_test.cc
// (test/testdata/smtp/) and client_session_test.cc (test/testdata/smtp-client/): the scripts
// of a directory (NN-name.in), reading them, and comparing a transcript with its NN-name.ref,
// with a line diff on mismatch. PETREL_UPDATE_GOLDEN=1 rewrites each .ref from the transcript
// instead of comparing; review every changed .ref by hand.
//
// It knows nothing of sessions or script grammar: each test runs its own script and passes
// the transcript here.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace petrel::smtp::testing {

inline std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A line diff (LCS), enough to show what changed in a transcript of a few dozen lines.
inline std::string lineDiff(const std::string& want, const std::string& got) {
  auto toLines = [](const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  };
  auto a = toLines(want), b = toLines(got);
  std::vector<std::vector<int>> lcs(a.size() + 1, std::vector<int>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;) {
    for (size_t j = b.size(); j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      out += "  " + a[i++] + "\n";
      ++j;
    } else if (j < b.size() && (i == a.size() || lcs[i][j + 1] >= lcs[i + 1][j])) {
      out += "+ " + b[j++] + "\n";
    } else {
      out += "- " + a[i++] + "\n";
    }
  }
  return out;
}

// The scenario names of `dir`: every NN-name.in without its extension, sorted.
inline std::vector<std::string> goldenNames(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".in") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline std::string goldenScript(const std::filesystem::path& dir, const std::string& name) {
  return readFile(dir / (name + ".in"));
}

// `got` must equal dir/name.ref (under PETREL_UPDATE_GOLDEN=1: becomes it).
inline void expectMatchesGolden(const std::filesystem::path& dir, const std::string& name,
                                const std::string& got) {
  const auto ref_path = dir / (name + ".ref");
  if (const char* u = std::getenv("PETREL_UPDATE_GOLDEN"); u != nullptr && std::string(u) == "1") {
    std::ofstream(ref_path, std::ios::binary) << got;
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(ref_path)) << ref_path << " missing; got:\n" << got;
  const std::string want = readFile(ref_path);
  EXPECT_EQ(want, got) << "diff (- " << ref_path.filename().string() << ", + actual):\n"
                       << lineDiff(want, got);
}

// Test names from scenario names: gtest allows no '-'.
inline std::string goldenTestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

}  // namespace petrel::smtp::testing
