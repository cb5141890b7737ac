// Authenticator: checks SASL credentials against a user database, asynchronously.
//
// Backends: "table" (crypt(3) hashes in the SQLite credentials database that `petrel user`
// maintains; verification runs on the thread pool), "lookup" (crypt(3) hashes from any lookup
// table, e.g. PostfixAdmin's mailbox.password over mysql; also on the thread pool) and
// "dovecot" (Dovecot's auth-client socket protocol, so a site that runs Dovecot keeps one
// user database).
// `done` is always called later on the caller's loop, never inside verify().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "petrel/auth/sasl.h"
#include "petrel/core/result.h"
#include "petrel/event/dispatcher.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::auth {

struct Verdict {
  bool ok = false;
  std::string user;    // canonical user name when ok (what logs and sender checks use)
  std::string reason;  // for the log when not ok ("bad password", "unknown user")
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Result error = temporary failure (database or Dovecot unreachable): 454 4.7.0.
  virtual void verify(event::Dispatcher& loop, const Credentials& credentials,
                      const std::string& client_ip,
                      std::function<void(Result<Verdict>)> done) = 0;
};

struct AuthSettings {
  std::string backend = "table";  // "table" | "dovecot"
  std::string credentials_db;     // table: path of the SQLite credentials database
  lookup::TablePtr credentials;   // lookup: user name (lower case) -> crypt(3) hash
  std::string dovecot_socket;     // dovecot: path of the auth-client socket
  // dovecot: a request without an answer after this long is a temporary failure. Not a config
  // key (tests shorten it). Default: 10 s
  uint64_t dovecot_timeout_ms = 10000;
};

Result<std::shared_ptr<Authenticator>> makeAuthenticator(const AuthSettings& settings);

// The credentials database used by the "table" backend and `petrel user`.
// Table `users(name TEXT PRIMARY KEY, hash TEXT NOT NULL)`; names are lower-cased.
Status addUser(const std::string& db_path, const std::string& name, const std::string& password);
Status setPassword(const std::string& db_path, const std::string& name,
                   const std::string& password);
Status deleteUser(const std::string& db_path, const std::string& name);
// The admin flag of the dashboard's login (docs/dashboard.md): column `admin` (0/1), added to
// the table the first time a flag is set; in a database without it nobody is an admin.
Status setAdmin(const std::string& db_path, const std::string& name, bool admin);
// verifyWithTable, and then ok only for a user with the admin flag (reason "not an admin").
// Blocking.
Result<Verdict> verifyAdmin(const std::string& db_path, const Credentials& credentials);
// The crypt(3) hash an unknown user's password is checked against, so that a refusal costs one
// hash whether the user exists or not (timing does not tell). Made once, like addUser's hashes
// (yescrypt at libxcrypt's default cost).
const std::string& unknownUserHash();
// Blocking; for the thread pool and tests. Verdict.ok false for unknown user or bad password.
Result<Verdict> verifyWithTable(const std::string& db_path, const Credentials& credentials);
// The same against a lookup table (backend "lookup"); a "{SCHEME}" prefix before the hash is
// skipped. A table failure is a temporary error. Blocking.
Result<Verdict> verifyWithLookup(const lookup::LookupTable& table, const Credentials& credentials);

}  // namespace petrel::auth
