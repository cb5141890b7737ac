// The `ldap` backend: answers a key with the values of one or more attributes of the entries an
// LDAP search finds, through OpenLDAP's libldap (the only file that includes <ldap.h>).
//
// One lookup = one search under `base` (scope sub|one|base, default sub) with `filter` (default
// "(mail=%s)", %s/%u/%d expanded and RFC 4515-escaped by QueryTemplate, so a key can never
// change the filter's structure), asking only for `attribute` (a comma-separated list, as
// Postfix's result_attribute). The answer is every value of those attributes across all
// entries, joined with "," (as Postfix joins multiple results); no entry or no value is
// NotFound. A key the filter cannot be built for (%d without a domain) is NotFound unasked.
//
// It owns a pool of connections (idle LDAP* handles in an IdlePool; a lookup takes one, or
// opens and binds a new one, and gives it back when the search went well). Every wait is
// bounded: an attempt (connect, bind, search) has `timeout` seconds in all (Default: 10s, as
// Postfix), re-armed into LDAP_OPT_NETWORK_TIMEOUT / LDAP_OPT_TIMEOUT before each step and passed
// to ldap_search_ext_s; the socket of a new connection is also shut down by SocketWatchdog at
// the deadline, for the TLS handshake where libldap ignores its own timeout. On any error the handle is dropped; when the failed handle came from
// the pool and the error is a connection one (server restarted, idle connection cut), the
// lookup is tried once more on a fresh connection. Then it is TempFail naming the table and
// the cause, never Found or NotFound. blocking() is true: callers run lookups on the thread
// pool. It does not chase referrals, use SASL mechanisms other than simple bind, nor cache
// (the registry's cache wraps any table).
//
// TLS: an ldaps:// uri, or `start_tls: true` on an ldap:// one (the StartTLS extended operation
// right after connecting, before the bind; if it fails the lookup tempfails, it never goes on
// in plaintext). The server's certificate is checked against `tls_ca_file` (default: the
// system's CAs) and the uri's host name unless `tls_require_cert: false`. Each handle gets its
// own TLS context with these settings (LDAP_OPT_X_TLS_NEWCTX), so tables never share them.
#include <fmt/format.h>
#include <ldap.h>

#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../idle_pool.h"
#include "../query_template.h"
#include "petrel/core/strings.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t DefaultTimeoutSeconds = 10;  // Postfix ldap_table(5) timeout
// More entries than this for one key is a broken filter or directory, not an answer: the
// search fails (LDAP_SIZELIMIT_EXCEEDED) and the lookup tempfails. Router::MaxExpansionRecipients.
constexpr int SizeLimit = 1000;
// Idle connections kept; more may be open while lookups run (one per thread-pool thread).
constexpr size_t MaxIdle = 16;

// Shuts down sockets whose deadline has passed. libldap 2.5 with GnuTLS ignores its network
// timeout in the TLS handshake of an ldaps:// connection: against a server that accepts TCP and
// never answers it spins on read() for ever (seen: > 120 s at 100% CPU). After shutdown() the
// read returns 0, the handshake fails and the operation returns. One thread for all tables,
// started on first use and never stopped (so no lookup still running at exit can find it gone).
class SocketWatchdog {
 public:
  static SocketWatchdog& instance() {
    static SocketWatchdog* watchdog = new SocketWatchdog;
    return *watchdog;
  }

  void watch(int fd, Clock::time_point deadline) {
    {
      std::lock_guard lock(mutex_);
      watched_[fd] = deadline;
    }
    wake_.notify_one();
  }

  // Must run before `fd` is closed (a later socket could get its number).
  void unwatch(int fd) {
    std::lock_guard lock(mutex_);
    watched_.erase(fd);
  }

  ~SocketWatchdog() = delete;

 private:
  SocketWatchdog() { std::thread([this] { run(); }).detach(); }

