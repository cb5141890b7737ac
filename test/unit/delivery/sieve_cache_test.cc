// Tests for SieveCache (delivery/sieve_cache.h): a script file compiled once and served from
// the cache while its stamp (device, inode, size, mtime) stays, compiled again when any of
// them changes; errors cached with the script's name, line and column; texts keyed by their
// digest; the LRU bounds by count and bytes; concurrent use. Files in a temporary directory.
#include "petrel/delivery/sieve_cache.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <atomic>
#include <thread>
#include <vector>

namespace petrel::delivery {
namespace {

namespace fs = std::filesystem;

class SieveCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("petrel-sieve-cache-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, std::string_view text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    return path;
  }
  // Sets the file's mtime, so that a rewrite within one clock tick is still seen.
  static void setMtime(const std::string& path, time_t sec) {
    struct timespec times[2] = {{sec, 0}, {sec, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }
  fs::path dir_;
};

TEST_F(SieveCacheTest, AFileIsCompiledOnceWhileItDoesNotChange) {
  SieveCache cache;
  std::string path = write("a.sieve", "keep;\n");
  CachedScript first = cache.file(path);
  ASSERT_EQ(first.status, CachedScript::Status::Compiled);
  CachedScript second = cache.file(path);
  ASSERT_EQ(second.status, CachedScript::Status::Compiled);
  EXPECT_EQ(first.program.get(), second.program.get());  // the same compiled script
  SieveCacheStats s = cache.stats();
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.scripts, 1u);
  EXPECT_EQ(s.bytes, 6 + SieveCacheLimits::EntryOverhead);
}

TEST_F(SieveCacheTest, AChangedFileIsCompiledAgain) {
  SieveCache cache;
  std::string path = write("a.sieve", "keep;\n");
  setMtime(path, 1000000);
  sieve::ProgramPtr old = cache.file(path).program;
  ASSERT_TRUE(old);
  // Another size.
  write("a.sieve", "discard;\n");
  setMtime(path, 1000000);
  CachedScript changed = cache.file(path);
  ASSERT_EQ(changed.status, CachedScript::Status::Compiled);
  EXPECT_NE(changed.program.get(), old.get());
  EXPECT_EQ(changed.program->script().commands.at(0).name, "discard");
  // The same size, another mtime.
  write("a.sieve", "stop;   \n");
  setMtime(path, 1000000);
  EXPECT_EQ(cache.file(path).program->script().commands.at(0).name, "discard");  // unseen
  setMtime(path, 1000001);
  EXPECT_EQ(cache.file(path).program->script().commands.at(0).name, "stop");
  // Another inode (an editor's rename over it), same size and mtime as before.
  std::string other = write("b.sieve", "keep;   \n");
  setMtime(other, 1000001);
  fs::rename(other, path);
  EXPECT_EQ(cache.file(path).program->script().commands.at(0).name, "keep");
  EXPECT_EQ(cache.stats().scripts, 1u);  // one entry per path
}

TEST_F(SieveCacheTest, ErrorsNameTheScriptLineAndColumnAndAreCachedToo) {
  SieveCache cache;
  std::string path = write("broken.sieve", "require \"fileinto\";\nif header :is \"a\" {\n");
  CachedScript broken = cache.file(path);
  ASSERT_EQ(broken.status, CachedScript::Status::Broken);
  EXPECT_EQ(broken.error.rfind(path + ":3:1: ", 0), 0u) << broken.error;
  EXPECT_EQ(cache.file(path).error, broken.error);
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.file((dir_ / "none.sieve").string()).status, CachedScript::Status::Missing);
  EXPECT_EQ(cache.file(dir_.string()).status, CachedScript::Status::Broken);  // a directory
  CachedScript text = cache.text("fileinto \"x\";", "table inline:t: bob@example.test");
  ASSERT_EQ(text.status, CachedScript::Status::Broken);
  EXPECT_EQ(text.error.rfind("table inline:t: bob@example.test:1:1: ", 0), 0u) << text.error;
}

TEST_F(SieveCacheTest, AScriptOverTheSizeLimitDoesNotCompile) {
  sieve::Options options;
  options.parse_limits.max_script_bytes = 64;
  SieveCache cache(options);
  std::string path = write("big.sieve", std::string(100, '#') + "\nkeep;\n");
  CachedScript big = cache.file(path);
  ASSERT_EQ(big.status, CachedScript::Status::Broken);
  EXPECT_NE(big.error.find(path + ":"), std::string::npos) << big.error;
}

TEST_F(SieveCacheTest, TextsAreKeyedByTheirContent) {
  SieveCache cache;
  CachedScript a = cache.text("keep;", "t: a");
  CachedScript b = cache.text("keep;", "t: b");  // another user, the same script
  ASSERT_TRUE(a.program);
  EXPECT_EQ(a.program.get(), b.program.get());
  CachedScript c = cache.text("discard;", "t: a");
  ASSERT_TRUE(c.program);
  EXPECT_NE(c.program.get(), a.program.get());
  SieveCacheStats s = cache.stats();
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.hits, 1u);
}

TEST_F(SieveCacheTest, TheLeastRecentlyUsedGoFirst) {
  SieveCache cache({}, SieveCacheLimits{2, 1 << 20});
  sieve::ProgramPtr one = cache.text("keep;", "1").program;
  cache.text("stop;", "2");
  cache.text("keep;", "1");      // used: now the most recent
  cache.text("discard;", "3");   // evicts "stop;"
  SieveCacheStats s = cache.stats();
  EXPECT_EQ(s.scripts, 2u);
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_EQ(cache.text("keep;", "1").program.get(), one.get());  // still there
  uint64_t misses = cache.stats().misses;
  cache.text("stop;", "2");
  EXPECT_EQ(cache.stats().misses, misses + 1);  // compiled again

  // By bytes: each entry is charged its text and the overhead.
  size_t each = SieveCacheLimits::EntryOverhead + 5;
  SieveCache small({}, SieveCacheLimits{100, 2 * each});
  small.text("keep;", "1");
  small.text("stop;", "2");
  EXPECT_EQ(small.stats().scripts, 2u);
  small.text("exit;", "3");  // (does not compile; cached all the same)
  EXPECT_EQ(small.stats().scripts, 2u);
  EXPECT_LE(small.stats().bytes, 2 * each);
  // A script bigger than the whole cache is served, not kept.
  SieveCache tiny({}, SieveCacheLimits{100, 10});
  EXPECT_TRUE(tiny.text("keep;", "1").program);
  EXPECT_EQ(tiny.stats().scripts, 0u);
}

TEST_F(SieveCacheTest, DeliveryThreadsShareIt) {
  SieveCache cache({}, SieveCacheLimits{8, 1 << 20});
  std::vector<std::string> paths;
  for (int i = 0; i < 12; ++i) {
    paths.push_back(write(fmt::format("s{}.sieve", i), fmt::format("# {}\nkeep;\n", i)));
  }
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < 300; ++n) {
        const std::string& p = paths[size_t(n * (t + 1)) % paths.size()];
        if (cache.file(p).status != CachedScript::Status::Compiled) ++bad;
        if (!cache.text(fmt::format("# {}\nstop;\n", n % 10), "t").program) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  SieveCacheStats s = cache.stats();
  EXPECT_LE(s.scripts, 8u);
  EXPECT_EQ(s.hits + s.misses, 4u * 300 * 2);
}

}  // namespace
}  // namespace petrel::delivery
