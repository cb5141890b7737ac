// Authenticators: the credentials database (petrel user's add/passwd/del and the blocking
// verifyWithTable), the asynchronous table backend through a real uv loop and Dispatcher, and
// the Dovecot backend's libuv driver against a fake auth server on the same loop.
#include "petrel/core/base64.h"
#include "petrel/auth/authenticator.h"

#include <crypt.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace petrel::auth {
namespace {

using namespace std::string_literals;

Credentials creds(const std::string& user, const std::string& password,
                  const std::string& authzid = "") {
  return Credentials{authzid, user, password};
}

// A hash made the way another system would have made it: libxcrypt with a given prefix.
std::string hashWith(const char* prefix, unsigned long count, const std::string& password) {
  char* setting = crypt_gensalt_ra(prefix, count, nullptr, 0);
  EXPECT_NE(setting, nullptr) << prefix;
  if (setting == nullptr) return "";
  crypt_data data{};
  const char* h = crypt_rn(password.c_str(), setting, &data, int(sizeof data));
  std::free(setting);
  EXPECT_NE(h, nullptr) << prefix;
  return h ? std::string(h) : "";
}

class CredentialsDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/petrel-auth-XXXXXX";
    dir_ = mkdtemp(tmpl);
    db_ = dir_ + "/credentials.db";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  // Inserts a row directly, as a migration from another system would.
  void insertRaw(const std::string& name, const std::string& hash) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    std::string sql =
        "CREATE TABLE IF NOT EXISTS users(name TEXT PRIMARY KEY, hash TEXT NOT "
        "NULL); INSERT INTO users VALUES('" +
        name + "', '" + hash + "')";
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
    sqlite3_free(err);
    sqlite3_close(db);
  }

  std::optional<std::string> storedHash(const std::string& name) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "SELECT hash FROM users WHERE name = ?1", -1, &s, nullptr);
    sqlite3_bind_text(s, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    std::optional<std::string> out;
    if (sqlite3_step(s) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
  }

  Verdict verify(const Credentials& c) {
    auto r = verifyWithTable(db_, c);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : Verdict{};
  }

  std::string dir_, db_;
};

TEST_F(CredentialsDbTest, AddThenVerify) {
  ASSERT_TRUE(addUser(db_, "alice", "s3cret pass"));
  auto v = verify(creds("alice", "s3cret pass"));
  EXPECT_TRUE(v.ok);
  EXPECT_EQ(v.user, "alice");
  EXPECT_EQ(v.reason, "");

  v = verify(creds("alice", "s3cret pasS"));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.user, "");
  EXPECT_EQ(v.reason, "bad password");

  v = verify(creds("mallory", "s3cret pass"));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.reason, "unknown user");
}

