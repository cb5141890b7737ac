// The `pgsql` backend: a query against a PostgreSQL server, through libpq.
//
// Settings (TableSpec options): `host` (a name, an address, or a unix socket directory when it
// starts with '/'), `port`, `user`, `password`, `database`, `query`, `timeout` (seconds,
// 0 taken as 1; Default: 10), and libpq's `sslmode` and `sslrootcert` for TLS to the server.
// Unset host, port, user and sslmode take libpq's defaults (its socket directory, 5432, the
// login name, prefer). The query is a QueryTemplate: %s, %u, %d become $1, $2... bound
// as text parameters (PQsendQueryParams), never pasted into the SQL. Answers as Postfix's
// pgsql_table(5): the first column of every row, NULL and empty values skipped, joined with
// ","; no value = NotFound; a key without the %u/%d part the query needs = NotFound without
// asking the server, and so is a key that is not UTF-8 (the connection speaks UTF-8; such a key
// cannot be in the table, and the server would refuse it with an error that defers forever).
//
// Failures never become a found or not-found answer: a server that cannot be reached or
// reached in time, a broken connection or an SQL error answers TempFail, naming the table and
// the server's message. Every wait is bounded by `timeout`: connecting (libpq's
// connect_timeout, which libpq rounds up to 2s), and waiting for the answer (poll() on the
// socket with a deadline; the server also gets statement_timeout = `timeout`, so it stops
// working on a query nobody waits for).
//
// Connections: a pool of idle PGconn shared by all threads (lookup/idle_pool.h), locked only to take
// or return one; a lookup uses its connection alone (libpq allows one thread per connection),
// so lookups run in parallel, at most as many as the thread pool has threads. A pooled
// connection that turns out broken (the server restarted, an idle connection was cut) is
// dropped together with the other idle ones, and the query is retried once on a fresh
// connection; a fresh connection that fails is not retried. A query that timed out is not
// retried either (that would double the wait): its connection is closed, since it is still
// busy, and so are the idle ones (a server that stopped answering would make each of them
// wait out the timeout too). Connections are opened on demand, so a server that was down is used again as soon as
// it is back. This backend never writes to the database.
#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "../idle_pool.h"
#include "../query_template.h"
#include "petrel/core/strings.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t DefaultTimeoutSeconds = 10;
// Idle connections kept for reuse; more are opened when more lookups run at once and closed
// when returned to a full pool.
constexpr size_t MaxIdleConnections = 8;

// libpq's messages end with a newline and continue on tab-indented lines ("...failed:
// Connection refused\n\tIs the server running..."): one line for a log.
std::string oneLine(std::string_view message) {
  std::string out;
  for (std::string_view line : split(message, '\n')) {
    line = trim(line);
    if (line.empty()) {
      continue;
    }
    if (!out.empty()) {
      out += ' ';
    }
    out += line;
  }
  return out.empty() ? "unknown error" : out;
}

bool validUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      if (c == 0) {
        return false;  // a text parameter ends at NUL
      }
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) {
      return false;
    }
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 (RFC 3629 3).
    static constexpr uint32_t Min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < Min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

void ignoreNotice(void*, const char*) {}

struct Finish {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using Connection = std::unique_ptr<PGconn, Finish>;

class PgsqlTable final : public LookupTable {
 public:
  explicit PgsqlTable(const config::TableSpec& spec)
      : name_(spec.name), query_(option(spec, "query").value_or("")) {
    sql_ = query_.sql(QueryTemplate::Placeholders::Dollar);
    uint64_t seconds = DefaultTimeoutSeconds;
    if (auto t = parseUnsigned(option(spec, "timeout").value_or("")); t) {
      seconds = *t == 0 ? 1 : *t;  // 0 would mean "wait for ever" to libpq
    }
    timeout_ = std::chrono::seconds(seconds);

    auto set = [this](const char* keyword, std::string value) {
      keywords_.emplace_back(keyword);
      values_.push_back(std::move(value));
    };
    for (const auto& [ours, theirs] :
         {std::pair{"host", "host"}, std::pair{"port", "port"}, std::pair{"user", "user"},
          std::pair{"password", "password"}, std::pair{"database", "dbname"},
          std::pair{"sslmode", "sslmode"}, std::pair{"sslrootcert", "sslrootcert"}}) {
      if (auto v = option(spec, ours); v && !v->empty()) {
        set(theirs, *v);
      }
    }
    set("connect_timeout", std::to_string(seconds));
    set("options", fmt::format("-c statement_timeout={}", seconds * 1000));
    set("client_encoding", "UTF8");
    set("application_name", "petrel");
  }

  LookupResult lookup(std::string_view key) const override {
    std::optional<std::vector<std::string>> params = query_.values(key);
    if (!params) {
      return LookupResult::notFound();
    }
    for (const std::string& p : *params) {
      if (!validUtf8(p)) {
        return LookupResult::notFound();
      }
    }

    std::string error;
    Connection conn = idle_.take();
    bool fresh = conn == nullptr;
    if (fresh && !(conn = connect(error))) {
      return fail(error);
    }
    Answer answer = query(conn.get(), *params);
    if (answer.broken && !fresh && !answer.timed_out) {
      // Most likely the server restarted since this connection was pooled: so did the other
      // idle ones. One more try, on a new connection.
      conn.reset();
      idle_.clear();
      if (!(conn = connect(error))) {
        return fail(error);
      }
      answer = query(conn.get(), *params);
    }
    if (answer.broken) {
      conn.reset();
      if (answer.timed_out) {
        // A server that stopped answering does not answer on the idle connections either:
        // each would cost another full timeout. Later lookups start afresh.
        idle_.clear();
      }
    } else {
      idle_.giveBack(std::move(conn));
    }
    return std::move(answer.result);
  }

