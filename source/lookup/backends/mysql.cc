// The `mysql` backend: a table answered by a MySQL or MariaDB server, through MariaDB's client
// library (libmariadb), as Postfix's mysql_table(5) (the seed set-up: PostfixAdmin).
//
// Each lookup runs the table's `query` as a prepared statement: %s, %u and %d become `?`
// placeholders and their values are bound as strings (QueryTemplate), so a key is never pasted
// into SQL. The answer is the first column of every row, NULL and empty values skipped, joined
// with "," as Postfix joins multiple results; no row (or only NULLs) is "not found".
//
// The table owns a pool of connections shared by the threads that call lookup(): a
// lookup/idle_pool.h list of idle connections, each with its statement prepared once. A lookup
// takes an idle connection (or opens one), queries without holding the lock, and gives it back.
// Every wait (connect, write, read) is bounded by the table's `timeout`. A pooled connection
// that turns out broken is closed, the idle ones with it (after a server restart they are all
// dead), and the query is tried once more on a fresh connection. When that fails too, or a
// fresh connection fails, the answer is TempFail naming the table, the server and its error.
// A failure is never turned into found or not found.
//
// Connections are opened lazily by the first lookup, never by the constructor: building the
// table (main thread, config load) does no I/O. lookup() blocks; blocking() says so and callers
// run it on the libuv thread pool.
//
// TLS: `tls: true` makes the connection use TLS or fail (MYSQL_OPT_SSL_ENFORCE); the server's
// certificate is checked against `tls_ca_file` (or the system's CAs) and `host` unless
// `tls_require_cert: false`. Not done: client certificates, several hosts, result_format.
#include <fmt/format.h>
#include <mysql.h>

#include <charconv>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../idle_pool.h"
#include "../query_template.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {

