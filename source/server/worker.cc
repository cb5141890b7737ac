// Reactor threads: per-loop listeners with SO_REUSEPORT and the connections they accept.
#include "petrel/server/worker.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "petrel/log/mail_log.h"
#include "petrel/server/smtp_connection.h"

namespace petrel::server {

namespace {
// A listening socket and which configured listener it is.
struct ListenerHandle {
  uv_tcp_t tcp;
  Worker* worker;
  std::string name;
};
}  // namespace

Status resolveEndpoint(const config::Endpoint& ep, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (uv_ip4_addr(ep.host.c_str(), ep.port, reinterpret_cast<sockaddr_in*>(&out)) == 0) {
    return okStatus();
  }
  if (uv_ip6_addr(ep.host.c_str(), ep.port, reinterpret_cast<sockaddr_in6*>(&out)) == 0) {
    return okStatus();
  }
  return Error::config(fmt::format("{}: not a numeric IPv4/IPv6 address", ep.toString()));
}

Worker::Worker(Runtime& runtime) : rt_(&runtime), read_buffer_(64 * 1024) {
  uv_loop_init(&loop_);
  dispatcher_ = std::make_unique<event::Dispatcher>(&loop_);
  policy_client_ = std::make_unique<PolicyClient>(&loop_);
}

Worker::~Worker() {
  if (thread_.joinable()) stop();
}

Status Worker::start(const config::Config& cfg) {
  // Made here, once, so that no connection waits for it. The loop does not run yet, so this
  // thread is the only one touching it; the thread start below hands it over.
  auto resolver = dns::Resolver::create(*dispatcher_, cfg.dns.servers);
  if (!resolver) return Error::config(fmt::format("dns: {}", resolver.error().message()));
  resolver_ = std::make_unique<dns::ReloadableResolver>(std::move(resolver.value()));
  for (const auto& l : cfg.listeners) {
    sockaddr_storage addr;
    if (auto st = resolveEndpoint(l.address, addr); !st) return st;
    // libuv 1.44 has no UV_TCP_REUSEPORT: make the socket ourselves so every worker can bind
    // the same address and the kernel spreads connections over the loops.
    int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&addr),
               addr.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6)) != 0) {
      std::string why = std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return Error::config(
          fmt::format("listener {}: cannot bind {}: {}", l.name, l.address.toString(), why));
    }
    auto* handle = new ListenerHandle{{}, this, l.name};
    auto* tcp = &handle->tcp;
    uv_tcp_init(&loop_, tcp);
    uv_tcp_open(tcp, fd);
    tcp->data = handle;
    int rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 511, &Worker::onConnection);
    if (rc != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(tcp),
               [](uv_handle_t* h) { delete static_cast<ListenerHandle*>(h->data); });
      return Error::config(fmt::format("listener {}: cannot listen on {}: {}", l.name,
                                       l.address.toString(), uv_strerror(rc)));
    }
    listeners_.push_back(tcp);
  }
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  return okStatus();
}

void Worker::onConnection(uv_stream_t* server, int status) {
  auto* listener = static_cast<ListenerHandle*>(server->data);
  Worker* self = listener->worker;
  if (status < 0) {
    log::mail::warning(log::Program::Smtpd, fmt::format("accept: {}", uv_strerror(status)));
    return;
  }
  auto* client = new uv_tcp_t;
  uv_tcp_init(&self->loop_, client);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(client)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(client),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    return;
  }
  uv_tcp_nodelay(client, 1);
  (new SmtpConnection(*self, *self->rt_, client, listener->name))->start();
}

void Worker::closeListeners() {
  for (auto* l : listeners_) {
    uv_close(reinterpret_cast<uv_handle_t*>(l),
             [](uv_handle_t* h) { delete static_cast<ListenerHandle*>(h->data); });
  }
  listeners_.clear();
}

void Worker::drain(std::function<void()> drained) {
  dispatcher_->post([this, drained = std::move(drained)]() mutable {
    draining_ = true;
    drained_ = std::move(drained);
    closeListeners();
    std::vector<SmtpConnection*> all(connections_.begin(), connections_.end());
    for (auto* c : all) c->shutdown();
    if (connections_.empty() && drained_) {
      auto fn = std::move(drained_);
      drained_ = nullptr;
      fn();
    }
  });
}

void Worker::remove(SmtpConnection* c) {
  connections_.erase(c);
  if (draining_ && connections_.empty() && drained_) {
    auto fn = std::move(drained_);
    drained_ = nullptr;
    fn();
  }
}

void Worker::replaceResolver(dns::ResolverPtr next) {
  dispatcher_->post([this, next = std::shared_ptr<dns::Resolver>(std::move(next))]() mutable {
    resolver_->replace(std::move(next));
  });
}

void Worker::stop() {
  dispatcher_->post([this] {
    // Lookups whose sessions are gone may still be on the wire; closing the resolver now lets
    // their sockets and timers close in this same turn, before uv_run returns.
    if (resolver_) resolver_->close();
    policy_client_->close();
    uv_stop(&loop_);
  });
  if (thread_.joinable()) thread_.join();
  // Connections still open are dropped with the process; their messages were never
  // acknowledged, so nothing is lost. So are their lookups in flight: the resolver they
  // started on is kept alive by them, sockets included, until the process ends.
}

}  // namespace petrel::server
