// The control-socket client and the config loading that the subcommands share.
#include "command_support.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "petrel/server/config_checks.h"

namespace petrel::cli {

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

// Loads the config, printing its errors; nullopt when it has any.
std::optional<config::Config> loadOrReport(const std::string& config_path) {
  auto loaded = config::loadConfig(config_path, server::standardValidators());
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.toString());
    return std::nullopt;
  }
  return std::move(*loaded.config);
}

}  // namespace petrel::cli
