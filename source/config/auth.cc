// The `auth:` section: which backend verifies passwords (table, dovecot, lookup), its one
// setting, the SASL mechanisms offered and the sender login table. A key of another backend
// is refused rather than silently ignored.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "loader.h"

namespace petrel::config::detail {

namespace {

constexpr std::array<std::string_view, 2> KnownMechanisms{"PLAIN", "LOGIN"};

}  // namespace

void Loader::loadAuth(const Section& top, Config& c) {
  Auth& a = c.auth;
  a.credentials_db = resolvePath(c.state_dir, CredentialsDbName);
  const Field* f = top.find("auth");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly(
      {"backend", "credentials_db", "dovecot_socket", "credentials", "mechanisms", "sender_login"});
  std::optional<std::string_view> backend = a.backend;
  if (const Field* b = s.find("backend")) {
    backend = oneOf<std::string_view>(
        *b, {{"table", "table"}, {"dovecot", "dovecot"}, {"lookup", "lookup"}});
    if (backend) {
      a.backend = *backend;
    }
  }
  const Field* db = s.find("credentials_db");
  if (db != nullptr) {
    setPath(s, "credentials_db", a.credentials_db);
  }
  const Field* socket = s.find("dovecot_socket");
  if (socket != nullptr) {
    setPath(s, "dovecot_socket", a.dovecot_socket);
  }
  // Each backend has its own key; the other one's would be silently ignored, so it is refused.
  if (backend == "dovecot") {
    s.require("dovecot_socket",
              "(backend dovecot needs Dovecot's auth-client socket, e.g. "
              "/run/dovecot/auth-client)");
    if (db != nullptr) {
      report(*db, "is used only by backend table, and backend is dovecot");
    }
  } else if (backend == "table" && socket != nullptr) {
    report(*socket, "is used only by backend dovecot, and backend is table");
  }
  const Field* creds = s.find("credentials");
  if (backend == "lookup") {
    if (const Field* t = s.require("credentials", "(a table: user name -> crypt(3) hash)")) {
      a.credentials = tableRef(*t, c);
    }
  } else if (creds != nullptr && backend) {
    report(*creds, fmt::format("is used only by backend lookup, and backend is {}", *backend));
  }
  if (const Field* m = s.find("mechanisms")) {
    loadMechanisms(*m, a);
  }
  if (const Field* sl = s.find("sender_login"); sl != nullptr && !sl->value.IsNull()) {
    a.sender_login = tableRef(*sl, c);
  }
}

// auth.mechanisms: names are case-insensitive (RFC 4422 3.1 defines them upper-case) and
// stored upper-cased; Petrel implements PLAIN and LOGIN only.
void Loader::loadMechanisms(const Field& f, Auth& a) {
  if (!f.value.IsSequence()) {
    report(f, fmt::format("expected a list of SASL mechanisms such as [PLAIN, LOGIN], got {}",
                          describe(f.value)));
    return;
  }
  if (f.value.size() == 0) {
    report(f,
           "at least one mechanism is required (to turn AUTH off, set auth: none on the "
           "listener)");
    return;
  }
  std::vector<std::string> mechanisms;
  bool ok = true;
  size_t i = 0;
  for (const YAML::Node& node : f.value) {
    Field item = element(f, node, i++);
    auto name = scalar(item, "a SASL mechanism name");
    if (!name) {
      ok = false;
      continue;
    }
    std::string upper = *name;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](char ch) {
      return ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 32) : ch;
    });
    if (std::find(KnownMechanisms.begin(), KnownMechanisms.end(), upper) == KnownMechanisms.end()) {
      report(item, fmt::format("unknown mechanism '{}' (known: PLAIN, LOGIN)", *name));
      ok = false;
    } else if (std::find(mechanisms.begin(), mechanisms.end(), upper) != mechanisms.end()) {
      report(item, fmt::format("duplicate mechanism '{}'", upper));
      ok = false;
    } else {
      mechanisms.push_back(std::move(upper));
    }
  }
  if (ok) {
    a.mechanisms = std::move(mechanisms);
  }
}

}  // namespace petrel::config::detail
