// `petrel` subcommands. The queue commands talk to the running server over its control
// socket (<state_dir>/control.sock, mode 0600), so they need the same --config.
#include "petrel/cli/cli.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/delivery/router.h"
#include "petrel/server/server.h"

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
  reload                   reload the configuration (like SIGHUP)
  version                  print the version

--config FILE defaults to /etc/petrel/petrel.yaml.
)";

// Sends one request line to the control socket and prints the answer.
int control(const std::string& config_path, const std::string& request) {
  auto loaded = config::loadConfig(config_path);
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
    auto loaded = config::loadConfig(config_path);
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
  if (cmd == "queue" && args.size() >= 2) {
    const std::string& sub = args[1];
    if (sub == "list" && args.size() == 2) return control(config_path, "list");
    if (sub == "list" && args.size() == 3 && args[2] == "--json") {
      return control(config_path, "list-json");
    }
    if (sub == "flush" && args.size() == 2) return control(config_path, "flush");
    if ((sub == "show" || sub == "delete" || sub == "hold" || sub == "release") &&
        args.size() == 3) {
      return control(config_path, sub + " " + args[2]);
    }
  }
  fmt::print(stderr, "{}", Usage);
  return 2;
}

}  // namespace petrel::cli