TEST_F(CredentialsDbTest, NewHashesAreYescryptAndTheFileIsPrivate) {
  // The password has characters outside crypt's alphabet ([./0-9A-Za-z]), so it cannot turn up
  // in a hash by chance (a two-letter one did, in about one run in sixty).
  const std::string password = "pass word!";
  ASSERT_TRUE(addUser(db_, "alice", password));
  auto hash = storedHash("alice");
  ASSERT_TRUE(hash);
  EXPECT_TRUE(hash->starts_with("$y$")) << *hash;
  EXPECT_EQ(hash->find(password), std::string::npos) << *hash;
  struct stat st {};
  ASSERT_EQ(stat(db_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A second user gets another salt.
  ASSERT_TRUE(addUser(db_, "bob", password));
  EXPECT_NE(storedHash("bob"), hash);
}

TEST_F(CredentialsDbTest, NamesAreTrimmedAndLowerCased) {
  ASSERT_TRUE(addUser(db_, "  Alice@Example.TEST\t", "pw"));
  EXPECT_TRUE(storedHash("alice@example.test"));
  auto v = verify(creds("ALICE@example.test", "pw"));
  EXPECT_TRUE(v.ok);
  EXPECT_EQ(v.user, "alice@example.test");
  EXPECT_TRUE(verify(creds(" alice@example.test ", "pw")).ok);
}

TEST_F(CredentialsDbTest, AddRefusesDuplicatesAndBadInput) {
  ASSERT_TRUE(addUser(db_, "alice", "pw"));
  auto st = addUser(db_, "ALICE", "other");
  ASSERT_FALSE(st);
  EXPECT_FALSE(st.error().temporary());
  EXPECT_NE(st.error().message().find("already exists"), std::string::npos);
  EXPECT_TRUE(verify(creds("alice", "pw")).ok);  // unchanged

  EXPECT_FALSE(addUser(db_, "", "pw"));
  EXPECT_FALSE(addUser(db_, "  \t ", "pw"));
  EXPECT_FALSE(addUser(db_, "bad\nname", "pw"));
  EXPECT_FALSE(addUser(db_, std::string(256, 'a'), "pw"));
  EXPECT_FALSE(addUser(db_, "carol", ""));
  EXPECT_FALSE(addUser(db_, "carol", "a\0b"s));
}

TEST_F(CredentialsDbTest, SetPassword) {
  ASSERT_TRUE(addUser(db_, "alice", "old"));
  ASSERT_TRUE(setPassword(db_, "Alice", "new"));
  EXPECT_FALSE(verify(creds("alice", "old")).ok);
  EXPECT_TRUE(verify(creds("alice", "new")).ok);

  auto st = setPassword(db_, "bob", "pw");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("no such user"), std::string::npos);
  EXPECT_FALSE(storedHash("bob"));
  EXPECT_FALSE(setPassword(db_, "alice", ""));
}

TEST_F(CredentialsDbTest, DeleteUser) {
  ASSERT_TRUE(addUser(db_, "alice", "pw"));
  ASSERT_TRUE(addUser(db_, "bob", "pw"));
  ASSERT_TRUE(deleteUser(db_, "ALICE "));
  EXPECT_EQ(verify(creds("alice", "pw")).reason, "unknown user");
  EXPECT_TRUE(verify(creds("bob", "pw")).ok);
  auto st = deleteUser(db_, "alice");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("no such user"), std::string::npos);
}

TEST_F(CredentialsDbTest, ChangingAMissingDatabaseDoesNotCreateIt) {
  EXPECT_FALSE(setPassword(db_, "alice", "pw"));
  EXPECT_FALSE(deleteUser(db_, "alice"));
  EXPECT_NE(access(db_.c_str(), F_OK), 0);
}

TEST_F(CredentialsDbTest, MissingDatabaseIsATemporaryFailure) {
  auto r = verifyWithTable(db_, creds("alice", "pw"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().temporary());
  EXPECT_NE(r.error().message().find(db_), std::string::npos);
}

TEST_F(CredentialsDbTest, ExistingHashesOfOtherSchemesVerify) {
  const std::pair<const char*, unsigned long> schemes[] = {
      {"$6$", 5000}, {"$2b$", 4}, {"$5$", 5000}, {"$y$", 0}};
  for (const auto& [prefix, count] : schemes) {
    std::string user = std::string("user") + std::to_string(prefix[1]);
    std::string hash = hashWith(prefix, count, "legacy pw");
    ASSERT_TRUE(hash.starts_with(prefix)) << hash;
    insertRaw(user, hash);
    EXPECT_TRUE(verify(creds(user, "legacy pw")).ok) << prefix;
    auto bad = verify(creds(user, "legacy pW"));
    EXPECT_FALSE(bad.ok) << prefix;
    EXPECT_EQ(bad.reason, "bad password") << prefix;
  }
}

TEST_F(CredentialsDbTest, UnusableHashesNeverMatch) {
  insertRaw("locked", "!");
  insertRaw("empty", "");
  insertRaw("star", "*");
  for (const char* user : {"locked", "empty", "star"}) {
    auto v = verify(creds(user, "anything"));
    EXPECT_FALSE(v.ok) << user;
    EXPECT_EQ(v.reason, "unusable password hash") << user;
    EXPECT_FALSE(verify(creds(user, "")).ok) << user;
  }
}

TEST_F(CredentialsDbTest, PasswordWithNulNeverMatchesItsPrefix) {
  ASSERT_TRUE(addUser(db_, "alice", "abc"));
  EXPECT_FALSE(verify(creds("alice", "abc\0xyz"s)).ok);
  EXPECT_FALSE(verify(creds("alice", "")).ok);
}

TEST_F(CredentialsDbTest, AuthorizationIdentity) {
  ASSERT_TRUE(addUser(db_, "alice", "pw"));
  EXPECT_TRUE(verify(creds("alice", "pw", "Alice")).ok);
  auto v = verify(creds("alice", "pw", "bob"));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.reason, "authorization identity differs");
}

