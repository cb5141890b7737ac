// Lookup-table micro-benchmark (issue 5): lookups per second of each backend, with the cache
// off and on, on one thread and on four; messages per second through canonical header
// rewriting (canonical_headers/inline); and SMTP AUTH refusals for known and unknown users
// (auth/), which must take about as long as each other.
//
// Every table is built through makeTable(), as the server builds it, from data generated in a
// temporary directory (removed at the end):
//   inline  10,000 keys (user0@example.test .. user9999@example.test -> example.test/userN/)
//   file    the same 10,000 keys in a text file
//   regexp  100 rules; only the last one can match (so a lookup tries all 100)
//   cidr    1,000 IPv4 /24 blocks (10.0.0.0/24 .. 10.3.231.0/24); first match in file order
//   sqlite  a database with 10,000 rows, "SELECT maildir FROM mailbox WHERE username=%s"
//   pgsql   only when PETREL_BENCH_PGSQL_CONN is set (see below)
//   mysql   only when PETREL_BENCH_MYSQL is set (see below)
// Each lookup takes the next key of a hot set of 1,000 keys, half found and half not found
// (alternating), cycling; each thread starts at a different offset. "cache" is the same table
// with cache_ttl = cache_negative_ttl = 60 s, warmed with the hot set before it is measured, so
// it measures cache hits (CachedTable's mutex and map) rather than the backend.
//
// Reported: items_per_second = lookups per second over all threads (wall clock: UseRealTime),
// and "found" = the fraction of lookups that were found (0.5 expected). A lookup that answers
// TempFail or ConfigError fails its benchmark (an error row), never a silent fast "result";
// a backend that does not answer a known key as expected at start (a database that is down)
// is not measured at all, and the program then exits with status 1 after the others.
//
// Remote backends, optional: PETREL_BENCH_PGSQL_CONN / PETREL_BENCH_MYSQL hold the table's
// settings as blank-separated key=value pairs, e.g.
//   PETREL_BENCH_PGSQL_CONN="host=127.0.0.1 port=5432 user=postfixadmin password=skoleni database=postfixadmin"
// (keys as in docs/lookup-tables.md: host, port, socket, user, password, database, timeout).
// The default query needs no table: the server answers keys starting with "user" and nothing
// else, so the measurement is the round trip plus the statement, not an index lookup (which is
// small next to it). PETREL_BENCH_PGSQL_QUERY / PETREL_BENCH_MYSQL_QUERY replace it.
//
// Build and run: bench/run-lookup-bench.sh (or ninja -C BUILD bench/petrel-lookup-bench; the
// usual --benchmark_* flags apply, e.g. --benchmark_filter=cidr).
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "petrel/auth/authenticator.h"
#include "petrel/config/config.h"
#include "petrel/delivery/header_rewrite.h"
#include "petrel/delivery/router.h"
#include "petrel/lookup/lookup_table.h"

namespace {

using petrel::config::TableSpec;
using petrel::lookup::LookupResult;
using petrel::lookup::LookupStatus;
using petrel::lookup::LookupTable;
using petrel::lookup::TablePtr;

constexpr int TableKeys = 10000;
constexpr int HotKeys = 1000;
constexpr int RegexpRules = 100;
constexpr int CidrBlocks = 1000;
constexpr uint64_t CacheTtl = 60;
// Spreads the found keys of the hot set over the whole table (a prime, coprime with 10,000).
constexpr int Spread = 7919;

std::string address(int i) { return fmt::format("user{}@example.test", i); }
std::string maildir(int i) { return fmt::format("example.test/user{}/", i); }

// One backend under test: its spec (without cache) and its hot key set.
struct Backend {
  std::string name;
  TableSpec spec;
  std::vector<std::string> hot;
  std::string found_key, not_found_key;  // checked before anything is measured
};

// The default hot set for the address-keyed backends: even positions found, odd ones not.
std::vector<std::string> addressHotSet() {
  std::vector<std::string> keys;
  for (int i = 0; i < HotKeys; ++i) {
    keys.push_back(i % 2 == 0 ? address((i * Spread) % TableKeys)
                              : fmt::format("nobody{}@example.test", i));
  }
  return keys;
}

void writeFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) {
    std::fprintf(stderr, "lookup_bench: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

void sqliteExec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::fprintf(stderr, "lookup_bench: sqlite: %s: %s\n", sql, error ? error : "?");
    std::exit(1);
  }
}

