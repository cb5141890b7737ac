// The parts of `petrel doctor` that touch sockets and files (headers/petrel/server/doctor.h):
// a connection to each listener, the open-relay self-test over the MX listener, the state and
// mail directories, and a TCP (or Unix socket) connection to each remote table's server.
// Blocking calls with timeouts: this runs in the CLI or on the thread pool, never on a loop.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "petrel/core/cidr.h"
#include "petrel/server/doctor.h"
#include "petrel/smtp/reply.h"

namespace petrel::server {

namespace {

using doctor::Finding;
using doctor::Verdict;

constexpr int ConnectTimeoutMs = 5000;
constexpr int ReplyTimeoutMs = 30000;

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int fd() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

std::string errnoText() { return std::strerror(errno); }

// Connects with a deadline; `source` (an IP literal, may be empty) is bound first.
Socket connectTo(const sockaddr* to, socklen_t to_len, const std::string& source,
                 std::string& error) {
  Socket s(::socket(to->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s.ok()) {
    error = "socket: " + errnoText();
    return {};
  }
  if (!source.empty()) {
    sockaddr_storage src{};
    socklen_t len = 0;
    if (to->sa_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&src);
      a->sin_family = AF_INET;
      len = inet_pton(AF_INET, source.c_str(), &a->sin_addr) == 1 ? sizeof *a : 0;
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&src);
      a->sin6_family = AF_INET6;
      len = inet_pton(AF_INET6, source.c_str(), &a->sin6_addr) == 1 ? sizeof *a : 0;
    }
    if (len == 0 || ::bind(s.fd(), reinterpret_cast<sockaddr*>(&src), len) != 0) {
      error = fmt::format("cannot use {} as the source address: {}", source,
                          len == 0 ? "another address family" : errnoText());
      return {};
    }
  }
  if (::connect(s.fd(), to, to_len) != 0 && errno != EINPROGRESS) {
    error = errnoText();
    return {};
  }
  pollfd p{s.fd(), POLLOUT, 0};
  int n = ::poll(&p, 1, ConnectTimeoutMs);
  int err = 0;
  socklen_t err_len = sizeof err;
  if (n <= 0) {
    error = n == 0 ? "connection timed out" : errnoText();
    return {};
  }
  if (::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &err_len) != 0 || err != 0) {
    error = std::strerror(err != 0 ? err : errno);
    return {};
  }
  return s;
}

Socket connectEndpoint(const std::string& host, uint16_t port, const std::string& source,
                       std::string& error) {
  sockaddr_storage to{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&to);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&to);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    // A table's host name: the system resolver (we are off any loop).
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
    if (rc != 0 || res == nullptr) {
      error = fmt::format("cannot resolve {}: {}", host, gai_strerror(rc));
      return {};
    }
    Socket s = connectTo(res->ai_addr, res->ai_addrlen, source, error);
    ::freeaddrinfo(res);
    return s;
  }
  return connectTo(reinterpret_cast<sockaddr*>(&to), len, source, error);
}

Socket connectUnix(const std::string& path, std::string& error) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) {
    error = "socket path too long";
    return {};
  }
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return connectTo(reinterpret_cast<sockaddr*>(&a), sizeof a, "", error);
}

// The address a listener bound to the wildcard is reached at.
std::string reachableHost(const config::Endpoint& e, const std::string& source) {
  if (e.host == "0.0.0.0") {
    return !source.empty() && source.find(':') == std::string::npos ? source : "127.0.0.1";
  }
  if (e.host == "::") {
    return !source.empty() && source.find(':') != std::string::npos ? source : "::1";
  }
  return e.host;
}