TEST_F(CredentialsDbTest, SeesChangesWithoutReopening) {
  ASSERT_TRUE(addUser(db_, "alice", "pw"));
  EXPECT_TRUE(verify(creds("alice", "pw")).ok);  // this thread now holds a connection
  ASSERT_TRUE(addUser(db_, "bob", "pw2"));
  EXPECT_TRUE(verify(creds("bob", "pw2")).ok);
  // A replaced file (new inode) is reopened.
  ASSERT_EQ(std::rename(db_.c_str(), (db_ + ".old").c_str()), 0);
  ASSERT_TRUE(addUser(db_, "carol", "pw3"));
  EXPECT_TRUE(verify(creds("carol", "pw3")).ok);
  EXPECT_EQ(verify(creds("alice", "pw")).reason, "unknown user");
}

// Timing must not tell whether a user exists: an unknown name is checked against
// unknownUserHash(), which has to cost what a real user's hash costs, i.e. have the same
// method and parameters. (How long each takes is measured by bench/lookup's auth/ benchmarks,
// not asserted here.)
TEST_F(CredentialsDbTest, UnknownUsersAreCheckedAgainstAHashOfTheSameCost) {
  ASSERT_TRUE(addUser(db_, "alice", "pw"));
  std::optional<std::string> stored = storedHash("alice");
  ASSERT_TRUE(stored);
  // "$y$j9T$<salt>$<hash>" -> "$y$j9T$": method and cost.
  auto parameters = [](const std::string& hash) {
    size_t end = hash.find('$', hash.find('$', 1) + 1);
    return end == std::string::npos ? hash : hash.substr(0, end + 1);
  };
  EXPECT_TRUE(stored->starts_with("$y$")) << *stored;
  EXPECT_EQ(parameters(unknownUserHash()), parameters(*stored));
  EXPECT_NE(unknownUserHash(), *stored);  // its own salt
  EXPECT_EQ(verify(creds("nobody", "pw")).reason, "unknown user");
}

// ---- asynchronous backends on a real loop -------------------------------------------------------

class LoopTest : public CredentialsDbTest {
 protected:
  void SetUp() override {
    CredentialsDbTest::SetUp();
    uv_loop_init(&loop_);
    dispatcher_ = std::make_unique<event::Dispatcher>(&loop_);
  }
  void TearDown() override {
    dispatcher_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    CredentialsDbTest::TearDown();
  }

  // Runs the loop until `result_` is set (or 20 s passed: a failure, not a hang).
  void runUntilDone() {
    uv_timer_t watchdog;
    bool expired = false;
    uv_timer_init(&loop_, &watchdog);
    watchdog.data = &expired;
    uv_timer_start(
        &watchdog, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 20000, 0);
    while (!result_ && !expired) uv_run(&loop_, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&watchdog), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
    ASSERT_FALSE(expired) << "no verdict within 20 s";
  }

  // Starts a verification and checks that done did not run inside verify().
  void start(Authenticator& a, const Credentials& c) {
    loop_thread_ = std::this_thread::get_id();
    a.verify(*dispatcher_, c, "192.0.2.7", [this](Result<Verdict> r) {
      done_thread_ = std::this_thread::get_id();
      result_ = std::move(r);
    });
    EXPECT_FALSE(result_) << "done ran inside verify()";
  }

  static AuthSettings settings(std::string backend, std::string db, std::string socket) {
    AuthSettings s;
    s.backend = std::move(backend);
    s.credentials_db = std::move(db);
    s.dovecot_socket = std::move(socket);
    return s;
  }