  std::string describe() const override { return "pgsql:" + name_; }
  bool blocking() const override { return true; }

 private:
  struct Answer {
    LookupResult result;
    bool broken = false;     // the connection cannot be used again
    bool timed_out = false;  // no answer within the timeout
  };

  static std::optional<std::string> option(const config::TableSpec& spec, const std::string& key) {
    auto it = spec.options.find(key);
    if (it == spec.options.end()) {
      return std::nullopt;
    }
    return it->second;
  }

  LookupResult fail(const std::string& error) const {
    return LookupResult::tempFail(fmt::format("table {}: {}", describe(), error));
  }

  Connection connect(std::string& error) const {
    std::vector<const char*> keywords;
    std::vector<const char*> values;
    for (size_t i = 0; i < keywords_.size(); ++i) {
      keywords.push_back(keywords_[i].c_str());
      values.push_back(values_[i].c_str());
    }
    keywords.push_back(nullptr);
    values.push_back(nullptr);
    // expand_dbname = 0: a database name is only a name, never a connection string.
    PGconn* conn = PQconnectdbParams(keywords.data(), values.data(), 0);
    if (conn == nullptr) {
      error = "cannot connect: out of memory";
      return nullptr;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
      error = fmt::format("cannot connect: {}", oneLine(PQerrorMessage(conn)));
      PQfinish(conn);
      return nullptr;
    }
    // Server notices (WARNING, NOTICE) would go to the daemon's stderr: not ours to print.
    PQsetNoticeProcessor(conn, &ignoreNotice, nullptr);
    return Connection(conn);
  }

  // Waits until libpq has a whole result, at most until `deadline`. False on a timeout or a
  // broken connection, with `answer` saying which.
  bool waitForResult(PGconn* conn, Clock::time_point deadline, Answer& answer) const {
    while (PQisBusy(conn) != 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        answer.broken = answer.timed_out = true;  // still busy: cannot be reused
        answer.result = fail(fmt::format("no answer from the server within {}s", timeout_.count()));
        return false;
      }
      pollfd pfd{PQsocket(conn), POLLIN, 0};
      int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
      if (n < 0 && errno != EINTR) {
        answer.broken = true;
        answer.result = fail(fmt::format("poll: {}", std::strerror(errno)));
        return false;
      }
      if (n > 0 && PQconsumeInput(conn) == 0) {
        answer.broken = true;
        answer.result = fail(oneLine(PQerrorMessage(conn)));
        return false;
      }
    }
    return true;
  }

  Answer query(PGconn* conn, const std::vector<std::string>& params) const {
    Answer answer;
    std::vector<const char*> values;
    for (const std::string& p : params) {
      values.push_back(p.c_str());
    }
    // Text parameters (no types, no lengths, no formats): the server parses them as it would
    // a quoted literal of the column's type, so a key is only ever data.
    if (PQsendQueryParams(conn, sql_.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), nullptr, nullptr, 0) == 0) {
      answer.broken = true;  // dead, or in a state we do not know: not reused
      answer.result = fail(oneLine(PQerrorMessage(conn)));
      return answer;
    }
    Clock::time_point deadline = Clock::now() + timeout_;
    std::string joined;
    bool any = false;
    std::optional<std::string> error;
    for (;;) {
      if (!waitForResult(conn, deadline, answer)) {
        return answer;
      }
      PGresult* res = PQgetResult(conn);
      if (res == nullptr) {
        break;  // the query is complete
      }
      ExecStatusType status = PQresultStatus(res);
      if (status == PGRES_TUPLES_OK) {
        if (PQnfields(res) > 0) {
          for (int row = 0; row < PQntuples(res); ++row) {
            if (PQgetisnull(res, row, 0) != 0 || PQgetlength(res, row, 0) == 0) {
              continue;  // as Postfix: NULL and empty values are no answer
            }
            if (any) {
              joined += ',';
            }
            joined.append(PQgetvalue(res, row, 0), static_cast<size_t>(PQgetlength(res, row, 0)));
            any = true;
          }
        }
      } else if (status != PGRES_COMMAND_OK && !error) {
        error = oneLine(PQresultErrorMessage(res));
      }
      PQclear(res);
    }
    if (PQstatus(conn) == CONNECTION_BAD) {
      answer.broken = true;
      answer.result = fail(error ? *error : oneLine(PQerrorMessage(conn)));
      return answer;
    }
    if (error) {
      // An SQL error (a missing table, a statement timeout): the connection itself is fine.
      answer.result = fail(*error);
      return answer;
    }
    answer.result = any ? LookupResult::found(std::move(joined)) : LookupResult::notFound();
    return answer;
  }

  const std::string name_;
  const QueryTemplate query_;
  std::string sql_;
  std::chrono::seconds timeout_{DefaultTimeoutSeconds};
  // libpq connection keywords and values, in the same order.
  std::vector<std::string> keywords_;
  std::vector<std::string> values_;

  mutable IdlePool<Connection> idle_{MaxIdleConnections};
};

}  // namespace

TablePtr makePgsqlTable(const config::TableSpec& spec, const Warn&) {
  return std::make_shared<PgsqlTable>(spec);
}

}  // namespace petrel::lookup
