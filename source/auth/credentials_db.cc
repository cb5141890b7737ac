// The credentials database: user names and crypt(3) hashes in SQLite, maintained by
// `petrel user` and read by the "table" authenticator.
//
// Owns the schema, the hashing (libxcrypt, yescrypt for new hashes) and one read-only
// connection per thread for verification. It does not decide when to run: verifyWithTable()
// blocks for as long as the hash takes (tens of milliseconds by design), so the authenticator
// runs it on the thread pool, never on a loop. Nothing here logs, and passwords are wiped
// from the buffers this file allocates once they are hashed.
//
// The file is created with mode 0600 (hashes are secrets too) and uses SQLite's default
// rollback journal, so a read-only connection needs no write access to anything.
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "petrel/auth/authenticator.h"
#include "petrel/core/strings.h"
#include "petrel/sqlite/database.h"

namespace petrel::auth {

namespace {

constexpr size_t MaxNameLength = 255;
constexpr int BusyTimeoutMs = 5000;

// A yescrypt hash with libxcrypt's default cost, for when crypt_gensalt cannot make a fresh one:
// unknown users are checked against a hash of this cost so they take as long as known ones.
constexpr const char* FallbackDummyHash =
    "$y$j9T$Nh4dbSx4ZgA0xdtcXk4rJ.$fFgKrnWlHGQeHzqOcbBgsU.2pivLkrre7R5cDWMj.3D";

using DatabasePtr = std::unique_ptr<sqlite::Database>;

// Every database error reads "credentials database PATH: what SQLite said".
std::string label(const std::string& path) { return fmt::format("credentials database {}", path); }

Result<DatabasePtr> openDatabase(const std::string& path, bool read_only) {
  sqlite::OpenOptions options;
  options.read_only = read_only;
  options.busy_timeout_ms = BusyTimeoutMs;
  auto db = sqlite::Database::open(path, options, label(path));
  if (!db) {
    return Error::temporary(fmt::format("{}: {}", label(path), db.error().message()));
  }
  return std::move(*db);
}

// Lower-cased (ASCII), surrounding blanks removed; empty, over-long or control-character names
// are refused. The same rule applies when adding and when verifying, so "Alice " logs in as
// "alice".
Result<std::string> normalizeName(std::string_view name) {
  while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  if (name.empty()) return Error::permanent("empty user name");
  if (name.size() > MaxNameLength) {
    return Error::permanent(fmt::format("user name longer than {} octets", MaxNameLength));
  }
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return Error::permanent("control character in user name");
    out.push_back(c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c);
  }
  return out;
}

Status checkPassword(const std::string& password) {
  if (password.empty()) return Error::permanent("empty password");
  // crypt(3) stops at a NUL: "a\0b" would become "a".
  if (password.find('\0') != std::string::npos) return Error::permanent("NUL in password");
  return okStatus();
}

// crypt_data is 32 KiB: one per thread, not on the stack.
crypt_data& cryptData() {
  thread_local auto data = std::make_unique<crypt_data>();
  return *data;
}

// crypt_rn: NULL (not a "*0" token) on failure.
std::optional<std::string> cryptHash(const std::string& password, const char* setting) {
  crypt_data& data = cryptData();
  std::memset(&data, 0, sizeof data);
  const char* h = crypt_rn(password.c_str(), setting, &data, int(sizeof data));
  std::optional<std::string> out;
  if (h != nullptr && h[0] != '*') out = std::string(h);
  explicit_bzero(&data, sizeof data);
  return out;
}

Result<std::string> hashPassword(const std::string& password) {
  // Count 0 = libxcrypt's default cost; no random bytes given = it reads them from the OS.
  char* setting = crypt_gensalt_ra("$y$", 0, nullptr, 0);
  if (setting == nullptr) {
    return Error::temporary(fmt::format("cannot make a yescrypt salt: {}", strerror(errno)));
  }
  auto hash = cryptHash(password, setting);
  std::free(setting);
  if (!hash) return Error::temporary("crypt(3) failed to hash the password");
  return *hash;
}


// Compares in time that depends only on the lengths (which a hash format fixes anyway).
bool constantTimeEqual(const std::string& a, const std::string& b) {
  size_t n = a.size() > b.size() ? a.size() : b.size();
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = diff | (x ^ y);
  }
  return diff == 0;
}

// Empty, or the user itself: Petrel has no proxy authorization.
bool authzidAllowed(const std::string& authzid, const std::string& user) {
  if (authzid.empty()) return true;
  auto z = normalizeName(authzid);
  return z && *z == user;
}