  std::shared_ptr<Authenticator> make(AuthSettings s) {
    auto a = makeAuthenticator(s);
    EXPECT_TRUE(a) << a.error().message();
    return a ? *a : nullptr;
  }

  uv_loop_t loop_;
  std::unique_ptr<event::Dispatcher> dispatcher_;
  std::optional<Result<Verdict>> result_;
  std::thread::id loop_thread_, done_thread_;
};

TEST_F(LoopTest, TableVerifiesOnThePoolAndAnswersOnTheLoop) {
  ASSERT_TRUE(addUser(db_, "alice", "pw"));
  auto a = make(settings("table", db_, ""));
  start(*a, creds("Alice", "pw"));
  runUntilDone();
  ASSERT_TRUE(result_ && *result_);
  EXPECT_TRUE((*result_)->ok);
  EXPECT_EQ((*result_)->user, "alice");
  EXPECT_EQ(done_thread_, loop_thread_);

  result_.reset();
  start(*a, creds("alice", "nope"));
  runUntilDone();
  ASSERT_TRUE(result_ && *result_);
  EXPECT_FALSE((*result_)->ok);
  EXPECT_EQ((*result_)->reason, "bad password");
}

TEST_F(LoopTest, TableTempfailsWithoutDatabase) {
  auto a = make(settings("table", db_, ""));
  start(*a, creds("alice", "pw"));
  runUntilDone();
  ASSERT_TRUE(result_);
  ASSERT_FALSE(*result_);
  EXPECT_TRUE(result_->error().temporary());
}

TEST_F(LoopTest, TableVerificationsRunConcurrently) {
  ASSERT_TRUE(addUser(db_, "alice", "pw"));
  auto a = make(settings("table", db_, ""));
  int answered = 0, ok = 0;
  for (int i = 0; i < 8; ++i) {
    a->verify(*dispatcher_, creds("alice", i % 2 ? "pw" : "bad"), "192.0.2.7",
              [&](Result<Verdict> r) {
                ++answered;
                if (r && r->ok) ++ok;
              });
  }
  EXPECT_EQ(answered, 0);
  while (answered < 8) uv_run(&loop_, UV_RUN_ONCE);
  EXPECT_EQ(ok, 4);
}

TEST_F(LoopTest, FactoryRefusesIncompleteSettings) {
  auto r = makeAuthenticator(settings("ldap", db_, ""));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::Config);
  EXPECT_FALSE(makeAuthenticator(settings("table", "", "")));
  EXPECT_FALSE(makeAuthenticator(settings("dovecot", db_, "")));
}

// A stand-in for Dovecot's auth-client socket, on the test's loop: sends the handshake on
// accept (unless silent) and answers the first AUTH line with `reply`.
class FakeDovecot {
 public:
  static constexpr const char* Close = "<close>";  // as reply: close the connection instead

