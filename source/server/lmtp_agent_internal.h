// Private parts of server::LmtpClient shared by its two files: the per destination queue
// (Destination, Pending) and LmtpClient::Connection, one LMTP connection's driver.
// lmtp_agent.cc keeps the nexthop parser, the agent and the pool's bookkeeping;
// lmtp_connection.cc the connection. Only those files include it.
#pragma once

#include <uv.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "petrel/server/lmtp_agent.h"

namespace petrel::server {

struct LmtpClient::Pending {
  Job job;
  Done done;
  uint64_t queued_ms = 0;  // loop time of submit()
};

struct LmtpClient::Destination {
  std::string key;
  std::deque<Pending> waiting;
  std::vector<Connection*> idle;
  size_t connections = 0;
};

// One connection: (find an inet name's addresses,) connect, run jobs until idle for the
// cache time. It deletes itself once its handles are closed, after telling the client
// (connectionEnded).
//
//   Resolving --> Connecting --connected--> Session --Close action / error / abort--> Closed
//   (inet names)   |  ^  refused, timeout: the next address (logged), and after the last one
//                  v  |  the job deferred 4.4.1, the destination's waiting jobs with it
//                 next address                                   -> Closed
class LmtpClient::Connection {
 public:
  Connection(LmtpClient& client, Destination& dest, Pending first);

  void start();
  // An idle connection takes another job (RSET, MAIL, ...).
  void give(Pending p);
  // The client stops: the job in flight is deferred (4.3.2) and the connection closes now.
  void abort();

  bool isIdle() const { return !current_ && session_ && session_->idle() && !closing_; }
  Destination* destination() const { return dest_; }

 private:
  enum class Stage { Resolving, Connecting, Session, Closed };
  struct Write;

  uint64_t now() const { return uv_now(client_->loop_->loop()); }
  const Job& job() const { return current_->job; }
  const config::LmtpTransportSettings& settings() const { return settings_->lmtp; }

  void resolve();
  void onResolved();
  void connectNext();
  void connectTo(const sockaddr* addr);
  void onConnect(int status);
  // One address failed: the next one, or connectFailed(why) after the last.
  void attemptFailed(const std::string& why);
  void connectFailed(const std::string& why);

  void onRead(ssize_t nread, const uv_buf_t* buf);
  void run(smtp::client::Actions actions);
  void jobDone(smtp::client::JobResult r);
  void nextOrIdle();
  void report(RelayResult r);
  RelayResult deferredResult(const std::string& dsn, const std::string& why) const;

  void write(std::string bytes);
  void arm(uint64_t seconds);
  void armForPhase();
  void onTimer();
  void closeStream();
  void finish();
  void handleClosed();

  LmtpClient* client_;
  Destination* dest_;
  std::shared_ptr<const Settings> settings_;  // of the first job: the connection's own
  LmtpDestination where_;
  uv_timer_t* timer_;
  uv_stream_t* stream_ = nullptr;  // a uv_pipe_t (unix) or uv_tcp_t (inet)
  int open_handles_ = 0;     // handles and posted calls; deleted at zero
  uint64_t generation_ = 0;  // bumped when the stream closes: late write callbacks see it
  Stage stage_ = Stage::Resolving;
  bool closing_ = false;
  std::string relay_;  // the log's relay=
  // An inet nexthop: its DNS lookups (A, AAAA), the addresses to try and the next one.
  std::shared_ptr<dns::Resolver> resolver_;
  std::vector<dns::QueryHandlePtr> queries_;
  dns::Answer answers_[2];
  int answered_ = 0;
  std::vector<std::string> targets_;
  size_t attempt_ = 0;

  std::optional<Pending> current_;
  uint64_t setup_done_ms_ = 0;        // when the current job's transaction began
  bool transaction_started_ = false;  // the current job has sent MAIL
  bool reused_ = false;               // the current job came to an idle connection (give())
  std::unique_ptr<smtp::ClientSession> session_;
  // The last job failed as a host (greeting, LHLO, lost connection): why, for the jobs behind.
  std::optional<smtp::client::Outcome> host_failure_;
};

}  // namespace petrel::server