// Opens for writing, creating the file (mode 0600) and the table when `create`.
Result<DatabasePtr> openForWrite(const std::string& path, bool create) {
  if (create) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return Error::temporary(
          fmt::format("cannot create credentials database {}: {}", path, strerror(errno)));
    }
    ::close(fd);
  } else if (::access(path.c_str(), F_OK) != 0) {
    return Error::permanent(fmt::format("credentials database {} does not exist", path));
  }
  auto db = openDatabase(path, false);
  if (!db) return db.error();
  if (auto st = (*db)->exec(
          "CREATE TABLE IF NOT EXISTS users(name TEXT PRIMARY KEY, hash TEXT NOT NULL)");
      !st) {
    return st.error();
  }
  return db;
}

// Runs one statement with up to two text parameters; returns the number of changed rows.
Result<int> execute(sqlite::Database& db, const char* sql, const std::string& a,
                    const std::string* b = nullptr) {
  auto stmt = db.prepare(sql, false);
  if (!stmt) return stmt.error();
  stmt->bind(1, a);
  if (b != nullptr) stmt->bind(2, *b);
  auto row = stmt->step();
  if (stmt->resultCode() == SQLITE_CONSTRAINT) return Error::permanent("constraint");
  if (!row) return row.error();
  return db.changes();
}

// One read-only connection per thread (the thread pool's threads each keep theirs). It is
// reopened when the file was replaced (another inode), so `rm` + `petrel user add` works
// without a restart; in-place changes are seen anyway, SQLite checks at each transaction.
class ReadConnection {
 public:
  static Result<ReadConnection*> forPath(const std::string& path) {
    thread_local std::unique_ptr<ReadConnection> conn;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      conn.reset();
      return Error::temporary(
          fmt::format("cannot open credentials database {}: {}", path, strerror(errno)));
    }
    if (conn && conn->path_ == path && conn->dev_ == st.st_dev && conn->ino_ == st.st_ino) {
      return conn.get();
    }
    conn.reset();
    auto db = openDatabase(path, true);
    if (!db) return db.error();
    auto stmt = (*db)->prepare("SELECT hash FROM users WHERE name = ?1");
    if (!stmt) return stmt.error();
    conn.reset(new ReadConnection(path, st, std::move(*db), std::move(*stmt)));
    return conn.get();
  }

  // The stored hash, nullopt for an unknown user.
  Result<std::optional<std::string>> lookup(const std::string& name) {
    stmt_.reset();
    stmt_.bind(1, name);
    auto row = stmt_.step();
    std::optional<std::string> hash;
    // A C string, as crypt(3) reads the setting: up to a NUL.
    if (row && *row) {
      const char* text = stmt_.textView(0).data();
      hash = std::string(text != nullptr ? text : "");
    }
    stmt_.reset();
    if (!row) return row.error();
    return hash;
  }

 private:
  ReadConnection(std::string path, const struct stat& st, DatabasePtr db, sqlite::Statement stmt)
      : path_(std::move(path)),
        dev_(st.st_dev),
        ino_(st.st_ino),
        db_(std::move(db)),
        stmt_(std::move(stmt)) {}

  std::string path_;
  dev_t dev_;
  ino_t ino_;
  DatabasePtr db_;  // declared before stmt_: the statement is finalized first
  sqlite::Statement stmt_;
};

// Stores a new hash for `name`; `insert` adds a user, otherwise an existing one is changed.
Status storePassword(const std::string& db_path, const std::string& name,
                     const std::string& password, bool insert) {
  auto user = normalizeName(name);
  if (!user) return user.error();
  auto ok = checkPassword(password);
  if (!ok) return ok.error();
  auto hash = hashPassword(password);
  if (!hash) return hash.error();
  auto db = openForWrite(db_path, insert);
  if (!db) return db.error();
  auto changed = insert
                     ? execute(**db, "INSERT INTO users(name, hash) VALUES(?1, ?2)", *user, &*hash)
                     : execute(**db, "UPDATE users SET hash = ?2 WHERE name = ?1", *user, &*hash);
  if (!changed) {
    if (insert && !changed.error().temporary()) {
      return Error::permanent(fmt::format("user {} already exists", *user));
    }
    return changed.error();
  }
  if (*changed == 0) return Error::permanent(fmt::format("no such user: {}", *user));
  return okStatus();
}

}  // namespace

Status addUser(const std::string& db_path, const std::string& name, const std::string& password) {
  return storePassword(db_path, name, password, true);
}

Status setPassword(const std::string& db_path, const std::string& name,
                   const std::string& password) {
  return storePassword(db_path, name, password, false);
}

Status deleteUser(const std::string& db_path, const std::string& name) {
  auto user = normalizeName(name);
  if (!user) return user.error();
  auto db = openForWrite(db_path, false);
  if (!db) return db.error();
  auto changed = execute(**db, "DELETE FROM users WHERE name = ?1", *user);
  if (!changed) return changed.error();
  if (*changed == 0) return Error::permanent(fmt::format("no such user: {}", *user));
  return okStatus();
}