  [[noreturn]] void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      Clock::time_point next = Clock::time_point::max();
      for (auto it = watched_.begin(); it != watched_.end();) {
        if (it->second <= Clock::now()) {
          ::shutdown(it->first, SHUT_RDWR);  // under the lock: the fd cannot be closed meanwhile
          it = watched_.erase(it);
        } else {
          next = std::min(next, it->second);
          ++it;
        }
      }
      if (next == Clock::time_point::max()) {
        wake_.wait(lock);
      } else {
        wake_.wait_until(lock, next);
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<int, Clock::time_point> watched_;  // guarded by mutex_
};

// The deadline of the attempt this thread runs, for the connection callback: libldap opens the
// connection inside the first operation, on the calling thread.
thread_local std::optional<Clock::time_point> t_attempt_deadline;
thread_local int t_watched_fd = -1;

int socketOf(Sockbuf* sb) {
  ber_socket_t fd = -1;
  if (sb == nullptr || ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) != 1) return -1;
  return static_cast<int>(fd);
}

int onConnect(LDAP*, Sockbuf* sb, LDAPURLDesc*, sockaddr*, ldap_conncb*) {
  int fd = socketOf(sb);
  if (fd >= 0 && t_attempt_deadline) {
    SocketWatchdog::instance().watch(fd, *t_attempt_deadline);
    t_watched_fd = fd;
  }
  return 0;
}

void onClose(LDAP*, Sockbuf* sb, ldap_conncb*) {
  int fd = socketOf(sb);  // -1 for the call made when the handle itself is freed
  if (fd < 0) return;
  SocketWatchdog::instance().unwatch(fd);
  if (t_watched_fd == fd) t_watched_fd = -1;
}

ldap_conncb WatchConnections{&onConnect, &onClose, nullptr};

// For one attempt: new connections are watched until its deadline; when it ends, the one it
// opened (if still open, now connected and in the pool) is not watched any more.
class AttemptDeadline {
 public:
  explicit AttemptDeadline(Clock::time_point deadline) { t_attempt_deadline = deadline; }
  ~AttemptDeadline() {
    if (t_watched_fd >= 0) SocketWatchdog::instance().unwatch(t_watched_fd);
    t_watched_fd = -1;
    t_attempt_deadline.reset();
  }
  AttemptDeadline(const AttemptDeadline&) = delete;
  AttemptDeadline& operator=(const AttemptDeadline&) = delete;
};

struct LdapCloser {
  void operator()(LDAP* ld) const { ldap_unbind_ext_s(ld, nullptr, nullptr); }
};
using Handle = std::unique_ptr<LDAP, LdapCloser>;

struct MessageFree {
  void operator()(LDAPMessage* m) const { ldap_msgfree(m); }
};

// Errors after which the connection itself is suspect; a pooled one is worth one retry.
bool connectionError(int rc) {
  return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT ||
         rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY;
}

// "Can't contact LDAP server", plus the server's or libldap's diagnostic when there is one.
std::string ldapError(LDAP* ld, int rc) {
  std::string text = ldap_err2string(rc);
  char* diagnostic = nullptr;
  if (ld && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diagnostic) == LDAP_OPT_SUCCESS &&
      diagnostic != nullptr) {
    if (*diagnostic != '\0') {
      text = fmt::format("{} ({})", text, diagnostic);
    }
    ldap_memfree(diagnostic);
  }
  return text;
}

class LdapTable final : public LookupTable {
 public:
  explicit LdapTable(const config::TableSpec& spec)
      : description_("ldap:" + spec.name),
        uri_(option(spec, "uri", "")),
        base_(option(spec, "base", "")),
        filter_(option(spec, "filter", "(mail=%s)")),
        bind_dn_(option(spec, "bind_dn", "")),
        bind_password_(option(spec, "bind_password", "")),
        start_tls_(option(spec, "start_tls", "no") == "yes"),
        tls_ca_file_(option(spec, "tls_ca_file", "")),
        tls_require_cert_(option(spec, "tls_require_cert", "yes") == "yes") {
    std::string scope = option(spec, "scope", "sub");
    scope_ = scope == "base" ? LDAP_SCOPE_BASE
             : scope == "one" ? LDAP_SCOPE_ONELEVEL
                              : LDAP_SCOPE_SUBTREE;
    const std::string attribute = option(spec, "attribute", "");
    for (std::string_view name : split(attribute, ',')) {
      name = trim(name);
      if (!name.empty()) attributes_.emplace_back(name);
    }
    uint64_t seconds = DefaultTimeoutSeconds;
    if (auto it = spec.options.find("timeout"); it != spec.options.end()) {
      seconds = std::strtoull(it->second.c_str(), nullptr, 10);
    }
    timeout_ = std::chrono::seconds(seconds == 0 ? 1 : seconds);  // 0 would never wait
    // libldap initialises its global options on first use; do it here, on the main thread,
    // rather than racing in two thread-pool threads.
    int version = 0;
    ldap_get_option(nullptr, LDAP_OPT_PROTOCOL_VERSION, &version);
  }

