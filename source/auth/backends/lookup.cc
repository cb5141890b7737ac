// The "lookup" authenticator: crypt(3) hashes from a lookup table (auth.credentials), verified
// on the libuv thread pool like the "table" backend (a hash costs tens of milliseconds, and
// the table itself may wait for a database).
#include <string.h>

#include <memory>
#include <optional>
#include <utility>

#include "petrel/auth/authenticator.h"

namespace petrel::auth {

namespace {

class LookupAuthenticator final : public Authenticator {
 public:
  explicit LookupAuthenticator(lookup::TablePtr table) : table_(std::move(table)) {}

  void verify(event::Dispatcher& loop, const Credentials& credentials, const std::string&,
              std::function<void(Result<Verdict>)> done) override {
    struct Job {
      lookup::TablePtr table;
      Credentials credentials;
      std::optional<Result<Verdict>> result;
      ~Job() { explicit_bzero(credentials.password.data(), credentials.password.size()); }
    };
    auto job = std::make_shared<Job>();
    job->table = table_;
    job->credentials = credentials;
    loop.offload([job] { job->result = verifyWithLookup(*job->table, job->credentials); },
                 [job, done = std::move(done)] {
                   done(job->result ? std::move(*job->result)
                                    : Result<Verdict>(
                                          Error::temporary("credentials check did not run")));
                 });
  }

 private:
  const lookup::TablePtr table_;
};

}  // namespace

Result<std::shared_ptr<Authenticator>> makeLookupAuthenticator(const AuthSettings& settings) {
  if (!settings.credentials) return Error::config("auth backend lookup: credentials is not set");
  return std::shared_ptr<Authenticator>(std::make_shared<LookupAuthenticator>(settings.credentials));
}

}  // namespace petrel::auth
