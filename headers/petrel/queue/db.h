// The queue's SQLite connection: a sqlite::Database opened as the journal and its readers
// need it, with errors worded "queue database: ...". Every failure is temporary for mail (a
// 4xx, a deferral): a full disk or a locked file may work later.
#pragma once

#include <memory>
#include <string>

#include "petrel/core/result.h"
#include "petrel/sqlite/database.h"

namespace petrel::queue {

using Stmt = sqlite::Statement;

class Db final : public sqlite::Database {
 public:
  // Read-write (creating the file) for the journal, read-only for the delivery threads and
  // the control socket.
  static Result<std::unique_ptr<Db>> open(const std::string& path, bool read_only);

 private:
  explicit Db(sqlite3* db) : sqlite::Database(db, "queue database") {}
};

}  // namespace petrel::queue