  LookupResult lookup(std::string_view key) const override {
    std::optional<std::string> filter = filter_.ldapFilter(key);
    if (!filter) {
      return LookupResult::notFound();
    }
    if (attributes_.empty()) {
      return LookupResult::configError(
          fmt::format("table {}: no result attribute configured", description_));
    }
    Handle ld = idle_.take();
    bool pooled = ld != nullptr;
    Attempt first = attempt(std::move(ld), *filter);
    if (!first.ok && pooled && connectionError(first.rc)) {
      // The idle connection had gone stale (server restarted, connection cut while idle):
      // one more try on a fresh one, with a `timeout` of its own.
      return attempt(nullptr, *filter).result;
    }
    return first.result;
  }

  std::string describe() const override { return description_; }
  bool blocking() const override { return true; }

 private:
  struct Attempt {
    bool ok = false;  // result is Found or NotFound and `ld` went back to the pool
    int rc = LDAP_SUCCESS;
    LookupResult result;
  };

  static std::string option(const config::TableSpec& spec, const char* key, const char* dflt) {
    auto it = spec.options.find(key);
    return it == spec.options.end() ? std::string(dflt) : it->second;
  }

  // Why an operation failed; past the attempt's deadline that is the deadline (the watchdog
  // may have cut the connection, which libldap reports as "Can't contact LDAP server").
  std::string cause(LDAP* ld, int rc, Clock::time_point deadline) const {
    if (Clock::now() >= deadline) {
      return fmt::format("no answer within {}s", timeout_.count());
    }
    return ldapError(ld, rc);
  }

  LookupResult fail(std::string_view what, std::string_view cause) const {
    return LookupResult::tempFail(fmt::format("table {}: {}: {}", description_, what, cause));
  }

