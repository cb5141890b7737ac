// ProbeLoop: a libuv loop of its own with a dispatcher and the config's resolver, for the
// command-line probes (`petrel policy test`, `petrel spf check`) that run the server's
// asynchronous checks once and wait for their answer. Torn down in the order resolver.h asks;
// every wait is bounded by the resolver's own timeouts.
#pragma once

#include <fmt/format.h>
#include <uv.h>

#include <memory>

#include "petrel/config/config.h"
#include "petrel/core/result.h"
#include "petrel/dns/resolver.h"
#include "petrel/event/dispatcher.h"

namespace petrel::server {

class ProbeLoop {
 public:
  ProbeLoop() {
    uv_loop_init(&loop_);
    dispatcher_ = std::make_unique<event::Dispatcher>(&loop_);
  }
  ~ProbeLoop() {
    resolver_.reset();
    uv_run(&loop_, UV_RUN_NOWAIT);
    dispatcher_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  ProbeLoop(const ProbeLoop&) = delete;
  ProbeLoop& operator=(const ProbeLoop&) = delete;

  Status start(const config::Config& cfg) {
    auto r = dns::Resolver::create(*dispatcher_, cfg.dns.servers);
    if (!r) return Error::config(fmt::format("dns: {}", r.error().message()));
    resolver_ = std::move(r.value());
    return okStatus();
  }
  dns::Resolver& resolver() { return *resolver_; }
  // Runs the loop until `done` says so.
  template <typename Done>
  void runUntil(Done done) {
    while (!done()) uv_run(&loop_, UV_RUN_ONCE);
  }

 private:
  uv_loop_t loop_{};
  std::unique_ptr<event::Dispatcher> dispatcher_;
  dns::ResolverPtr resolver_;
};

}  // namespace petrel::server
