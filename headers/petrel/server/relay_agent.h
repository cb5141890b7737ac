// RelayAgent: the outbound SMTP delivery agent (Postfix's smtp(8) plus the per-destination
// part of qmgr), on one libuv loop.
//
// The queue manager hands it jobs: one message, one next hop, the recipients for that hop.
// Per next hop it keeps a destination: the jobs waiting, at most `destination_concurrency`
// connections, and idle connections that wait `connection_cache_time` for another job
// (connection reuse). A connection resolves the next hop (MX, then A/AAAA; docs/relay.md),
// tries the addresses in order until one takes the job, and drives an smtp::ClientSession
// over TCP and, after STARTTLS, a tls::Engine. Every job ends with exactly one RelayResult:
// an Outcome per recipient. When a connection fails as a host (nothing answers, every address
// refuses) the jobs queued behind it for the same destination fail with it instead of each
// waiting for its own timeouts.
//
// Everything runs on the agent's loop: submit(), configure() and the callbacks.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/dns/resolver.h"
#include "petrel/event/dispatcher.h"
#include "petrel/smtp/client_session.h"
#include "petrel/tls/tls.h"

namespace petrel::server {

// What a named smtp transport with settings of its own (transports: {amavis: {type: smtp,
// concurrency: 5, ...}}) changes for its jobs. Its destinations are its own: their
// connections are counted and reused apart from the relay's other mail to the same host.
struct RelayTransport {
  std::string name;               // empty: the relay's own mail (smtp, relay)
  uint32_t concurrency = 0;       // connections per destination; 0: destination_concurrency
  uint64_t data_done_timeout = 0;  // seconds for the end-of-DATA reply; 0: timeouts.data_done
};

struct RelayJob {
  std::string queue_id;  // for logs
  RelayTransport transport;
  config::NextHop hop;
  config::TlsPolicy tls = config::TlsPolicy::May;
  smtp::client::Job job;
  std::shared_ptr<const std::string> content;  // the message, CRLF lines, not dot-stuffed
  // Header fields sent before `content` (delivery::Delivery::top_fields: an ARC set), CRLF
  // lines; none starts with '.', so they need no dot-stuffing.
  std::string top_fields;
};

struct RelayResult {
  std::vector<smtp::client::Outcome> outcomes;  // one per job recipient, in job order
  std::string relay = "none";  // "mx.example.net[192.0.2.1]:25", or "none"
  double setup = 0;            // seconds before the transaction: waiting, DNS, connect, TLS
  double transmission = 0;     // seconds of the transaction itself
};

// Log and DSN text of one outcome, in Postfix's words: "250 2.0.0 Ok" for a delivery,
// "host mx[ip] said: 550 5.1.1 ... (in reply to RCPT TO command)" for a refusal, or our own
// detail ("connect to mx[ip]:25: Connection refused").
std::string describeOutcome(const smtp::client::Outcome& o, const std::string& relay);

class RelayAgent {
 public:
  using Done = std::function<void(RelayResult)>;

  // `resolver` lives on `loop`. configure() must be called before the first submit().
  RelayAgent(event::Dispatcher& loop, dns::ResolverPtr resolver);
  ~RelayAgent();

  // Settings from the config (on start and reload); connections already open keep theirs.
  void configure(const config::Config& cfg);
  // Replaces the resolver (reload with other dns.servers); lookups in flight keep the old one.
  void setResolver(dns::ResolverPtr resolver);
  // The resolver in use (the LMTP client looks up inet nexthops with it too).
  std::shared_ptr<dns::Resolver> resolver() const { return resolver_; }

  void submit(RelayJob job, Done done);
  // Shutdown: every job not finished gets its result now (waiting jobs an empty one, jobs in
  // flight "4.3.2 interrupted"; the caller keeps them queued), connections close, and `done`
  // runs once their handles are closed.
  void stop(std::function<void()> done);

  size_t connections() const;
  size_t waiting() const;

  struct Settings;
  class Connection;
  struct Destination;

 private:
  void startConnection(Destination& d);
  void connectionEnded(Connection* c, bool host_failed, const smtp::client::Outcome* why);
  void maybeStopped();

  event::Dispatcher* loop_;
  std::shared_ptr<dns::Resolver> resolver_;
  std::shared_ptr<const Settings> settings_;
  std::shared_ptr<tls::ClientSessionCache> tls_sessions_;
  std::map<std::string, std::unique_ptr<Destination>> destinations_;
  std::set<Connection*> all_;
  size_t connections_ = 0;
  bool stopping_ = false;
  std::function<void()> stopped_;
};

}  // namespace petrel::server