void makeSqliteDb(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    std::fprintf(stderr, "lookup_bench: cannot create %s\n", path.c_str());
    std::exit(1);
  }
  // PostfixAdmin's mailbox table, reduced to what the query reads.
  sqliteExec(db, "CREATE TABLE mailbox (username TEXT PRIMARY KEY, maildir TEXT NOT NULL)");
  sqliteExec(db, "BEGIN");
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO mailbox VALUES (?, ?)", -1, &stmt, nullptr);
  for (int i = 0; i < TableKeys; ++i) {
    std::string key = address(i), value = maildir(i);
    sqlite3_bind_text(stmt, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, value.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(stmt) != SQLITE_DONE) {
      std::fprintf(stderr, "lookup_bench: sqlite insert: %s\n", sqlite3_errmsg(db));
      std::exit(1);
    }
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  sqliteExec(db, "COMMIT");
  sqlite3_close(db);
}

std::vector<Backend> inMemoryBackends(const std::filesystem::path& dir) {
  std::vector<Backend> out;

  Backend inl{"inline", {}, addressHotSet(), address(1234), "nobody@example.test"};
  inl.spec.name = "bench";
  inl.spec.type = "inline";
  for (int i = 0; i < TableKeys; ++i) inl.spec.entries[address(i)] = maildir(i);
  out.push_back(inl);

  std::string text = "# lookup_bench: 10,000 mailboxes\n";
  for (int i = 0; i < TableKeys; ++i) text += address(i) + "  " + maildir(i) + "\n";
  writeFile(dir / "mailboxes", text);
  Backend file{"file", {}, addressHotSet(), address(1234), "nobody@example.test"};
  file.spec.name = file.spec.path = (dir / "mailboxes").string();
  file.spec.type = "file";
  out.push_back(file);

  // 99 rules that never match the hot keys (each still runs against every key), then the one
  // that answers the found half: "match at the end".
  text = "# lookup_bench: 100 rules, the last one matches\n";
  for (int i = 0; i < RegexpRules - 1; ++i) {
    text += fmt::format("/^list{}-([a-z0-9.]+)@example\\.test$/  $1@list{}.example.test\n", i, i);
  }
  text += "/^user([0-9]+)@example\\.test$/  example.test/user$1/\n";
  writeFile(dir / "rules.regexp", text);
  Backend re{"regexp", {}, addressHotSet(), address(1234), "nobody@example.test"};
  re.spec.name = re.spec.path = (dir / "rules.regexp").string();
  re.spec.type = "regexp";
  out.push_back(re);

  // 1,000 /24 blocks in file order; a found key is in a block spread over the list (so a
  // lookup scans ~500 rules on average), a not-found key scans all 1,000.
  text = "# lookup_bench: 1,000 blocks\n";
  for (int b = 0; b < CidrBlocks; ++b) {
    text += fmt::format("10.{}.{}.0/24  REJECT block {}\n", b / 256, b % 256, b);
  }
  writeFile(dir / "clients.cidr", text);
  Backend cidr{"cidr", {}, {}, "10.3.231.9", "192.0.2.1"};
  cidr.spec.name = cidr.spec.path = (dir / "clients.cidr").string();
  cidr.spec.type = "cidr";
  for (int i = 0; i < HotKeys; ++i) {
    int b = (i * Spread) % CidrBlocks;
    cidr.hot.push_back(i % 2 == 0 ? fmt::format("10.{}.{}.{}", b / 256, b % 256, 1 + i % 254)
                                  : fmt::format("192.168.{}.{}", i / 250, 1 + i % 250));
  }
  out.push_back(cidr);

  makeSqliteDb(dir / "mailboxes.sqlite");
  Backend sql{"sqlite", {}, addressHotSet(), address(1234), "nobody@example.test"};
  sql.spec.name = "bench";
  sql.spec.type = "sqlite";
  sql.spec.path = (dir / "mailboxes.sqlite").string();
  sql.spec.options["path"] = sql.spec.path;
  sql.spec.options["query"] = "SELECT maildir FROM mailbox WHERE username=%s";
  out.push_back(sql);
  return out;
}

