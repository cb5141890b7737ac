// `petrel` subcommands. The queue commands talk to the running server over its control
// socket (<state_dir>/control.sock, mode 0600), so they need the same --config. `table query`
// reads the tables itself, through the same lookup registry the server uses.
#include "petrel/cli/cli.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
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
#include "petrel/delivery/router.h"
#include "petrel/lookup/lookup_table.h"
#include "petrel/server/config_checks.h"
#include "petrel/server/dmarc_probe.h"
#include "petrel/server/policy_probe.h"
#include "petrel/server/route.h"
#include "petrel/server/server.h"
#include "petrel/server/spf_probe.h"
#include "arc_command.h"
#include "checks_command.h"
#include "dkim_command.h"
#include "sieve_command.h"

namespace petrel::cli {

namespace {

constexpr const char* DefaultConfig = "/etc/petrel/petrel.yaml";

constexpr const char* Usage = R"(usage: petrel COMMAND [--config FILE]

commands:
  serve                    run the mail server in the foreground
  check-config             validate the configuration; errors as file:line:column
  queue list [--json]      list queued messages (like mailq)
  queue show ID            show one message: envelope, state and content
  queue delete ID|ALL      remove messages from the queue
  queue flush              retry every deferred message now
  queue hold ID            keep a message from being delivered
  queue release ID         let a held message be delivered again
  queue retry ID           try one deferred message now (like postqueue -i)
  queue shape [--json]     the queue by recipient domain and age (like qshape)
  reload                   reload the configuration (like SIGHUP)
  user add NAME            add a user to the credentials database (auth.credentials_db)
  user passwd NAME         set a user's password
  table query NAME KEY     what a table answers for KEY, like postmap -q: NAME is a table
                           under tables: or a reference such as cidr:/etc/petrel/clients;
                           KEY is used as given (the server looks up lower-case addresses).
                           Exit 0 with the value, 1 not found, 75 temporary failure
                           (unreadable file), 78 configuration problem
  user del NAME            remove a user
                           (the password comes from stdin when it is not a terminal, one
                           line; otherwise it is asked twice with echo off; never in argv)
  route ADDRESS [--from SENDER] [--client IP] [--auth USER] [--helo NAME]
        [--listener NAME] [--json]
                           what the server would do with mail to ADDRESS, step by step:
                           the restriction that decides (and where its set is configured),
                           aliases, the Maildir or the next hop and TLS policy. Exit 0 when
                           RCPT would be accepted, 1 when refused (4xx or 5xx), 78 config
  policy test [--client IP] [--helo NAME] [--from SENDER] --to RCPT [--to RCPT...]
        [--auth USER] [--listener NAME]
                           the verdict of each SMTP stage for such a session, from the
                           server's own checks with live DNS: which check of which list
                           decided (with its file:line), every DNS query with its answer,
                           and each policy service's request and reply (they are asked).
                           Exit 0 when DATA would be accepted, 1 when refused, 78 config
  spf check --ip IP --sender ADDR [--helo NAME] [--json]
                           the SPF result (RFC 7208) for mail from ADDR sent by IP, with live
                           DNS (dns.servers): the deciding term, the explanation, the chain
                           of records and every lookup. An empty ADDR or <> checks the HELO
                           identity (postmaster@NAME). Exit 0 pass, 1 any other result,
                           75 temperror, 78 config
  checks test FILE         run the configured header and body checks (checks:) over a
                           message file (- for standard input) and print each action and
                           what end of data would do. Exit 0 accepted, 1 refused or
                           discarded, 78 config
  dkim keygen --domain D --selector S [--algorithm rsa|ed25519] [--bits N] [--out FILE]
                           a new DKIM key (RSA 2048 bits by default) written to FILE (mode
                           0600, never over an existing file; default S.D.key) and the TXT
                           record to publish at S._domainkey.D
  dkim verify FILE         verify the DKIM signatures of a message (live DNS, dns.servers);
                           one Authentication-Results entry per signature. Exit 0 when all
                           pass, 1 otherwise, 75 temperror, 78 config
  dkim sign FILE --domain D --selector S --key K [--algorithm rsa-sha256|ed25519-sha256]
                           print the message with a DKIM-Signature on top
  arc verify FILE          validate the ARC chain of a message (RFC 8617; live DNS,
                           dns.servers): cv=, each instance's seal and message signature.
                           Exit 0 pass, 1 none or fail, 75 temperror, 78 config
  arc seal FILE --domain D --selector S --key K --authserv-id H [--algorithm A]
        [--headers h1:h2]  validate the chain and print the message with ARC Set N+1 on top
                           (the Authentication-Results of H, with arc= added when missing)
  dmarc send-reports       queue the DMARC aggregate reports of every recorded row now
                           (dmarc.reports; the server otherwise sends them daily)
  dmarc check --from-domain D | --from 'FIELD BODY' [--spf RESULT --spf-domain S]
        [--dkim RESULT:DOMAIN ...] [--percent N] [--json]
                           the DMARC result (RFC 7489) for mail from D with those SPF and
                           DKIM results, with live DNS and dmarc.public_suffix_list: the
                           record and where it was found, the organizational domain, the
                           alignment, the disposition and Petrel's action (N fixes pct's
                           random sample, 0-99). Exit 0 pass, 1 any other result,
                           75 temperror, 78 config
  sieve check FILE         compile a Sieve script; errors as FILE:line:column (exit 1)
  sieve test SCRIPT MESSAGE [--from S] [--to R] [--delimiter D] [--global-dir DIR]
                           the actions the script takes for the message, one a line
                           (docs/sieve.md); exit 2 on a run-time error (implicit keep)
  version                  print the version

--config FILE defaults to /etc/petrel/petrel.yaml.
)";

