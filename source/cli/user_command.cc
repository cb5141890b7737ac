// `petrel user` and `petrel auth-test`: the credentials database and a test of the configured
// authenticator. Passwords come from stdin (echo off on a terminal), never from argv.
#include "user_command.h"

#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "petrel/auth/authenticator.h"
#include "petrel/config/config.h"

#include "command_support.h"

namespace petrel::cli {

namespace {

// auth.credentials_db, which the loader defaults to <state_dir>/credentials.db.
std::string credentialsDb(const config::Config& c) {
  return c.auth.credentials_db.empty() ? c.state_dir + "/credentials.db" : c.auth.credentials_db;
}

termios saved_termios;
volatile sig_atomic_t echo_off = 0;

// A signal while echo is off must not leave the terminal silent.
void restoreTerminalAndExit(int sig) {
  if (echo_off) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
  ssize_t ignored = ::write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  _exit(128 + sig);
}

// Reads one line from fd 0 without its line end; nullopt at EOF before any byte.
std::optional<std::string> readLine() {
  std::string line;
  char c;
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 && line.empty()) return std::nullopt;
    if (n <= 0 || c == '\n') break;
    line.push_back(c);
    if (line.size() > 4096) break;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// The password for `petrel user`/`auth-test`: one line of stdin when it is not a terminal
// (scripts), else asked on the terminal with echo off, twice when `confirm`.
Result<std::string> readPassword(bool confirm) {
  if (!isatty(STDIN_FILENO)) {
    auto line = readLine();
    if (!line || line->empty()) return Error::permanent("no password on standard input");
    if (line->size() > 4096) return Error::permanent("password longer than 4096 octets");
    return std::move(*line);
  }
  if (tcgetattr(STDIN_FILENO, &saved_termios) != 0) {
    return Error::permanent(fmt::format("cannot read the terminal: {}", std::strerror(errno)));
  }
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) std::signal(sig, restoreTerminalAndExit);
  termios quiet = saved_termios;
  quiet.c_lflag &= ~tcflag_t(ECHO);
  quiet.c_lflag |= ECHONL;
  echo_off = 1;
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  fmt::print(stderr, "Password: ");
  std::fflush(stderr);
  auto first = readLine();
  std::optional<std::string> second = first;
  if (confirm && first) {
    fmt::print(stderr, "Retype password: ");
    std::fflush(stderr);
    second = readLine();
  }
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
  echo_off = 0;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) std::signal(sig, SIG_DFL);
  if (!first || first->empty()) return Error::permanent("empty password");
  if (first != second) return Error::permanent("the passwords do not match");
  if (first->size() > 4096) return Error::permanent("password longer than 4096 octets");
  return std::move(*first);
}

}  // namespace

// petrel user add|passwd|del NAME
int userCommand(const std::string& config_path, const std::string& sub, const std::string& name) {
  auto cfg = loadOrReport(config_path);
  if (!cfg) return 1;
  std::string db = credentialsDb(*cfg);
  if (cfg->auth.backend != "table") {
    fmt::print(stderr, "petrel: note: auth.backend is {}; AUTH does not use {}\n",
               cfg->auth.backend, db);
  }
  Status st = okStatus();
  if (sub == "del") {
    st = auth::deleteUser(db, name);
  } else {
    auto password = readPassword(true);
    if (!password) {
      fmt::print(stderr, "petrel: {}\n", password.error().message());
      return 1;
    }
    if (sub == "add") {
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(db).parent_path(), ec);
      st = auth::addUser(db, name, *password);
    } else {
      st = auth::setPassword(db, name, *password);
    }
    explicit_bzero(password->data(), password->size());
  }
  if (!st) {
    fmt::print(stderr, "petrel: user {}: {}\n", sub, st.error().message());
    return 1;
  }
  const char* done = sub == "add" ? "added" : sub == "del" ? "deleted" : "password changed";
  fmt::print("petrel: user {} {} in {}\n", name, done, db);
  return 0;
}

int userAdminCommand(const std::string& config_path, const std::string& name, bool admin) {
  auto cfg = loadOrReport(config_path);
  if (!cfg) return 1;
  std::string db = credentialsDb(*cfg);
  if (auto st = auth::setAdmin(db, name, admin); !st) {
    fmt::print(stderr, "petrel: user admin: {}\n", st.error().message());
    return 1;
  }
  fmt::print("petrel: user {} is {} admin in {}\n", name, admin ? "an" : "no longer an", db);
  return 0;
}

// petrel auth-test USER [--client-ip IP] (hidden; for the integration tests): runs the
// configured authenticator once on a private loop with the password from stdin, as if a client
// at IP (default 127.0.0.1) had sent it. Prints "ok USER", "fail REASON" or "tempfail REASON";
// exit 0, 1, 2 (3: could not even try).
int authTestCommand(const std::string& config_path, const std::string& user,
                    const std::string& client_ip) {
  auto cfg = loadOrReport(config_path);
  if (!cfg) return 3;
  auth::AuthSettings settings;
  settings.backend = cfg->auth.backend;
  settings.credentials_db = credentialsDb(*cfg);
  settings.dovecot_socket = cfg->auth.dovecot_socket;
  auto authenticator = auth::makeAuthenticator(settings);
  if (!authenticator) {
    fmt::print(stderr, "petrel: {}\n", authenticator.error().message());
    return 3;
  }
  auto password = readPassword(false);
  if (!password) {
    fmt::print(stderr, "petrel: {}\n", password.error().message());
    return 3;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::optional<Result<auth::Verdict>> result;
  {
    event::Dispatcher dispatcher(&loop);
    auth::Credentials credentials{"", user, std::move(*password)};
    (*authenticator)->verify(dispatcher, credentials, client_ip, [&](Result<auth::Verdict> r) {
      result = std::move(r);
      dispatcher.close();
    });
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);
  if (!result) {
    fmt::print("tempfail no answer\n");
    return 2;
  }
  if (!*result) {
    fmt::print("tempfail {}\n", result->error().message());
    return 2;
  }
  if (!(*result)->ok) {
    fmt::print("fail {}\n", (*result)->reason);
    return 1;
  }
  fmt::print("ok {}\n", (*result)->user);
  return 0;
}

}  // namespace petrel::cli