// PETREL_BENCH_PGSQL_CONN / PETREL_BENCH_MYSQL: "key=value key=value ..." (see the top).
void addRemote(std::vector<Backend>& out, const char* type, const char* conn_env,
               const char* query_env, const char* default_query) {
  const char* conn = std::getenv(conn_env);
  if (conn == nullptr || *conn == '\0') {
    std::fprintf(stderr, "lookup_bench: %s not set: skipping %s\n", conn_env, type);
    return;
  }
  Backend b{type, {}, addressHotSet(), address(1234), "nobody@example.test"};
  b.spec.name = "bench";
  b.spec.type = type;
  std::istringstream words(conn);
  std::string word;
  while (words >> word) {
    auto eq = word.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "lookup_bench: %s: \"%s\" is not key=value\n", conn_env, word.c_str());
      std::exit(2);
    }
    b.spec.options[word.substr(0, eq)] = word.substr(eq + 1);
  }
  const char* query = std::getenv(query_env);
  b.spec.options["query"] = query && *query ? query : default_query;
  out.push_back(b);
}

TablePtr build(const Backend& b, bool cached) {
  TableSpec spec = b.spec;
  if (cached) {
    spec.cache_ttl = CacheTtl;
    spec.cache_negative_ttl = CacheTtl;
  }
  return petrel::lookup::makeTable(spec, [&](const std::string& line) {
    std::fprintf(stderr, "lookup_bench: %s: warning: %s\n", b.name.c_str(), line.c_str());
  });
}

// Fails loudly before measuring when a table does not answer as set up (unreadable file, a
// database that refuses the query...): a TempFail is fast and would look like a great result.
bool check(const Backend& b, const LookupTable& table) {
  LookupResult found = table.lookup(b.found_key);
  LookupResult missing = table.lookup(b.not_found_key);
  if (found.status == LookupStatus::Found && missing.status == LookupStatus::NotFound) {
    return true;
  }
  std::fprintf(stderr, "lookup_bench: %s: %s -> status %d %s%s; %s -> status %d %s\n",
               b.name.c_str(), b.found_key.c_str(), static_cast<int>(found.status),
               found.value.c_str(), found.error.c_str(), b.not_found_key.c_str(),
               static_cast<int>(missing.status), missing.error.c_str());
  return false;
}

void lookups(benchmark::State& state, const LookupTable* table,
             const std::vector<std::string>* keys) {
  const size_t n = keys->size();
  size_t i = (static_cast<size_t>(state.thread_index()) * n) / 4 % n;
  int64_t found = 0, failed = 0;
  for (auto _ : state) {
    LookupResult r = table->lookup((*keys)[i]);
    found += r.status == LookupStatus::Found;
    failed += r.status == LookupStatus::TempFail || r.status == LookupStatus::ConfigError;
    benchmark::DoNotOptimize(r);
    if (++i == n) i = 0;
  }
  if (failed > 0) {
    state.SkipWithError("some lookups answered TempFail or ConfigError");
    return;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["found"] = benchmark::Counter(
      static_cast<double>(found) / static_cast<double>(state.iterations()),
      benchmark::Counter::kAvgThreads);
}

}  // namespace

// canonical.headers: one message's header (the trace field, ten fields, five addresses, two of
// them rewritten) through rewriteHeaderAddresses with the Router's canonical maps as inline
// tables, as a delivery batch does it. Per message, on one thread.
void canonicalHeaders(benchmark::State& state) {
  petrel::config::Config cfg;
  cfg.mail_root = "/var/mail";
  cfg.local_domains = {"example.test"};
  auto inlineTable = [](std::string name, std::map<std::string, std::string> entries) {
    TableSpec spec;
    spec.name = std::move(name);
    spec.type = "inline";
    spec.entries = std::move(entries);
    return spec;
  };
  cfg.canonical_sender = inlineTable("scanon", {{"alice@example.test", "alice.smith@example.test"}});
  cfg.canonical_recipient = inlineTable("rcanon", {{"@old.test", "@example.test"}});
  petrel::delivery::Router router(cfg, [](const std::string&) {});
  const std::string message =
      "Received: from client.test (unknown [127.0.0.1])\r\n\tby mail.example.test (Petrel) with "
      "ESMTP id 530DBC12FA43\r\n\tfor <bob@example.test>; Sun, 22 Nov 2026 22:14:15 +0000\r\n"
      "From: \"Alice (Accounts)\" <alice@example.test>\r\nReply-To: alice@example.test\r\n"
      "To: Info <info@example.test>, carol@old.test, dave@remote.test\r\n"
      "Cc: \"Ann, Q.\" <ann@elsewhere.test>\r\nSubject: quarterly numbers\r\n"
      "Message-ID: <x@alice.example.test>\r\nDate: Sun, 22 Nov 2026 22:14:15 +0000\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
      std::string(1000, 'b') + "\r\n";
  auto rewrite = [&router](petrel::delivery::HeaderAddressClass cls, std::string_view address) {
    return cls == petrel::delivery::HeaderAddressClass::Sender ? router.canonicalSender(address)
                                                               : router.canonicalRecipient(address);
  };
  for (auto _ : state) {
    auto r = petrel::delivery::rewriteHeaderAddresses(message, rewrite);
    if (!r || r->changed != 3) {  // alice twice, carol@old.test
      state.SkipWithError("unexpected rewrite result");
      break;
    }
    benchmark::DoNotOptimize(r->header.data());
  }
  state.SetItemsProcessed(state.iterations());
}

