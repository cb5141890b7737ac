// Tests for the file lookup backend (source/lookup/backends/file.cc): format, warnings,
// missing file, recovery and reload on change. The fixture is the one of the regexp and cidr
// tests (table_file_test_base.h).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "petrel/lookup/lookup_table.h"
#include "table_file_test_base.h"

namespace petrel::lookup {
namespace {

class FileTableTest : public TableFileTestBase {
 protected:
  FileTableTest() : TableFileTestBase("file") {}
};

TEST_F(FileTableTest, ParsesKeyValueLinesCommentsAndBlankLines) {
  writeFile(
      "# aliases\n"
      "\n"
      "postmaster@example.test   alice@example.test\n"
      "Sales@Example.Test\tbob@example.test, carol@example.test  \r\n"
      "   # indented comment\n"
      "list@example.test a@x.test b@x.test\n");
  TablePtr table = open();
  EXPECT_TRUE(warnings_.empty());
  EXPECT_EQ(table->describe(), "file:" + path_);

  LookupResult r = table->lookup("postmaster@example.test");
  EXPECT_EQ(r.status, LookupStatus::Found);
  EXPECT_EQ(r.value, "alice@example.test");
  EXPECT_EQ(table->lookup("sales@example.test").value, "bob@example.test, carol@example.test");
  EXPECT_EQ(table->lookup("list@example.test").value, "a@x.test b@x.test");
  EXPECT_EQ(table->lookup("# aliases").status, LookupStatus::NotFound);
  EXPECT_EQ(table->lookup("nobody@example.test").status, LookupStatus::NotFound);
}

TEST_F(FileTableTest, WarnsAboutLinesWithoutValueAndKeepsGoing) {
  writeFile("a@x.test b@x.test\nbroken@x.test\n\n# c\n\n\nalso-broken  \nc@x.test d@x.test\n");
  TablePtr table = open();
  ASSERT_EQ(warnings_.size(), 2u);
  EXPECT_EQ(warnings_[0], "table file:" + path_ + ": line 2: missing value: skipping");
  EXPECT_EQ(warnings_[1], "table file:" + path_ + ": line 7: missing value: skipping");
  EXPECT_EQ(table->lookup("a@x.test").status, LookupStatus::Found);
  EXPECT_EQ(table->lookup("broken@x.test").status, LookupStatus::NotFound);
  EXPECT_EQ(table->lookup("c@x.test").value, "d@x.test");
}

TEST_F(FileTableTest, FirstOfDuplicateKeysWins) {
  writeFile("a@x.test first\nA@X.TEST second\n");
  TablePtr table = open();
  EXPECT_EQ(table->lookup("a@x.test").value, "first");
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(warnings_[0],
            "table file:" + path_ + ": line 2: duplicate key \"A@X.TEST\": keeping the first");
}

TEST_F(FileTableTest, MissingFileTempFailsThenRecoversAfterRefresh) {
  TablePtr table = open();
  LookupResult r = table->lookup("a@x.test");
  EXPECT_EQ(r.status, LookupStatus::TempFail);
  EXPECT_NE(r.error.find(path_), std::string::npos);
  EXPECT_NE(r.error.find("No such file or directory"), std::string::npos);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(warnings_[0], "table file:" + path_ + ": cannot open: No such file or directory");

  table->refresh();  // still missing: no new warning every second
  table->refresh();
  EXPECT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(table->lookup("a@x.test").status, LookupStatus::TempFail);

  writeFile("a@x.test b@x.test\n");
  table->refresh();
  r = table->lookup("a@x.test");
  EXPECT_EQ(r.status, LookupStatus::Found);
  EXPECT_EQ(r.value, "b@x.test");
  EXPECT_EQ(warnings_.size(), 1u);
}

TEST_F(FileTableTest, ReloadsWhenTheFileChanges) {
  writeFile("a@x.test old\n");
  TablePtr table = open();
  EXPECT_EQ(table->lookup("a@x.test").value, "old");

  table->refresh();  // unchanged
  EXPECT_EQ(table->lookup("a@x.test").value, "old");

  writeFile("a@x.test new\nb@x.test added\n");
  EXPECT_EQ(table->lookup("a@x.test").value, "old");  // only refresh() reloads
  table->refresh();
  EXPECT_EQ(table->lookup("a@x.test").value, "new");
  EXPECT_EQ(table->lookup("b@x.test").value, "added");

  writeFile("b@x.test changed\n");
  table->refresh();
  EXPECT_EQ(table->lookup("a@x.test").status, LookupStatus::NotFound);
  EXPECT_EQ(table->lookup("b@x.test").value, "changed");
}

TEST_F(FileTableTest, ReloadsAnInPlaceRewriteOfTheSameSize) {
  writeFile("a@x.test 111\n");
  TablePtr table = open();
  {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << "a@x.test 222\n";
  }
  struct timespec times[2] = {{2000000, 0}, {2000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path_.c_str(), times, 0), 0);
  table->refresh();
  EXPECT_EQ(table->lookup("a@x.test").value, "222");
}

TEST_F(FileTableTest, KeepsLastGoodContentsWhenTheFileDisappears) {
  writeFile("a@x.test b@x.test\n");
  TablePtr table = open();
  ASSERT_EQ(std::remove(path_.c_str()), 0);
  table->refresh();
  table->refresh();
  EXPECT_EQ(table->lookup("a@x.test").value, "b@x.test");
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(warnings_[0], "table file:" + path_ +
                              ": cannot open: No such file or directory: keeping the previous "
                              "contents");

  writeFile("a@x.test c@x.test\n");
  table->refresh();
  EXPECT_EQ(table->lookup("a@x.test").value, "c@x.test");
}

TEST_F(FileTableTest, ADirectoryInsteadOfAFileTempFails) {
  ASSERT_EQ(::mkdir(path_.c_str(), 0700), 0);
  TablePtr table = open();
  EXPECT_EQ(table->lookup("a@x.test").status, LookupStatus::TempFail);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("cannot read"), std::string::npos);
}

TEST_F(FileTableTest, RelativePathTempFails) {
  config::TableSpec spec;
  spec.type = "file";
  spec.path = "relative/aliases";
  TablePtr table = makeTable(spec, [this](const std::string& w) { warnings_.push_back(w); });
  EXPECT_EQ(table->lookup("a").status, LookupStatus::TempFail);
  EXPECT_EQ(warnings_.size(), 1u);
}

TEST_F(FileTableTest, LookupsDuringReloadSeeOldOrNewContentsNeverAMix) {
  writeFile("a@x.test v0\nb@x.test v0\n");
  TablePtr table = open();
  std::atomic<bool> stop{false};
  std::atomic<int> mixed{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        LookupResult a = table->lookup("a@x.test");
        if (a.status != LookupStatus::Found || a.value.size() < 2 || a.value[0] != 'v') {
          ++mixed;
        }
      }
    });
  }
  for (int generation = 1; generation <= 20; ++generation) {
    writeFile("a@x.test v" + std::to_string(generation) + "\nb@x.test v" +
              std::to_string(generation) + "\n");
    table->refresh();
  }
  stop = true;
  for (auto& reader : readers) {
    reader.join();
  }
  EXPECT_EQ(mixed.load(), 0);
  EXPECT_EQ(table->lookup("a@x.test").value, "v20");
}

}  // namespace
}  // namespace petrel::lookup
