// Private parts of server::RelayAgent shared by its files: the agent's settings, the per
// destination queue (Destination, Pending) and the declaration of RelayAgent::Connection, one
// outbound connection's state machine. relay_agent.cc keeps the agent's destination
// bookkeeping, relay_agent_connection.cc the connection's members. Only those files include it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "petrel/server/relay_agent.h"
#include "petrel/server/tls_stream.h"

namespace petrel::server {

struct RelayAgent::Settings {
  std::string hostname;
  std::optional<config::NextHop> relayhost;
  std::optional<config::Relay::Credentials> credentials;
  config::Relay::Timeouts timeouts;
  uint32_t concurrency = 20;
  uint64_t cache_time = 5;
  std::string ca_file;
};

namespace relay_agent_detail {

struct Pending {
  RelayJob job;
  RelayAgent::Done done;
  uint64_t queued_ms = 0;  // loop time of submit()
};

}  // namespace relay_agent_detail

struct RelayAgent::Destination {
  std::string key;
  uint32_t concurrency = 0;  // of the transport of its latest job (RelayTransport)
  std::deque<relay_agent_detail::Pending> waiting;
  std::vector<Connection*> idle;
  size_t connections = 0;
};

// One outbound connection: resolve, try each address, run jobs until idle too long.
class RelayAgent::Connection {
 public:
  Connection(RelayAgent& agent, Destination& dest, relay_agent_detail::Pending first);

  void start() { resolve(); }

  // An idle connection takes another job.
  void give(relay_agent_detail::Pending p);

  // The agent stops: the job in flight is deferred (it stays in the queue) and the connection
  // closes at once.
  void abort();

  // Ends an idle connection (cache time over, or the agent stops).
  void quitIdle();

  bool isIdle() const { return !current_ && session_ && session_->idle() && !closing_; }
  Destination* destination() const { return dest_; }

 private:
  enum class Stage { Resolving, Connecting, Session, Closed };
  struct Target {
    std::string name;  // MX host name (or the [host] name), for logs, SNI and verify
    std::string ip;
  };
  struct IoRequest {
    Connection* conn;
    uint64_t generation;
  };

  uint64_t now() const { return uv_now(agent_->loop_->loop()); }
  const RelayJob& job() const { return current_->job; }

  // ---- resolving ------------------------------------------------------------------------

  void resolve();

  void onMx(dns::Answer a);

  // A and AAAA of every host, all at once; targets in host order, IPv4 first.
  void resolveHosts(std::vector<std::string> hosts, bool implicit_mx);

  void onAddresses();

  // ---- connecting -----------------------------------------------------------------------

  void connectNext();

  void onConnect(int status);

  // This address failed before taking the job: try the next one.
  void hostFailed(std::string why);

  // ---- the session ----------------------------------------------------------------------

  void onRead(ssize_t nread, const uv_buf_t* buf);

  void startTls();

  void run(smtp::client::Actions actions);

  // Returns false when the session was dropped to try the next address.
  bool jobDone(smtp::client::JobResult r);

  void nextOrIdle();

  void report(RelayResult r);

  RelayResult deferredResult(const std::string& dsn, const std::string& why, bool host) const;

  // Routing or DNS decided for every recipient before any connection.
  void failAll(smtp::client::RecipientStatus status, const std::string& dsn,
               const std::string& why, bool host);

  // ---- I/O ------------------------------------------------------------------------------

  void write(std::string bytes);

  // The socket refused a write, at once or later.
  void writeFailed();

  void arm(uint64_t ms);

  void armForPhase();

  void onTimer();

  // The session of this address is over (to try another one); the timer stays.
  void dropSession();

  void closeTcp();

  void finish(bool host_failed);

  void handleClosed();

  RelayAgent* agent_;
  Destination* dest_;
  std::shared_ptr<const Settings> settings_;
  std::shared_ptr<dns::Resolver> resolver_;
  uv_timer_t* timer_;
  uv_tcp_t* tcp_ = nullptr;
  int open_handles_ = 0;
  uint64_t generation_ = 0;  // bumped when tcp_ closes: stale callbacks see the difference
  Stage stage_ = Stage::Resolving;
  bool closing_ = false;

  std::optional<relay_agent_detail::Pending> current_;
  uint64_t setup_done_ms_ = 0;       // when the current job's transaction began
  bool transaction_started_ = false;  // the current job has sent MAIL

  std::vector<dns::QueryHandlePtr> queries_;
  std::vector<std::string> hosts_;
  std::vector<dns::Answer> answers_;
  size_t answered_ = 0;
  bool implicit_mx_ = false;
  std::vector<Target> targets_;
  size_t attempt_ = 0;
  std::string relay_;
  RelayResult last_failure_;       // of the address tried last, reported when none is left
  std::optional<smtp::client::Outcome> failure_;  // the last job reported failed as a host: why

  std::unique_ptr<smtp::ClientSession> session_;
  // Plaintext, then TLS after STARTTLS; only a failed write is reported back.
  TlsStream stream_{{[] {}, [this](int) { writeFailed(); }}};
  bool tls_failed_ = false;
  bool no_tls_retry_ = false;
  bool delivered_any_ = false;  // a job got past the host stage on this connection
  bool host_failed_ = false;    // the last job failed as a host
};

}  // namespace petrel::server