  FakeDovecot(uv_loop_t* loop, std::string path, std::string reply, bool silent = false)
      : path_(std::move(path)), reply_(std::move(reply)), silent_(silent) {
    uv_pipe_init(loop, &server_, 0);
    server_.data = this;
    EXPECT_EQ(uv_pipe_bind(&server_, path_.c_str()), 0);
    EXPECT_EQ(uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 4, &FakeDovecot::onConnection),
              0);
  }
  ~FakeDovecot() {
    for (auto* c : clients_) {
      if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(c))) {
        uv_close(reinterpret_cast<uv_handle_t*>(c),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
      }
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
    uv_run(server_.loop, UV_RUN_NOWAIT);
  }

  const std::string& received() const { return received_; }

 private:
  static void onConnection(uv_stream_t* server, int status) {
    auto* self = static_cast<FakeDovecot*>(server->data);
    ASSERT_EQ(status, 0);
    auto* c = new uv_pipe_t;
    uv_pipe_init(server->loop, c, 0);
    c->data = self;
    ASSERT_EQ(uv_accept(server, reinterpret_cast<uv_stream_t*>(c)), 0);
    self->clients_.push_back(c);
    if (!self->silent_) {
      self->write(c,
                  "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t1\nCUID\t2\nCOOKIE\tc0ffee\n"
                  "DONE\n");
    }
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(c),
        [](uv_handle_t*, size_t size, uv_buf_t* buf) {
          *buf = uv_buf_init(new char[size], unsigned(size));
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
          auto* self = static_cast<FakeDovecot*>(s->data);
          if (n > 0) {
            self->received_.append(buf->base, size_t(n));
            if (!self->silent_ && !self->answered_ &&
                self->received_.find("\nAUTH\t") != std::string::npos &&
                self->received_.back() == '\n') {
              self->answered_ = true;
              if (self->reply_ == Close) {
                self->close(reinterpret_cast<uv_pipe_t*>(s));
              } else {
                self->write(reinterpret_cast<uv_pipe_t*>(s), self->reply_);
              }
            }
          } else if (n < 0) {
            self->close(reinterpret_cast<uv_pipe_t*>(s));
          }
          delete[] buf->base;
        });
  }

  void close(uv_pipe_t* c) {
    uv_close(reinterpret_cast<uv_handle_t*>(c),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    clients_.erase(std::remove(clients_.begin(), clients_.end(), c), clients_.end());
  }

  void write(uv_pipe_t* c, const std::string& data) {
    struct W {
      uv_write_t req;
      std::string data;
    };
    auto* w = new W{{}, data};
    uv_buf_t buf = uv_buf_init(w->data.data(), unsigned(w->data.size()));
    uv_write(&w->req, reinterpret_cast<uv_stream_t*>(c), &buf, 1,
             [](uv_write_t* req, int) { delete reinterpret_cast<W*>(req); });
  }

  uv_pipe_t server_;
  std::string path_, reply_;
  bool silent_;
  bool answered_ = false;
  std::vector<uv_pipe_t*> clients_;
  std::string received_;
};

TEST_F(LoopTest, DovecotOk) {
  std::string sock = dir_ + "/auth-client";
  FakeDovecot fake(&loop_, sock, "OK\t1\tuser=alice@example.test\n");
  auto a = make(settings("dovecot", "", sock));
  start(*a, creds("Alice@Example.Test", "s3cret"));
  runUntilDone();
  ASSERT_TRUE(result_);
  ASSERT_TRUE(*result_) << result_->error().message();
  EXPECT_TRUE((*result_)->ok);
  EXPECT_EQ((*result_)->user, "alice@example.test");
  EXPECT_TRUE(fake.received().starts_with("VERSION\t1\t2\nCPID\t" + std::to_string(getpid()) +
                                          "\nAUTH\t1\tPLAIN\tservice=smtp\t"))
      << fake.received();
  EXPECT_NE(fake.received().find("\tremote=192.0.2.7\t"), std::string::npos);
  std::string resp = "resp=" + base64Encode("\0Alice@Example.Test\0s3cret"s) + "\n";
  EXPECT_TRUE(fake.received().ends_with(resp)) << fake.received();
}

TEST_F(LoopTest, DovecotFail) {
  std::string sock = dir_ + "/auth-client";
  FakeDovecot fake(&loop_, sock, "FAIL\t1\tuser=alice\n");
  auto a = make(settings("dovecot", "", sock));
  start(*a, creds("alice", "wrong"));
  runUntilDone();
  ASSERT_TRUE(result_ && *result_);
  EXPECT_FALSE((*result_)->ok);
}

TEST_F(LoopTest, DovecotTempFail) {
  std::string sock = dir_ + "/auth-client";
  FakeDovecot fake(&loop_, sock, "FAIL\t1\ttemp\n");
  auto a = make(settings("dovecot", "", sock));
  start(*a, creds("alice", "pw"));
  runUntilDone();
  ASSERT_TRUE(result_);
  ASSERT_FALSE(*result_);
  EXPECT_TRUE(result_->error().temporary());
}

