// The LMTP delivery agent (RFC 2033; Postfix's lmtp(8)): hands mail to a local mail store
// such as Dovecot over `unix:/path` or `inet:host:port`, one reply per recipient.
//
// Two objects, because the config changes under a running pool:
//   LmtpClient  (one, owned by the QueueManager, main loop) the connections: per destination
//               (transport name and nexthop) the waiting jobs, at most `concurrency`
//               connections and the idle ones kept `connection_cache_time` for the next
//               message; each connection drives an smtp::ClientSession in LMTP mode (LHLO,
//               PIPELINING, one reply per accepted recipient after the dot, RSET before the
//               next message). stop() interrupts it for the queue's shutdown.
//   LmtpAgent   (one per `type: lmtp` transport and the built-in `lmtp`, remade on reload by
//               server/transport_agents.cc) the DeliveryAgent: prepare() loads the content in
//               the delivery job (shared with SmtpAgent), deliver() reads each nexthop and
//               submits one job per delivery with the transport's settings.
// An inet nexthop's host name is looked up in the hosts file, then with the queue's DNS
// resolver (A, then AAAA), and each address is tried in turn when a connection fails.
// Not here: TLS and AUTH over LMTP (a local socket needs neither), SMTP's MX logic (the
// nexthop is a socket), retries and bounces (the queue's).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/core/result.h"
#include "petrel/delivery/agent.h"
#include "petrel/dns/hosts.h"
#include "petrel/dns/resolver.h"
#include "petrel/event/dispatcher.h"
#include "petrel/server/relay_agent.h"
#include "petrel/smtp/client_session.h"

namespace petrel::server {

// Where an LMTP nexthop points, as Postfix's lmtp reads it: "unix:/path", "inet:host:port",
// "inet:[host]:port", "inet:host" (port 24, RFC 2033 6), or a bare "/path" or "host:port".
struct LmtpDestination {
  enum class Kind { Unix, Inet };
  Kind kind = Kind::Unix;
  std::string path;  // Unix: an absolute path
  std::string host;  // Inet: an address or a host name, without brackets
  uint16_t port = 24;
  bool operator==(const LmtpDestination&) const = default;
};
// A config error (Error::config) when the nexthop cannot be used: empty, a relative path
// (Postfix would read it under its queue directory; we have none), a bad port, control
// characters.
Result<LmtpDestination> parseLmtpNexthop(std::string_view nexthop);

// Where the addresses of an inet nexthop's host come from. Either may be null: no hosts
// file; no DNS (a name not in the hosts file is then not found).
struct LmtpNameService {
  std::function<std::shared_ptr<dns::Resolver>()> resolver;  // the queue's (dns.servers)
  std::function<std::shared_ptr<const dns::HostsFile>()> hosts;
};

// Addresses tried for one connection at most (Postfix's smtp_mx_address_limit is 5 per MX;
// an LMTP nexthop is one host).
inline constexpr size_t MaxLmtpAddresses = 10;

// The addresses to try for `host`, in order, before DNS: an address literal itself; else the
// hosts file's lines for the name (getaddrinfo's "files" source, so inet:localhost needs no
// DNS server). Empty: ask DNS.
std::vector<std::string> lmtpLocalAddresses(std::string_view host, const dns::HostsFile* hosts);
// The addresses to try from DNS: the A answer's, then the AAAA answer's, in the order the
// server sent them, each once, at most MaxLmtpAddresses. None is a temporary error in
// Postfix's words ("Host or domain name not found. Name service error for name=H type=A:
// Host not found[, try again]"): the nexthop is the admin's, so the mail waits.
Result<std::vector<std::string>> lmtpDnsAddresses(std::string_view host, const dns::Answer& a,
                                                  const dns::Answer& aaaa);

class LmtpClient {
 public:
  // The settings a job brings from its transport; a connection keeps those it started with.
  struct Settings {
    std::string hostname;  // our LHLO name, and the relay= name of a unix socket (Postfix)
    config::LmtpTransportSettings lmtp;
  };
  struct Job {
    std::string queue_id;  // for logs
    std::string key;       // the destination: transport name and nexthop
    LmtpDestination destination;
    std::shared_ptr<const Settings> settings;
    smtp::client::Job job;
    std::shared_ptr<const std::string> content;  // CRLF lines, not dot-stuffed
  };
  // RelayResult as for SMTP: one Outcome per recipient, relay "name[/path]" or
  // "host[ip]:port", setup and transmission times.
  using Done = std::function<void(RelayResult)>;

  explicit LmtpClient(event::Dispatcher& loop, LmtpNameService names = {});
  ~LmtpClient();

  // `done` runs exactly once on the loop, never inside submit().
  void submit(Job job, Done done);
  // Shutdown: waiting jobs get an empty result (nothing tried), jobs in flight "4.3.2
  // interrupted" (the queue keeps both), connections close; `done` runs once their handles are
  // closed. Later submits are answered at once with an empty result.
  void stop(std::function<void()> done);

  size_t connections() const { return connections_; }

  class Connection;
  struct Destination;
  struct Pending;

 private:
  friend class Connection;
  void startConnection(Destination& d);
  void connectionEnded(Connection* c, const smtp::client::Outcome* host_failure);
  void maybeStopped();

  event::Dispatcher* loop_;
  LmtpNameService names_;
  std::map<std::string, std::unique_ptr<Destination>> destinations_;
  std::set<Connection*> all_;
  size_t connections_ = 0;
  bool stopping_ = false;
  std::function<void()> stopped_;
};

class LmtpAgent final : public delivery::DeliveryAgent {
 public:
  // `client` outlives the agent (the QueueManager owns both ends).
  LmtpAgent(LmtpClient& client, std::string transport, std::shared_ptr<const LmtpClient::Settings> s)
      : client_(&client), transport_(std::move(transport)), settings_(std::move(s)) {}

  bool blocking() const override { return false; }
  void prepare(delivery::AgentMessage& message,
               const std::vector<delivery::Delivery*>& deliveries) const override;
  void deliver(const std::vector<delivery::Delivery*>& deliveries, Done done) override;

 private:
  LmtpClient* client_;
  std::string transport_;
  std::shared_ptr<const LmtpClient::Settings> settings_;
};

}  // namespace petrel::server