// Sends one request line to the control socket and prints the answer.
int control(const std::string& config_path, const std::string& request) {
  auto loaded = config::loadConfig(config_path, server::standardValidators());
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.toString());
    return 1;
  }
  std::string path = loaded.config->state_dir + "/control.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    fmt::print(stderr, "petrel: control socket path too long: {}\n", path);
    return 1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    fmt::print(stderr, "petrel: cannot reach the server at {}: {} (is `petrel serve` running?)\n",
               path, std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return 1;
  }
  std::string line = request + "\n";
  if (::write(fd, line.data(), line.size()) != ssize_t(line.size())) {
    fmt::print(stderr, "petrel: control socket write failed: {}\n", std::strerror(errno));
    ::close(fd);
    return 1;
  }
  std::string answer;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buf, size_t(n));
  }
  ::close(fd);
  size_t nl = answer.find('\n');
  std::string status = answer.substr(0, nl);
  std::string payload = nl == std::string::npos ? "" : answer.substr(nl + 1);
  if (status != "ok") {
    fmt::print(stderr, "petrel: {}\n", status.empty() ? "no answer from the server" : status);
    return 1;
  }
  fwrite(payload.data(), 1, payload.size(), stdout);
  return 0;
}

// ---- petrel user / petrel auth-test -----------------------------------------------------------

// Loads the config, printing its errors; nullopt when it has any.
std::optional<config::Config> loadOrReport(const std::string& config_path) {
  auto loaded = config::loadConfig(config_path, server::standardValidators());
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.toString());
    return std::nullopt;
  }
  return std::move(*loaded.config);
}

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

// ---- petrel table query -----------------------------------------------------------------------

// sysexits.h values, as postmap and the Postfix tools use them.
constexpr int ExTempFail = 75;
constexpr int ExConfig = 78;

// petrel table query NAME KEY: builds the table as the server does (same registry, same
// reference syntax) and prints what it answers for KEY. Warnings about bad lines go to stderr.
int tableQueryCommand(const std::string& config_path, const std::string& name,
                      const std::string& key) {
  auto cfg = loadOrReport(config_path);
  if (!cfg) return ExConfig;
  Result<config::TableSpec> spec = config::resolveTableReference(*cfg, name);
  if (!spec) {
    fmt::print(stderr, "petrel: {}\n", spec.error().message());
    return ExConfig;
  }
  std::vector<std::string> warnings;
  lookup::TablePtr table =
      lookup::makeTable(*spec, [&warnings](const std::string& w) { warnings.push_back(w); });
  lookup::LookupResult r = table->lookup(key);
  for (const auto& w : warnings) {
    if (w != r.error) fmt::print(stderr, "warning: {}\n", w);  // the failure is printed below
  }
  switch (r.status) {
    case lookup::LookupStatus::Found:
      fmt::print("{}\n", r.value);
      return 0;
    case lookup::LookupStatus::NotFound:
      return 1;
    case lookup::LookupStatus::TempFail:
      fmt::print(stderr, "petrel: temporary failure: {}\n", r.error);
      return ExTempFail;
    case lookup::LookupStatus::ConfigError:
      fmt::print(stderr, "petrel: {}\n", r.error);
      return ExConfig;
  }
  return ExConfig;
}