Status setAdmin(const std::string& db_path, const std::string& name, bool admin) {
  auto user = normalizeName(name);
  if (!user) return user.error();
  auto db = openForWrite(db_path, false);
  if (!db) return db.error();
  // Databases made before the flag existed get the column now (SQLite has no ADD COLUMN IF
  // NOT EXISTS: a second ALTER fails with "duplicate column name", which is what we want).
  if (auto st = (*db)->exec("ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0");
      !st && st.error().message().find("duplicate column") == std::string::npos) {
    return st.error();
  }
  const std::string flag = admin ? "1" : "0";
  auto changed = execute(**db, "UPDATE users SET admin = CAST(?2 AS INTEGER) WHERE name = ?1",
                         *user, &flag);
  if (!changed) return changed.error();
  if (*changed == 0) return Error::permanent(fmt::format("no such user: {}", *user));
  return okStatus();
}

Result<Verdict> verifyAdmin(const std::string& db_path, const Credentials& credentials) {
  auto v = verifyWithTable(db_path, credentials);
  if (!v || !v->ok) return v;
  auto db = openDatabase(db_path, true);
  if (!db) return db.error();
  auto stmt = (*db)->prepare("SELECT admin FROM users WHERE name = ?1", false);
  bool is_admin = false;
  if (stmt) {
    stmt->bind(1, v->user);
    auto row = stmt->step();
    if (!row) return row.error();
    is_admin = *row && stmt->integer(0) != 0;
  } else if (stmt.error().message().find("no such column") == std::string::npos) {
    return stmt.error();
  }
  if (!is_admin) return Verdict{.ok = false, .user = "", .reason = "not an admin"};
  return v;
}

namespace {

// The check shared by every hash source: `stored` is the user's crypt(3) hash, or nullopt for
// an unknown user (who costs one dummy hash all the same, so timing does not tell).
Verdict verifyHash(const std::optional<std::string>& name, const std::optional<std::string>& stored,
                   const Credentials& credentials) {
  const std::string& setting = stored ? *stored : unknownUserHash();
  bool password_ok = checkPassword(credentials.password).ok();
  auto computed = cryptHash(password_ok ? credentials.password : std::string("x"), setting.c_str());
  bool match = computed && constantTimeEqual(*computed, setting);

  Verdict v;
  if (!stored) {
    v.reason = "unknown user";
  } else if (!computed) {
    v.reason = "unusable password hash";
  } else if (!match || !password_ok) {
    v.reason = "bad password";
  } else if (!authzidAllowed(credentials.authzid, *name)) {
    // The SASL layer refuses these already; checked again for direct callers.
    v.reason = "authorization identity differs";
  } else {
    v.ok = true;
    v.user = *name;
  }
  return v;
}

}  // namespace

const std::string& unknownUserHash() {
  static const std::string hash = [] {
    auto h = hashPassword("petrel-dummy-password");
    return h ? *h : std::string(FallbackDummyHash);
  }();
  return hash;
}

Result<Verdict> verifyWithTable(const std::string& db_path, const Credentials& credentials) {
  auto conn = ReadConnection::forPath(db_path);
  if (!conn) return conn.error();
  // The dummy hash is made before the lookup: its first use costs a hash, and that must not
  // fall on the first unknown user.
  (void)unknownUserHash();
  auto name = normalizeName(credentials.authcid);
  std::optional<std::string> stored;
  if (name) {
    auto found = (*conn)->lookup(*name);
    if (!found) return found.error();
    stored = std::move(*found);
  }
  return verifyHash(name ? std::optional<std::string>(*name) : std::nullopt, stored, credentials);
}

Result<Verdict> verifyWithLookup(const lookup::LookupTable& table, const Credentials& credentials) {
  (void)unknownUserHash();
  auto name = normalizeName(credentials.authcid);
  std::optional<std::string> stored;
  if (name) {
    lookup::LookupResult r = table.lookup(*name);
    if (r.status == lookup::LookupStatus::Found) {
      std::string hash(trim(r.value));
      // Dovecot-style scheme prefixes (PostfixAdmin stores "{SHA512-CRYPT}$6$..."): the
      // crypt(3) string follows; crypt(3) itself knows the method from it.
      if (hash.starts_with('{')) {
        size_t close = hash.find('}');
        if (close != std::string::npos) hash.erase(0, close + 1);
      }
      stored = std::move(hash);
    } else if (r.status != lookup::LookupStatus::NotFound) {
      return Error::temporary(r.error.empty() ? table.describe() + ": lookup failed" : r.error);
    }
  }
  return verifyHash(name ? std::optional<std::string>(*name) : std::nullopt, stored, credentials);
}

}  // namespace petrel::auth
