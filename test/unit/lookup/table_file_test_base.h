// A fixture for the tests of the file-based lookup backends (file, regexp, cidr): a private temp
// directory, a table file replaced the way admins' tools do it, and the warnings collected.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {

class TableFileTestBase : public ::testing::Test {
 protected:
  explicit TableFileTestBase(std::string type) : type_(std::move(type)) {}

  void SetUp() override {
    char pattern[] = "/tmp/petrel-table-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/table." + type_;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes through a new file and rename(), and moves the mtime forward so a rewrite within
  // one timestamp tick is still seen as a change.
  void writeFile(const std::string& text) {
    static int generation = 0;
    std::string tmp = path_ + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary);
      out << text;
    }
    ++generation;
    struct timespec times[2] = {{1000000 + generation, 0}, {1000000 + generation, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, tmp.c_str(), times, 0), 0);
    ASSERT_EQ(std::rename(tmp.c_str(), path_.c_str()), 0);
  }

  TablePtr open() {
    config::TableSpec spec;
    spec.name = type_ + ":" + path_;
    spec.type = type_;
    spec.path = path_;
    return makeTable(spec, [this](const std::string& w) { warnings_.push_back(w); });
  }

  // Writes `text` and opens a table on it.
  TablePtr table(const std::string& text) {
    writeFile(text);
    return open();
  }

  // The warnings without their "table <type>:<path>: " prefix, e.g. "line 3: ...: skipping".
  std::vector<std::string> warnings() const {
    const std::string prefix = "table " + type_ + ":" + path_ + ": ";
    std::vector<std::string> out;
    for (const std::string& w : warnings_) {
      out.push_back(w.rfind(prefix, 0) == 0 ? w.substr(prefix.size()) : "(other table) " + w);
    }
    return out;
  }

  // The value for `key`, "(not found)", or "(tempfail: ...)" / "(config error: ...)".
  static std::string answer(const TablePtr& t, std::string_view key) {
    LookupResult r = t->lookup(key);
    switch (r.status) {
      case LookupStatus::Found:
        return r.value;
      case LookupStatus::NotFound:
        return "(not found)";
      case LookupStatus::TempFail:
        return "(tempfail: " + r.error + ")";
      case LookupStatus::ConfigError:
        return "(config error: " + r.error + ")";
    }
    return "(?)";
  }

  const std::string type_;
  std::string dir_;
  std::string path_;
  std::vector<std::string> warnings_;
};

}  // namespace petrel::lookup
