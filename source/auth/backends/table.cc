// The "table" authenticator: verifies against the credentials database (credentials_db.cc)
// on the libuv thread pool, because a yescrypt hash takes tens of milliseconds by design and
// must never stall a loop full of SMTP sessions.
//
// It owns only the database path. Each pool thread keeps its own read-only connection
// (credentials_db.cc), so concurrent verifications do not share a SQLite handle.
#include <fmt/format.h>
#include <string.h>

#include <memory>
#include <optional>
#include <utility>

#include "petrel/auth/authenticator.h"

namespace petrel::auth {

namespace {

class TableAuthenticator final : public Authenticator {
 public:
  explicit TableAuthenticator(std::string db_path) : db_path_(std::move(db_path)) {}

  void verify(event::Dispatcher& loop, const Credentials& credentials, const std::string&,
              std::function<void(Result<Verdict>)> done) override {
    // The work item holds its own copy of the credentials (wiped after use) and of the path,
    // so it does not depend on this authenticator outliving it.
    struct Job {
      std::string db_path;
      Credentials credentials;
      std::optional<Result<Verdict>> result;
      ~Job() { explicit_bzero(credentials.password.data(), credentials.password.size()); }
    };
    auto job = std::make_shared<Job>();  // built in place: no moved-from password copies
    job->db_path = db_path_;
    job->credentials = credentials;
    loop.offload([job] { job->result = verifyWithTable(job->db_path, job->credentials); },
                 [job, done = std::move(done)] {
                   Result<Verdict> r =
                       job->result
                           ? std::move(*job->result)
                           : Result<Verdict>(Error::temporary("credentials check did not run"));
                   done(std::move(r));
                 });
  }

 private:
  const std::string db_path_;
};

}  // namespace

Result<std::shared_ptr<Authenticator>> makeTableAuthenticator(const AuthSettings& settings) {
  if (settings.credentials_db.empty()) {
    return Error::config("auth backend table: credentials_db is not set");
  }
  return std::shared_ptr<Authenticator>(
      std::make_shared<TableAuthenticator>(settings.credentials_db));
}

}  // namespace petrel::auth
