// Worker: one reactor thread with its own uv_loop, listening sockets (SO_REUSEPORT, so the
// kernel spreads connections across workers), the SMTP connections accepted on them, and the
// DNS resolver everything on the loop shares.
//
// The resolver is per loop, cache included, rather than one cache shared by all workers: the
// resolver and its cache are single-threaded by design (no lock on any lookup, in-flight
// lookups of the same name joined without crossing threads), and what sharing would save is
// small: each worker asks a popular name once per TTL instead of the process asking once, a
// few queries a minute to the recursive server, and the memory bound (4 MiB per cache) is far
// below what a worker's sessions use. The relay's resolver on the main loop is another one.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "petrel/core/result.h"
#include "petrel/dns/reloadable_resolver.h"
#include "petrel/event/dispatcher.h"
#include "petrel/server/policy_client.h"
#include "petrel/server/runtime.h"

namespace petrel::server {

class SmtpConnection;

class Worker {
 public:
  explicit Worker(Runtime& runtime);
  ~Worker();
  // Makes the resolver from cfg.dns.servers and binds every listener of the config (in this
  // thread), then runs the loop on a new thread. Errors (Config): a bad dns.servers entry, a
  // listener that cannot bind.
  Status start(const config::Config& cfg);
  // Stop accepting and ask every session to finish; `drained` runs on the worker thread when
  // no session is left.
  void drain(std::function<void()> drained);
  // Close every connection now (drain deadline passed) and stop the loop; joins the thread.
  // The resolver's sockets are closed in the loop's last turn.
  void stop();

  event::Dispatcher& dispatcher() { return *dispatcher_; }
  // The loop's resolver, for everything running on it (checks; SPF, DNSBL and DKIM next).
  // Use it on the worker thread only; the reference stays valid for the worker's life, and a
  // reload changes the servers behind it, not the reference. Valid once start() succeeded.
  dns::Resolver& resolver() { return *resolver_; }
  // Reload with other dns.servers: `next` (created with dispatcher(), from any thread) takes
  // over on the worker thread; queries already asked finish on the resolver they started on.
  void replaceResolver(dns::ResolverPtr next);
  // The loop's policy service client (check_policy_service), for everything running on it;
  // the worker thread only. Its connections close when the worker stops.
  policy::PolicyServiceClient& policyClient() { return *policy_client_; }
  uv_loop_t* loop() { return &loop_; }
  char* readBuffer() { return read_buffer_.data(); }
  size_t readBufferSize() const { return read_buffer_.size(); }
  void add(SmtpConnection* c) { connections_.insert(c); }
  void remove(SmtpConnection* c);

 private:
  static void onConnection(uv_stream_t* server, int status);
  void closeListeners();

  Runtime* rt_;
  uv_loop_t loop_;
  std::unique_ptr<event::Dispatcher> dispatcher_;
  std::unique_ptr<dns::ReloadableResolver> resolver_;  // after dispatcher_: dies before it
  std::unique_ptr<PolicyClient> policy_client_;
  std::vector<uv_tcp_t*> listeners_;
  std::unordered_set<SmtpConnection*> connections_;
  std::vector<char> read_buffer_;
  std::function<void()> drained_;
  bool draining_ = false;
  std::thread thread_;
};

// Parses "host:port" into a sockaddr (IPv4 or IPv6).
Status resolveEndpoint(const config::Endpoint& ep, sockaddr_storage& out);

}  // namespace petrel::server