// One reply, waiting at most `timeout_ms` in all.
std::optional<smtp::Reply> readReply(int fd, smtp::ReplyReader& reader, int timeout_ms,
                                     std::string& error) {
  for (;;) {
    if (auto r = reader.next()) return r;
    if (reader.error()) {
      error = *reader.error();
      return std::nullopt;
    }
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, timeout_ms);
    if (n <= 0) {
      error = n == 0 ? "no reply in time" : errnoText();
      return std::nullopt;
    }
    char buf[4096];
    ssize_t got = ::recv(fd, buf, sizeof buf, 0);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) {
      error = got == 0 ? "the server closed the connection" : errnoText();
      return std::nullopt;
    }
    reader.feed(std::string_view(buf, size_t(got)));
  }
}

bool sendLine(int fd, const std::string& line, std::string& error) {
  std::string data = line + "\r\n";
  size_t off = 0;
  while (off < data.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, ReplyTimeoutMs) <= 0) {
      error = "cannot send";
      return false;
    }
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      error = errnoText();
      return false;
    }
    off += size_t(n);
  }
  return true;
}

std::string replyText(const smtp::Reply& r) {
  std::string text = r.lines.empty() ? "" : r.lines.front();
  return r.enhanced.empty() ? fmt::format("{} {}", r.code, text)
                            : fmt::format("{} {} {}", r.code, r.enhanced, text);
}

int greetingWaitMs(const config::Config& cfg, const config::Listener& l) {
  return int(l.greet_pause.value_or(cfg.smtp.greet_pause) * 1000) + ReplyTimeoutMs;
}

// The listener mail from the Internet arrives on: no implicit TLS, no required TLS or AUTH;
// port 25 first.
const config::Listener* mxListener(const config::Config& cfg) {
  const config::Listener* best = nullptr;
  for (const auto& l : cfg.listeners) {
    if (l.tls == config::TlsMode::Implicit || l.tls == config::TlsMode::Required ||
        l.auth == config::AuthMode::Required) {
      continue;
    }
    if (best == nullptr || (l.address.port == 25 && best->address.port != 25)) best = &l;
  }
  return best;
}

// An outside domain for the relay test's addresses (RFC 2606 names) that is not ours.
std::string outsideDomain(const config::Config& cfg, int skip) {
  for (const char* d : {"example.net", "example.com", "example.org", "example.edu"}) {
    auto ours = [&](const std::vector<std::string>& v) {
      return std::find(v.begin(), v.end(), d) != v.end();
    };
    if (ours(cfg.local_domains) || ours(cfg.relay_domains) || d == cfg.hostname) continue;
    if (skip-- == 0) return d;
  }
  return "relay-test.invalid";
}

doctor::RelayProbe::Inside insideMynetworks(const config::Config& cfg, const std::string& ip) {
  using I = doctor::RelayProbe::Inside;
  if (cfg.relay.mynetworks_table) return I::Unknown;
  for (const auto& n : cfg.relay.mynetworks) {
    auto cidr = Cidr::parse(n);
    if (cidr && cidr->contains(ip)) return I::Yes;
  }
  return I::No;
}

std::string localAddress(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  char buf[INET6_ADDRSTRLEN] = "";
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "";
  if (a.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&a)->sin_addr, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&a)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

doctor::DirectoryState directoryState(const std::string& path) {
  doctor::DirectoryState s;
  std::error_code ec;
  s.exists = std::filesystem::is_directory(path, ec);
  if (!s.exists) {
    s.error = ec ? ec.message() : "not a directory";
    return s;
  }
  // access(2) is not enough (root, read-only mounts): create a file and remove it.
  std::string probe = path + "/.petrel-doctor-XXXXXX";
  int fd = ::mkstemp(probe.data());
  if (fd < 0) {
    s.error = errnoText();
  } else {
    s.writable = true;
    ::close(fd);
    ::unlink(probe.c_str());
  }
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) == 0) {
    s.space_known = true;
    s.total_bytes = uint64_t(st.f_blocks) * st.f_frsize;
    s.free_bytes = uint64_t(st.f_bavail) * st.f_frsize;
  }
  return s;
}