TEST_F(LoopTest, DovecotClosesMidRequest) {
  std::string sock = dir_ + "/auth-client";
  FakeDovecot fake(&loop_, sock, FakeDovecot::Close);
  auto a = make(settings("dovecot", "", sock));
  start(*a, creds("alice", "pw"));
  runUntilDone();
  ASSERT_TRUE(result_);
  ASSERT_FALSE(*result_);
  EXPECT_TRUE(result_->error().temporary());
  EXPECT_NE(result_->error().message().find("closed"), std::string::npos)
      << result_->error().message();
}

TEST_F(LoopTest, DovecotContinuationIsTemporary) {
  std::string sock = dir_ + "/auth-client";
  FakeDovecot fake(&loop_, sock, "CONT\t1\t\n");
  auto a = make(settings("dovecot", "", sock));
  start(*a, creds("alice", "pw"));
  runUntilDone();
  ASSERT_TRUE(result_);
  ASSERT_FALSE(*result_);
  EXPECT_TRUE(result_->error().temporary());
}

TEST_F(LoopTest, DovecotNoSocketIsTemporaryAndNeverSynchronous) {
  auto a = make(settings("dovecot", "", dir_ + "/no-such-socket"));
  start(*a, creds("alice", "pw"));
  runUntilDone();
  ASSERT_TRUE(result_);
  ASSERT_FALSE(*result_);
  EXPECT_TRUE(result_->error().temporary());
  EXPECT_NE(result_->error().message().find("no-such-socket"), std::string::npos);
  EXPECT_EQ(done_thread_, loop_thread_);
}

TEST_F(LoopTest, DovecotSocketPathTooLong) {
  auto a = make(settings("dovecot", "", "/tmp/" + std::string(200, 'x')));
  start(*a, creds("alice", "pw"));
  runUntilDone();
  ASSERT_TRUE(result_);
  ASSERT_FALSE(*result_);
  EXPECT_TRUE(result_->error().temporary());
}

TEST_F(LoopTest, DovecotSilentServerTimesOut) {
  std::string sock = dir_ + "/auth-client";
  FakeDovecot fake(&loop_, sock, "", /*silent=*/true);
  AuthSettings s = settings("dovecot", "", sock);
  s.dovecot_timeout_ms = 50;
  auto a = make(s);
  start(*a, creds("alice", "pw"));
  runUntilDone();
  ASSERT_TRUE(result_);
  ASSERT_FALSE(*result_);
  EXPECT_TRUE(result_->error().temporary());
  EXPECT_NE(result_->error().message().find("no answer"), std::string::npos)
      << result_->error().message();
}

// Backend "lookup": hashes from any lookup table, with Dovecot-style scheme prefixes.
TEST(LookupCredentials, VerifiesHashesFromATable) {
  config::TableSpec spec;
  spec.name = "users";
  spec.type = "inline";
  spec.entries = {{"alice@example.test", "{SHA512-CRYPT}" + hashWith("$6$", 5000, "wonderland")},
                  {"bob@example.test", hashWith("$y$", 0, "builder")}};
  lookup::TablePtr table = lookup::makeTable(spec, nullptr);
  auto ok = verifyWithLookup(*table, creds("Alice@Example.TEST", "wonderland"));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok);
  EXPECT_EQ(ok->user, "alice@example.test");
  auto bad = verifyWithLookup(*table, creds("alice@example.test", "wrong"));
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->ok);
  EXPECT_EQ(bad->reason, "bad password");
  auto yes = verifyWithLookup(*table, creds("bob@example.test", "builder"));
  ASSERT_TRUE(yes.ok());
  EXPECT_TRUE(yes->ok);
  auto unknown = verifyWithLookup(*table, creds("carol@example.test", "x"));
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->reason, "unknown user");

  // A table that cannot answer is a temporary failure (454), not a refusal.
  config::TableSpec broken;
  broken.name = "file:/nonexistent/users";
  broken.type = "file";
  broken.path = "/nonexistent/users";
  auto tempfail = verifyWithLookup(*lookup::makeTable(broken, nullptr),
                                   creds("alice@example.test", "wonderland"));
  ASSERT_FALSE(tempfail.ok());
  EXPECT_TRUE(tempfail.error().temporary());
}

}  // namespace
}  // namespace petrel::auth
