// PipeAgent: the pipe transport's delivery agent (Postfix's pipe(8); docs/pipe.md), an
// asynchronous DeliveryAgent on the main loop.
//
// prepare() (delivery job, thread pool) loads the message once, resolves the user the
// program runs as (getpwnam may wait for NSS) and bounces what size_limit refuses. deliver()
// (main loop) splits each delivery into runs (delivery/pipe_command.h), one process per run,
// one run of a delivery after the other: fork and execve with no shell, a clean environment
// and only fds 0-2, stdin fed a chunk at a time, stdout+stderr read into a bounded buffer,
// the exit seen through a pidfd and time_limit on a uv timer that kills the process group.
// It decides nothing about retries: its verdicts (pipeVerdict) go to the queue as reports.
#pragma once

#include <uv.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/delivery/agent.h"
#include "petrel/event/dispatcher.h"

namespace petrel::server {

class PipeAgent final : public delivery::DeliveryAgent {
 public:
  // `name`: the transport's name (the log's relay=); `main`: the main loop's dispatcher.
  PipeAgent(event::Dispatcher& main, std::string name, config::PipeTransportSettings settings);

  bool blocking() const override { return false; }
  void prepare(delivery::AgentMessage& message,
               const std::vector<delivery::Delivery*>& deliveries) const override;
  void deliver(const std::vector<delivery::Delivery*>& deliveries, Done done) override;
  // Kills the process groups of every pipe run of this process (also those of agents a
  // reload replaced) and defers their recipients (4.3.2); later deliveries defer at once.
  void stop() override;

  // Who the program runs as, resolved in prepare().
  struct Identity {
    bool change = false;  // setuid/setgid (Petrel is root)
    unsigned uid = 0;
    unsigned gid = 0;
    std::string name, home, shell;
  };

 private:
  Result<Identity> identity() const;

  event::Dispatcher* main_;
  uv_loop_t* loop_;
  std::string name_;
  std::shared_ptr<const config::PipeTransportSettings> settings_;
  mutable std::mutex mutex_;
  mutable std::optional<Identity> identity_;  // guarded by mutex_; looked up once
};

}  // namespace petrel::server