std::string option(const config::TableSpec& t, const std::string& key, std::string fallback) {
  auto it = t.options.find(key);
  return it == t.options.end() || it->second.empty() ? fallback : it->second;
}

}  // namespace

std::vector<Finding> doctorPortChecks(const config::Config& cfg) {
  std::vector<Finding> out;
  for (const auto& l : cfg.listeners) {
    doctor::PortState state;
    std::string host = reachableHost(l.address, "");
    Socket s = connectEndpoint(host, l.address.port, "", state.error);
    state.connected = s.ok();
    if (s.ok() && l.tls == config::TlsMode::Implicit) {
      state.error = "accepts connections (implicit TLS: the greeting is not read)";
    } else if (s.ok()) {
      smtp::ReplyReader reader;
      if (auto r = readReply(s.fd(), reader, greetingWaitMs(cfg, l), state.error)) {
        state.greeting_code = r->code;
        state.greeting = r->lines.empty() ? "" : r->lines.front();
        std::string ignored;
        sendLine(s.fd(), "QUIT", ignored);
        readReply(s.fd(), reader, 2000, ignored);
      } else {
        state.connected = false;
        state.error = "connected, but no greeting: " + state.error;
      }
    }
    out.push_back(doctor::checkPort(l.name, l.address.toString(), state));
  }
  return out;
}

Finding doctorRelayCheck(const config::Config& cfg, const std::vector<std::string>& ours) {
  const config::Listener* l = mxListener(cfg);
  if (l == nullptr) {
    return {"open-relay", "listeners", Verdict::Pass,
            "no listener takes mail without TLS or AUTH required: nothing to test", ""};
  }
  doctor::RelayProbe p;
  p.listener = l->name;
  p.address = l->address.toString();
  p.source = cfg.doctor.relay_test_source;
  if (p.source.empty()) {
    for (const auto& a : ours) {
      bool v6 = a.find(':') != std::string::npos;
      bool listener_v6 = l->address.host.find(':') != std::string::npos;
      if (v6 == listener_v6 && insideMynetworks(cfg, a) == doctor::RelayProbe::Inside::No) {
        p.source = a;
        break;
      }
    }
  }
  std::string source = p.source;
  Socket s = connectEndpoint(reachableHost(l->address, source), l->address.port, source, p.error);
  if (!s.ok() && !source.empty() && cfg.doctor.relay_test_source.empty()) {
    // The host's own public address may not be usable from here (NAT): the system's choice.
    p.error.clear();
    s = connectEndpoint(reachableHost(l->address, ""), l->address.port, "", p.error);
  }
  if (!s.ok()) return doctor::checkOpenRelay(p);
  p.connected = true;
  p.source = localAddress(s.fd());
  p.inside_mynetworks = insideMynetworks(cfg, p.source);
  p.sender = "doctor-probe@" + outsideDomain(cfg, 0);
  p.recipient = "relay-test@" + outsideDomain(cfg, 1);
  smtp::ReplyReader reader;
  std::string err;
  auto step = [&](const std::string& line, std::optional<int>& code, std::string& text) {
    if (!sendLine(s.fd(), line, err)) return false;
    auto r = readReply(s.fd(), reader, ReplyTimeoutMs, err);
    if (!r) return false;
    code = r->code;
    text = replyText(*r);
    return r->code < 400;
  };
  auto greeting = readReply(s.fd(), reader, greetingWaitMs(cfg, *l), err);
  if (!greeting || greeting->code != 220) {
    p.error = greeting ? "greeting " + replyText(*greeting) : err;
    return doctor::checkOpenRelay(p);
  }
  bool ok = step(fmt::format("EHLO {}", outsideDomain(cfg, 0)), p.ehlo_code, p.ehlo_reply) &&
            step(fmt::format("MAIL FROM:<{}>", p.sender), p.mail_code, p.mail_reply);
  if (ok) step(fmt::format("RCPT TO:<{}>", p.recipient), p.rcpt_code, p.rcpt_reply);
  if (!err.empty()) p.error = err;
  std::string ignored;
  // Never DATA: an accepted recipient is dropped with the transaction.
  if (sendLine(s.fd(), "RSET", ignored)) readReply(s.fd(), reader, 2000, ignored);
  if (sendLine(s.fd(), "QUIT", ignored)) readReply(s.fd(), reader, 2000, ignored);
  return doctor::checkOpenRelay(p);
}

