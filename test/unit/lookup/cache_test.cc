// The table cache (TableSpec::cache_ttl): answers kept for their TTL, failures never kept.
#include "table_file_test_base.h"

namespace petrel::lookup {
namespace {

class TableCacheTest : public TableFileTestBase {
 protected:
  TableCacheTest() : TableFileTestBase("file") {}

  TablePtr cached(uint64_t ttl, uint64_t negative_ttl) {
    config::TableSpec spec;
    spec.name = "file:" + path_;
    spec.type = "file";
    spec.path = path_;
    spec.cache_ttl = ttl;
    spec.cache_negative_ttl = negative_ttl;
    return makeTable(spec, [this](const std::string& w) { warnings_.push_back(w); });
  }
};

TEST_F(TableCacheTest, FoundAnswersOutliveAChangeUntilTheirTtl) {
  writeFile("alice@example.test example.test/alice/\n");
  TablePtr with_cache = cached(3600, 0);
  TablePtr without = open();
  EXPECT_EQ(answer(with_cache, "alice@example.test"), "example.test/alice/");
  EXPECT_EQ(answer(with_cache, "bob@example.test"), "(not found)");

  writeFile("alice@example.test example.test/alice2/\nbob@example.test example.test/bob/\n");
  with_cache->refresh();
  without->refresh();
  EXPECT_EQ(answer(without, "alice@example.test"), "example.test/alice2/");
  EXPECT_EQ(answer(with_cache, "alice@example.test"), "example.test/alice/");  // cached
  // negative_ttl 0: a not-found answer is asked again.
  EXPECT_EQ(answer(with_cache, "bob@example.test"), "example.test/bob/");
  EXPECT_EQ(with_cache->describe(), without->describe());
}

TEST_F(TableCacheTest, NegativeAnswersAreKeptForTheirOwnTtl) {
  writeFile("alice@example.test a/\n");
  TablePtr t = cached(3600, 3600);
  EXPECT_EQ(answer(t, "bob@example.test"), "(not found)");
  writeFile("alice@example.test a/\nbob@example.test b/\n");
  t->refresh();
  EXPECT_EQ(answer(t, "bob@example.test"), "(not found)");
}

TEST_F(TableCacheTest, TemporaryFailuresAreNeverKept) {
  // No file yet: the table answers TempFail until it can load.
  TablePtr t = cached(3600, 3600);
  EXPECT_EQ(answer(t, "alice@example.test").rfind("(tempfail: ", 0), 0u);
  writeFile("alice@example.test a/\n");
  t->refresh();
  EXPECT_EQ(answer(t, "alice@example.test"), "a/");
}

}  // namespace
}  // namespace petrel::lookup