  // Arms the handle's connect and result timeouts with what is left until `deadline`; false
  // when nothing is.
  static bool arm(LDAP* ld, Clock::time_point deadline, timeval& left) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    if (us.count() <= 0) {
      return false;
    }
    left.tv_sec = static_cast<time_t>(us.count() / 1000000);
    left.tv_usec = static_cast<suseconds_t>(us.count() % 1000000);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &left);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &left);
    return true;
  }

  // A new handle, configured; the connection itself is opened by the first operation.
  LDAP* open(std::string& error) const {
    LDAP* ld = nullptr;
    int rc = ldap_initialize(&ld, uri_.c_str());
    if (rc != LDAP_SUCCESS || ld == nullptr) {
      error = fmt::format("bad uri \"{}\": {}", uri_, ldap_err2string(rc));
      return nullptr;
    }
    int version = LDAP_VERSION3;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    // A referral could send us to any server, anonymously, outside the pool (Postfix's
    // chase_referrals defaults to no as well).
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    ldap_set_option(ld, LDAP_OPT_CONNECT_CB, &WatchConnections);
    if (!start_tls_ && !istartsWith(uri_, "ldaps://")) {
      return ld;  // no TLS: no context to build (it would load the system's CA store)
    }
    int require = tls_require_cert_ ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require);
    if (!tls_ca_file_.empty()) {
      ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, tls_ca_file_.c_str());
    }
    int is_server = 0;
    rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server);
    if (rc != LDAP_OPT_SUCCESS) {
      error = fmt::format("cannot set up TLS (CA file \"{}\"): {}", tls_ca_file_,
                          ldap_err2string(rc));
      ldap_unbind_ext_s(ld, nullptr, nullptr);
      return nullptr;
    }
    return ld;
  }

  // One try: on a fresh connection when `ld` is null (connect and bind), else on `ld`. The
  // handle goes back to the pool after a good search; after a failure it is closed.
  Attempt attempt(Handle ld, const std::string& filter) const {
    Clock::time_point deadline = Clock::now() + timeout_;
    AttemptDeadline watched(deadline);
    timeval left{};
    if (!ld) {
      std::string error;
      ld.reset(open(error));
      if (!ld) {
        return {false, LDAP_PARAM_ERROR, fail("connect", error)};
      }
      if (start_tls_) {
        if (!arm(ld.get(), deadline, left)) {
          return {false, LDAP_TIMEOUT, fail("StartTLS", ldap_err2string(LDAP_TIMEOUT))};
        }
        int rc = ldap_start_tls_s(ld.get(), nullptr, nullptr);
        if (rc != LDAP_SUCCESS) {
          std::string why = cause(ld.get(), rc, deadline);
          if (rc == LDAP_CONNECT_ERROR) {
            // libldap says no more than "Connect error" when the handshake fails.
            why += "; the TLS handshake failed: is the server's certificate from a CA in "
                   "tls_ca_file (or the system's) and for the uri's host?";
          }
          return {false, rc, fail("StartTLS", why)};
        }
      }
      if (!bind_dn_.empty()) {
        if (!arm(ld.get(), deadline, left)) {
          return {false, LDAP_TIMEOUT, fail("bind", ldap_err2string(LDAP_TIMEOUT))};
        }
        berval password{bind_password_.size(), const_cast<char*>(bind_password_.data())};
        int rc = ldap_sasl_bind_s(ld.get(), bind_dn_.c_str(), LDAP_SASL_SIMPLE, &password,
                                  nullptr, nullptr, nullptr);
        if (rc != LDAP_SUCCESS) {
          return {false, rc, fail(fmt::format("bind as {}", bind_dn_), cause(ld.get(), rc, deadline))};
        }
      }
    }
    if (!arm(ld.get(), deadline, left)) {
      return {false, LDAP_TIMEOUT, fail("search", ldap_err2string(LDAP_TIMEOUT))};
    }
    std::vector<char*> attrs;
    for (const std::string& a : attributes_) {
      attrs.push_back(const_cast<char*>(a.c_str()));
    }
    attrs.push_back(nullptr);
    LDAPMessage* raw = nullptr;
    int rc = ldap_search_ext_s(ld.get(), base_.c_str(), scope_, filter.c_str(), attrs.data(),
                               0, nullptr, nullptr, &left, SizeLimit, &raw);
    std::unique_ptr<LDAPMessage, MessageFree> res(raw);
    if (rc != LDAP_SUCCESS) {
      // Every other code (no such base, size limit, bad filter, ...) is a failure too: mail
      // waits for the admin instead of bouncing on an answer the directory did not give.
      return {false, rc, fail(fmt::format("search {}", filter), cause(ld.get(), rc, deadline))};
    }
    std::string value;
    for (LDAPMessage* e = ldap_first_entry(ld.get(), res.get()); e != nullptr;
         e = ldap_next_entry(ld.get(), e)) {
      for (const std::string& a : attributes_) {
        berval** values = ldap_get_values_len(ld.get(), e, a.c_str());
        if (values == nullptr) continue;
        for (berval** v = values; *v != nullptr; ++v) {
          if (!value.empty()) value += ',';
          value.append((*v)->bv_val, (*v)->bv_len);
        }
        ldap_value_free_len(values);
      }
    }
    res.reset();
    idle_.giveBack(std::move(ld));
    return {true, LDAP_SUCCESS,
            value.empty() ? LookupResult::notFound() : LookupResult::found(std::move(value))};
  }

  const std::string description_;
  const std::string uri_;
  const std::string base_;
  const QueryTemplate filter_;
  const std::string bind_dn_;
  const std::string bind_password_;
  const bool start_tls_;
  const std::string tls_ca_file_;
  const bool tls_require_cert_;
  int scope_ = LDAP_SCOPE_SUBTREE;
  std::vector<std::string> attributes_;
  std::chrono::seconds timeout_{DefaultTimeoutSeconds};

  mutable IdlePool<Handle> idle_{MaxIdle};  // connected and bound, not in use
};

}  // namespace

TablePtr makeLdapTable(const config::TableSpec& spec, const Warn&) {
  return std::make_shared<LdapTable>(spec);
}

}  // namespace petrel::lookup