std::vector<Finding> doctorHostChecks(const config::Config& cfg, int64_t) {
  std::vector<Finding> out;
  for (const auto& [what, path] : {std::pair<std::string, std::string>{"state_dir", cfg.state_dir},
                                   {"mail_root", cfg.mail_root}}) {
    out.push_back(
        doctor::checkDirectory(what, path, directoryState(path), cfg.doctor.min_free_space));
  }
  return out;
}

std::vector<Finding> doctorTableChecks(const config::Config& cfg) {
  std::vector<Finding> out;
  for (const auto& [name, t] : cfg.tables) {
    std::string error, where;
    Socket s;
    if (t.type == "pgsql") {
      std::string host = option(t, "host", "/var/run/postgresql");
      std::string port = option(t, "port", "5432");
      if (host.starts_with("/")) {
        where = fmt::format("{}/.s.PGSQL.{}", host, port);
        s = connectUnix(where, error);
      } else {
        where = fmt::format("{}:{}", host, port);
        s = connectEndpoint(host, uint16_t(std::atoi(port.c_str())), "", error);
      }
    } else if (t.type == "mysql") {
      std::string host = option(t, "host", "localhost");
      std::string socket = option(t, "socket", "");
      if (host == "localhost") {
        where = socket.empty() ? "/run/mysqld/mysqld.sock" : socket;
        s = connectUnix(where, error);
      } else {
        std::string port = option(t, "port", "3306");
        where = fmt::format("{}:{}", host, port);
        s = connectEndpoint(host, uint16_t(std::atoi(port.c_str())), "", error);
      }
    } else if (t.type == "ldap") {
      // The first URI: ldap://host[:port], ldaps://host[:port] or ldapi://<socket path>.
      std::string uri = option(t, "uri", "ldap://localhost");
      uri = uri.substr(0, uri.find_first_of(" ,"));
      size_t scheme_end = uri.find("://");
      std::string scheme = scheme_end == std::string::npos ? "ldap" : uri.substr(0, scheme_end);
      std::string rest = scheme_end == std::string::npos ? uri : uri.substr(scheme_end + 3);
      rest = rest.substr(0, rest.find('/'));
      if (scheme == "ldapi") {
        where = rest.empty() ? "/var/run/ldapi" : rest;
        for (size_t at = where.find('%'); at != std::string::npos; at = where.find('%', at)) {
          if (where.compare(at, 3, "%2F") == 0 || where.compare(at, 3, "%2f") == 0) {
            where.replace(at, 3, "/");
          } else {
            ++at;
          }
        }
        s = connectUnix(where, error);
      } else {
        std::string host = rest.empty() ? "localhost" : rest;
        std::string port = scheme == "ldaps" ? "636" : "389";
        if (host.starts_with("[")) {
          size_t close = host.find(']');
          if (close != std::string::npos && close + 1 < host.size() && host[close + 1] == ':') {
            port = host.substr(close + 2);
          }
          host = host.substr(1, close == std::string::npos ? std::string::npos : close - 1);
        } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
          port = host.substr(colon + 1);
          host = host.substr(0, colon);
        }
        where = fmt::format("{}:{}", host, port);
        s = connectEndpoint(host, uint16_t(std::atoi(port.c_str())), "", error);
      }
    } else {
      continue;
    }
    out.push_back(doctor::checkTableServer(name, t.type, where, s.ok(), error));
  }
  return out;
}

}  // namespace petrel::server