// SMTP AUTH against the credentials database: a wrong password for a known user, and any
// password for an unknown one. The two times should be about equal (an unknown user is checked
// against auth::unknownUserHash(), a hash of the same cost), so a client cannot tell which
// names exist; the unit tests check the cost parameters, this measures the time.
void authVerify(benchmark::State& state, const std::string* db_path, const char* user) {
  petrel::auth::Credentials credentials;
  credentials.authcid = user;
  credentials.password = "wrong password";
  for (auto _ : state) {
    auto v = petrel::auth::verifyWithTable(*db_path, credentials);
    if (!v || v->ok) {
      state.SkipWithError("verification did not refuse");
      break;
    }
  }
}

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  std::string tmpl =
      (std::filesystem::temp_directory_path() / "petrel-lookup-bench.XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("lookup_bench: mkdtemp");
    return 1;
  }
  const std::filesystem::path dir = tmpl;

  std::vector<Backend> backends = inMemoryBackends(dir);
  addRemote(backends, "pgsql", "PETREL_BENCH_PGSQL_CONN", "PETREL_BENCH_PGSQL_QUERY",
            "SELECT CAST(%s AS text) WHERE CAST(%s AS text) LIKE 'user%%'");
  addRemote(backends, "mysql", "PETREL_BENCH_MYSQL", "PETREL_BENCH_MYSQL_QUERY",
            "SELECT CAST(%s AS CHAR) FROM DUAL WHERE %s LIKE 'user%%'");

  benchmark::AddCustomContext("petrel_table_keys", std::to_string(TableKeys));
  benchmark::AddCustomContext("petrel_hot_keys", fmt::format("{} (half found)", HotKeys));
  benchmark::AddCustomContext("petrel_regexp_rules", std::to_string(RegexpRules));
  benchmark::AddCustomContext("petrel_cidr_blocks", std::to_string(CidrBlocks));
  benchmark::AddCustomContext("petrel_cache_ttl", fmt::format("{}s (negative too)", CacheTtl));

  std::vector<TablePtr> tables;  // kept alive until the run ends
  int status = 0;
  for (const Backend& b : backends) {
    for (bool cached : {false, true}) {
      TablePtr table = build(b, cached);
      if (!check(b, *table)) {  // the others still run; the exit status says so
        std::fprintf(stderr, "lookup_bench: %s: not measured\n", b.name.c_str());
        status = 1;
        break;
      }
      if (cached) {
        for (const std::string& key : b.hot) table->lookup(key);  // warm: measure hits
      }
      tables.push_back(table);
      std::string name = fmt::format("{}/{}", b.name, cached ? "cache" : "nocache");
      benchmark::RegisterBenchmark(name.c_str(), lookups, table.get(), &b.hot)
          ->Threads(1)
          ->Threads(4)
          ->UseRealTime();
    }
  }
  benchmark::RegisterBenchmark("canonical_headers/inline", canonicalHeaders);
  const std::string credentials_db = (dir / "credentials.db").string();
  if (auto st = petrel::auth::addUser(credentials_db, "alice@example.test", "secret"); !st) {
    std::fprintf(stderr, "lookup_bench: addUser: %s\n", st.error().message().c_str());
    status = 1;
  } else {
    benchmark::RegisterBenchmark("auth/known_user_wrong_password", authVerify, &credentials_db,
                                 "alice@example.test")
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("auth/unknown_user", authVerify, &credentials_db,
                                 "nobody@example.test")
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  tables.clear();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return status;
}