// petrel policy test [options]: see Usage.
int policyTestCommand(const std::string& config_path, const std::vector<std::string>& args) {
  server::PolicyProbeRequest request;
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    bool ok = true;
    if (a == "--from") {
      ok = value(request.sender);
    } else if (a == "--to") {
      ok = value(request.recipients.emplace_back());
    } else if (a == "--client") {
      ok = value(request.client_ip);
    } else if (a == "--auth") {
      ok = value(request.sasl_user);
    } else if (a == "--helo") {
      ok = value(request.helo);
    } else if (a == "--listener") {
      ok = value(request.listener);
    } else {
      ok = false;
    }
    if (!ok) {
      fmt::print(stderr, "petrel policy test: bad argument '{}'\n{}", a, Usage);
      return 2;
    }
  }
  if (request.recipients.empty()) {
    fmt::print(stderr, "petrel policy test: at least one --to RCPT is needed\n");
    return 2;
  }
  auto cfg = loadOrReport(config_path);
  if (!cfg) return ExConfig;
  auto r = server::probePolicy(*cfg, request);
  if (!r) {
    fmt::print(stderr, "petrel: {}\n", r.error().message());
    return ExConfig;
  }
  fmt::print("{}", server::policyProbeText(*r));
  return r->accepted ? 0 : 1;
}

// petrel route ADDRESS [options]: see Usage.
int routeCommand(const std::string& config_path, const std::vector<std::string>& args) {
  server::RouteRequest request;
  bool json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    bool ok = true;
    if (a == "--json") {
      json = true;
    } else if (a == "--from") {
      ok = value(request.sender);
    } else if (a == "--client") {
      ok = value(request.client_ip);
    } else if (a == "--auth") {
      ok = value(request.sasl_user);
    } else if (a == "--helo") {
      ok = value(request.helo);
    } else if (a == "--listener") {
      ok = value(request.listener);
    } else if (request.address.empty() && !a.starts_with("--")) {
      request.address = a;
    } else {
      ok = false;
    }
    if (!ok) {
      fmt::print(stderr, "petrel route: bad argument '{}'\n{}", a, Usage);
      return 2;
    }
  }
  if (request.address.empty()) {
    fmt::print(stderr, "petrel route: an ADDRESS is needed\n");
    return 2;
  }
  auto cfg = loadOrReport(config_path);
  if (!cfg) return ExConfig;
  auto r = server::explainRoute(*cfg, request);
  if (!r) {
    fmt::print(stderr, "petrel: {}\n", r.error().message());
    return ExConfig;
  }
  fmt::print("{}", json ? server::routeJson(*r) : server::routeText(*r));
  return r->accepted ? 0 : 1;
}

// petrel spf check [options]: see Usage.
int spfCheckCommand(const std::string& config_path, const std::vector<std::string>& args) {
  server::SpfProbeRequest request;
  bool json = false;
  bool have_ip = false;
  bool have_sender = false;
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    bool ok = true;
    if (a == "--json") {
      json = true;
    } else if (a == "--ip") {
      ok = have_ip = value(request.ip);
    } else if (a == "--sender") {
      ok = have_sender = value(request.sender);
    } else if (a == "--helo") {
      ok = value(request.helo);
    } else {
      ok = false;
    }
    if (!ok) {
      fmt::print(stderr, "petrel spf check: bad argument '{}'\n{}", a, Usage);
      return 2;
    }
  }
  if (!have_ip || !have_sender) {
    fmt::print(stderr, "petrel spf check: --ip and --sender are needed\n");
    return 2;
  }
  if ((request.sender.empty() || request.sender == "<>") && request.helo.empty()) {
    fmt::print(stderr, "petrel spf check: the null sender needs --helo\n");
    return 2;
  }
  auto cfg = loadOrReport(config_path);
  if (!cfg) return ExConfig;
  auto r = server::probeSpf(*cfg, request);
  if (!r) {
    fmt::print(stderr, "petrel: {}\n", r.error().message());
    return r.error().kind() == Error::Kind::Config ? ExConfig : 2;
  }
  fmt::print("{}", json ? server::spfProbeJson(*r) : server::spfProbeText(*r));
  switch (r->report.result) {
    case spf::Outcome::Pass: return 0;
    case spf::Outcome::TempError: return ExTempFail;
    default: return 1;
  }
}

// petrel dmarc check [options]: see Usage.
int dmarcCheckCommand(const std::string& config_path, const std::vector<std::string>& args) {
  auto request = server::parseDmarcProbeArgs({args.begin() + 2, args.end()});
  if (!request) {
    fmt::print(stderr, "petrel dmarc check: {}\n{}", request.error().message(), Usage);
    return 2;
  }
  auto cfg = loadOrReport(config_path);
  if (!cfg) return ExConfig;
  auto r = server::probeDmarc(*cfg, *request);
  if (!r) {
    fmt::print(stderr, "petrel: {}\n", r.error().message());
    return r.error().kind() == Error::Kind::Config ? ExConfig : 2;
  }
  fmt::print("{}", request->json ? server::dmarcProbeJson(*r) : server::dmarcProbeText(*r));
  switch (r->evaluation.result) {
    case dmarc::Outcome::Pass: return 0;
    case dmarc::Outcome::TempError: return ExTempFail;
    default: return 1;
  }
}

}  // namespace