namespace {

// Default of the `timeout` option, in seconds.
constexpr unsigned DefaultTimeout = 5;
// Idle connections kept per table; more are closed when given back. The thread pool bounds how
// many lookups run at once, so the pool rarely grows past its size.
constexpr size_t MaxIdleConnections = 16;

// Client-side failures (CR_*, 2000-2999) mean the connection is unusable, and so do these
// server errors: shutdown in progress, connection killed, aborted or timed out.
bool isConnectionError(unsigned code) {
  constexpr unsigned ServerShutdown = 1053;       // ER_SERVER_SHUTDOWN
  constexpr unsigned AbortingConnection = 1152;   // ER_ABORTING_CONNECTION
  constexpr unsigned NetErrorsFirst = 1158;       // ER_NET_READ_ERROR .. ER_NET_WRITE_INTERRUPTED
  constexpr unsigned NetErrorsLast = 1161;
  constexpr unsigned ConnectionKilled = 1927;     // ER_CONNECTION_KILLED
  constexpr unsigned InteractionTimeout = 4031;   // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
  return (code >= 2000 && code < 3000) || code == ServerShutdown || code == AbortingConnection ||
         (code >= NetErrorsFirst && code <= NetErrorsLast) || code == ConnectionKilled ||
         code == InteractionTimeout;
}

// mysql_library_init is not thread-safe and must run before any thread uses the library.
// (Connector/C needs no mysql_thread_init per thread: it is a no-op there.)
void initLibrary() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

// One server connection and its prepared statement (prepared on first use). Owned by the
// pool while idle and by one lookup while in use; never shared.
class Connection {
 public:
  explicit Connection(MYSQL* mysql) : mysql_(mysql) {}
  ~Connection() {
    if (stmt_ != nullptr) mysql_stmt_close(stmt_);
    mysql_close(mysql_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  MYSQL* mysql() const { return mysql_; }
  MYSQL_STMT* stmt() const { return stmt_; }
  void setStmt(MYSQL_STMT* stmt) { stmt_ = stmt; }
  void dropStmt() {
    if (stmt_ != nullptr) mysql_stmt_close(stmt_);
    stmt_ = nullptr;
  }

 private:
  MYSQL* mysql_;
  MYSQL_STMT* stmt_ = nullptr;
};

using ConnectionPtr = std::unique_ptr<Connection>;

// What a failed step reports: the error text (for the answer), whether the connection is
// broken (then it is closed and the query tried once more on a fresh one) and whether it may
// go back to the pool (a statement the server refused to prepare leaves it clean; a failure
// during execution may leave unread results behind, so that connection is closed).
struct Failure {
  std::string text;
  bool connection_broken = false;
  bool reusable = false;
};

class MysqlTable final : public LookupTable {
 public:
  explicit MysqlTable(const config::TableSpec& spec)
      : description_("mysql:" + spec.name),
        query_(option(spec, "query")),
        sql_(query_.sql(QueryTemplate::Placeholders::Question)),
        host_(option(spec, "host")),
        socket_(option(spec, "socket")),
        user_(option(spec, "user")),
        password_(option(spec, "password")),
        database_(option(spec, "database")),
        port_(static_cast<unsigned>(number(option(spec, "port")).value_or(0))),
        timeout_(timeoutSeconds(option(spec, "timeout"))),
        tls_(option(spec, "tls") == "yes"),
        tls_ca_file_(option(spec, "tls_ca_file")),
        tls_require_cert_(option(spec, "tls_require_cert") != "no") {
    if (host_.empty() && socket_.empty()) host_ = "localhost";  // as Postfix's `hosts`
    initLibrary();
  }

  LookupResult lookup(std::string_view key) const override {
    std::optional<std::vector<std::string>> values = query_.values(key);
    if (!values) {
      return LookupResult::notFound();  // %d or %u asked of a key that has none: no query
    }
    ConnectionPtr conn = idle_.take();
    const bool pooled = conn != nullptr;
    if (!pooled) {
      auto [opened, failure] = open();
      if (!opened) return tempFail(failure);
      conn = std::move(opened);
    }
    std::vector<std::string> rows;
    std::optional<Failure> failure = run(*conn, *values, rows);
    if (failure && failure->connection_broken && pooled) {
      // A pooled connection is dead, and so probably are the other idle ones (the server
      // restarted, a firewall dropped them): close them all and try once more on a fresh
      // connection. A fresh connection that fails tells the truth about the server: no retry.
      conn.reset();
      idle_.clear();
      auto [opened, open_failure] = open();
      if (!opened) return tempFail(open_failure);
      conn = std::move(opened);
      rows.clear();
      failure = run(*conn, *values, rows);
    }
    if (!failure || failure->reusable) {
      idle_.giveBack(std::move(conn));
    }
    if (failure) return tempFail(*failure);
    if (rows.empty()) return LookupResult::notFound();
    std::string joined;
    for (const std::string& row : rows) {
      if (!joined.empty()) joined += ',';
      joined += row;
    }
    return LookupResult::found(std::move(joined));
  }

  std::string describe() const override { return description_; }
  bool blocking() const override { return true; }

 private:
  static std::string option(const config::TableSpec& spec, const std::string& name) {
    auto it = spec.options.find(name);
    return it == spec.options.end() ? std::string() : it->second;
  }

  static std::optional<unsigned long> number(const std::string& text) {
    unsigned long n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return n;
  }

  // The loader writes `timeout` as whole seconds; a fraction, should one come, is rounded up
  // (the client library counts in seconds). 0 or missing means the default.
  static unsigned timeoutSeconds(const std::string& text) {
    if (text.empty()) return DefaultTimeout;
    char* end = nullptr;
    double seconds = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || !(seconds > 0) || !std::isfinite(seconds)) return DefaultTimeout;
    return static_cast<unsigned>(std::min(std::ceil(seconds), 86400.0));
  }

  std::string serverName() const {
    if (!socket_.empty() && (host_.empty() || host_ == "localhost")) return socket_;
    return port_ != 0 ? fmt::format("{}:{}", host_, port_) : host_;
  }

  LookupResult tempFail(const Failure& f) const {
    return LookupResult::tempFail(
        fmt::format("table {}: {}: {}", description_, serverName(), f.text));
  }

  // A connection, or why there is none.
  struct Opened {
    ConnectionPtr conn;
    Failure failure;
  };

  // Opens a connection with every wait bounded by timeout_.
  Opened open() const {
    MYSQL* mysql = mysql_init(nullptr);
    if (mysql == nullptr) return {nullptr, Failure{"out of memory"}};
    auto conn = std::make_unique<Connection>(mysql);
    unsigned timeout = timeout_;
    unsigned no = 0;
    mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(mysql, MYSQL_OPT_LOCAL_INFILE, &no);  // a hostile server must not read files
    if (tls_) {
      my_bool yes = 1;
      my_bool verify = tls_require_cert_ ? 1 : 0;
      mysql_options(mysql, MYSQL_OPT_SSL_ENFORCE, &yes);
      mysql_options(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
      // libmariadb checks the chain whenever it has a CA file, whatever VERIFY_SERVER_CERT says.
      if (tls_require_cert_ && !tls_ca_file_.empty()) {
        mysql_options(mysql, MYSQL_OPT_SSL_CA, tls_ca_file_.c_str());
      }
    }
    auto cstr = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
    if (mysql_real_connect(mysql, cstr(host_), cstr(user_), cstr(password_), cstr(database_),
                           port_, cstr(socket_), 0) == nullptr) {
      return {nullptr, Failure{fmt::format("cannot connect: {}", mysql_error(mysql))}};
    }
    return {std::move(conn), Failure{}};
  }

  // Runs the statement for `values` on `conn`; appends the non-NULL, non-empty first-column
  // values to `rows`. Returns the failure, if any.
  std::optional<Failure> run(Connection& conn, const std::vector<std::string>& values,
                             std::vector<std::string>& rows) const {
    auto stmtFailure = [&conn](std::string_view what, bool reusable = false) {
      MYSQL_STMT* stmt = conn.stmt();
      unsigned code = mysql_stmt_errno(stmt);
      bool broken = isConnectionError(code);
      Failure f{fmt::format("{}: {}", what, mysql_stmt_error(stmt)), broken, reusable && !broken};
      conn.dropStmt();  // prepared again next time, on this connection or a fresh one
      return f;
    };
    if (conn.stmt() == nullptr) {
      MYSQL_STMT* stmt = mysql_stmt_init(conn.mysql());
      if (stmt == nullptr) {
        return Failure{fmt::format("cannot prepare: {}", mysql_error(conn.mysql())), true, false};
      }
      conn.setStmt(stmt);
      if (mysql_stmt_prepare(stmt, sql_.data(), sql_.size()) != 0) {
        return stmtFailure("cannot prepare the query", true);
      }
    }
    MYSQL_STMT* stmt = conn.stmt();
    if (mysql_stmt_param_count(stmt) != values.size()) {
      conn.dropStmt();
      return Failure{"the query has placeholders of its own ('?' outside quotes)", false, true};
    }
    std::vector<MYSQL_BIND> params(values.size());
    std::vector<unsigned long> lengths(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      lengths[i] = values[i].size();
      params[i] = MYSQL_BIND{};
      params[i].buffer_type = MYSQL_TYPE_STRING;
      params[i].buffer = const_cast<char*>(values[i].data());
      params[i].buffer_length = values[i].size();
      params[i].length = &lengths[i];
    }
    if (!params.empty() && mysql_stmt_bind_param(stmt, params.data()) != 0) {
      return stmtFailure("cannot bind the key");
    }
    if (mysql_stmt_execute(stmt) != 0) {
      return stmtFailure("query failed");
    }
    unsigned columns = mysql_stmt_field_count(stmt);
    if (columns == 0) {
      conn.dropStmt();
      return Failure{"the query returns no result set (not a SELECT?)", false};
    }
    // Every column must be bound; only the first is read, fetched in full once its length is
    // known (buffer_length 0 makes each fetch report MYSQL_DATA_TRUNCATED with the length).
    std::vector<MYSQL_BIND> result(columns);
    unsigned long length = 0;
    my_bool is_null = 0;
    std::vector<unsigned long> ignored_lengths(columns);
    for (unsigned i = 0; i < columns; ++i) {
      result[i] = MYSQL_BIND{};
      result[i].buffer_type = MYSQL_TYPE_STRING;
      result[i].length = &ignored_lengths[i];
    }
    result[0].length = &length;
    result[0].is_null = &is_null;
    if (mysql_stmt_bind_result(stmt, result.data()) != 0) {
      return stmtFailure("cannot bind the result");
    }
    for (;;) {
      int rc = mysql_stmt_fetch(stmt);
      if (rc == MYSQL_NO_DATA) break;
      if (rc == 1) return stmtFailure("cannot read the result");
      if (is_null || length == 0) continue;
      std::string value(length, '\0');
      MYSQL_BIND column{};
      column.buffer_type = MYSQL_TYPE_STRING;
      column.buffer = value.data();
      column.buffer_length = length;
      unsigned long got = 0;
      column.length = &got;
      if (mysql_stmt_fetch_column(stmt, &column, 0, 0) != 0) {
        return stmtFailure("cannot read the result");
      }
      value.resize(std::min<unsigned long>(got, length));
      rows.push_back(std::move(value));
    }
    mysql_stmt_free_result(stmt);
    return std::nullopt;
  }

  const std::string description_;
  const QueryTemplate query_;
  const std::string sql_;
  std::string host_;
  const std::string socket_;
  const std::string user_;
  const std::string password_;
  const std::string database_;
  const unsigned port_;
  const unsigned timeout_;
  const bool tls_;
  const std::string tls_ca_file_;
  const bool tls_require_cert_;

  mutable IdlePool<ConnectionPtr> idle_{MaxIdleConnections};
};

}  // namespace

TablePtr makeMysqlTable(const config::TableSpec& spec, const Warn&) {
  return std::make_shared<MysqlTable>(spec);
}

}  // namespace petrel::lookup
