// The queue's SQLite connection; see db.h.
#include "petrel/queue/db.h"

#include <fmt/format.h>

namespace petrel::queue {

Result<std::unique_ptr<Db>> Db::open(const std::string& path, bool read_only) {
  sqlite::OpenOptions options;
  options.read_only = read_only;
  options.create = !read_only;
  options.busy_timeout_ms = 5000;
  auto raw = openHandle(path, options);
  if (!raw) {
    return Error::temporary(
        fmt::format("cannot open queue database {}: {}", path, raw.error().message()));
  }
  std::unique_ptr<Db> db(new Db(*raw));
  // Readers (one per delivery thread) only fetch rows by key: a small page cache keeps the
  // process small under load.
  if (read_only) (void)db->exec("PRAGMA cache_size=-256");
  return db;
}

}  // namespace petrel::queue