int run(int argc, char** argv) {
  std::vector<std::string> args;
  std::string config_path = DefaultConfig;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" || a == "-c") {
      if (i + 1 >= argc) {
        fmt::print(stderr, "petrel: --config needs a file\n");
        return 2;
      }
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else if (a == "--help" || a == "-h") {
      fmt::print("{}", Usage);
      return 0;
    } else {
      args.push_back(a);
    }
  }
  if (args.empty()) {
    fmt::print(stderr, "{}", Usage);
    return 2;
  }
  const std::string& cmd = args[0];
  if (cmd == "version") {
    fmt::print("petrel {}\n", PETREL_VERSION);
    return 0;
  }
  if (cmd == "serve" && args.size() == 1) return server::serve(config_path);
  if (cmd == "check-config" && args.size() == 1) {
    auto loaded = config::loadConfig(config_path, server::standardValidators());
    if (loaded.errors.empty()) {
      std::vector<std::string> warnings;
      delivery::Router router(*loaded.config,
                              [&warnings](const std::string& w) { warnings.push_back(w); });
      for (const auto& w : warnings) fmt::print(stderr, "warning: {}\n", w);
      loaded.errors = delivery::checkPostmaster(*loaded.config, router);
    }
    for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.toString());
    if (!loaded.errors.empty()) {
      fmt::print(stderr, "petrel: {} error{} in {}\n", loaded.errors.size(),
                 loaded.errors.size() == 1 ? "" : "s", config_path);
      return 1;
    }
    fmt::print("petrel: configuration {} is valid\n", loaded.config->source_file);
    return 0;
  }
  if (cmd == "reload" && args.size() == 1) return control(config_path, "reload");
  if (cmd == "user" && args.size() == 3 &&
      (args[1] == "add" || args[1] == "passwd" || args[1] == "del")) {
    return userCommand(config_path, args[1], args[2]);
  }
  if (cmd == "route" && args.size() >= 2) return routeCommand(config_path, args);
  if (cmd == "policy" && args.size() >= 2 && args[1] == "test") {
    return policyTestCommand(config_path, args);
  }
  if (cmd == "spf" && args.size() >= 2 && args[1] == "check") {
    return spfCheckCommand(config_path, args);
  }
  if (cmd == "arc") return arcCommand(config_path, config_path == DefaultConfig, args);
  if (cmd == "sieve") return sieveCommand(args);
  if (cmd == "checks") return checksCommand(config_path, args);
  if (cmd == "dkim") return dkimCommand(config_path, config_path == DefaultConfig, args);
  if (cmd == "dmarc" && args.size() == 2 && args[1] == "send-reports") {
    return control(config_path, "dmarc-reports");
  }
  if (cmd == "dmarc" && args.size() >= 2 && args[1] == "check") {
    return dmarcCheckCommand(config_path, args);
  }
  if (cmd == "table" && args.size() == 4 && args[1] == "query") {
    return tableQueryCommand(config_path, args[2], args[3]);
  }
  if (cmd == "auth-test" && args.size() == 2) {
    return authTestCommand(config_path, args[1], "127.0.0.1");
  }
  if (cmd == "auth-test" && args.size() == 4 && args[2] == "--client-ip") {
    return authTestCommand(config_path, args[1], args[3]);
  }
  if (cmd == "queue" && args.size() >= 2) {
    const std::string& sub = args[1];
    if (sub == "list" && args.size() == 2) return control(config_path, "list");
    if (sub == "list" && args.size() == 3 && args[2] == "--json") {
      return control(config_path, "list-json");
    }
    if (sub == "flush" && args.size() == 2) return control(config_path, "flush");
    if (sub == "shape" && args.size() == 2) return control(config_path, "shape");
    if (sub == "shape" && args.size() == 3 && args[2] == "--json") {
      return control(config_path, "shape-json");
    }
    if ((sub == "show" || sub == "delete" || sub == "hold" || sub == "release" ||
         sub == "retry") &&
        args.size() == 3) {
      return control(config_path, sub + " " + args[2]);
    }
  }
  fmt::print(stderr, "{}", Usage);
  return 2;
}

}  // namespace petrel::cli
