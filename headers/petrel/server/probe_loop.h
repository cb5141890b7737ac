// ProbeLoop: a libuv loop of its own with a dispatcher, the config's resolver and a policy
// service client (the server's PolicyClient), for the command-line probes (`petrel policy
// test`, `petrel spf check`) that run the server's asynchronous checks once and wait for their
// answer. Torn down in the order resolver.h asks; every wait is bounded by the resolver's and
// the policy services' own timeouts.
#pragma once

#include <fmt/format.h>
#include <uv.h>

#include <memory>

#include "petrel/config/config.h"
#include "petrel/core/result.h"
#include "petrel/core/strings.h"
#include "petrel/dns/resolver.h"
#include "petrel/event/dispatcher.h"
#include "petrel/server/policy_client.h"

namespace petrel::server {

// What the probes print: a JSON string (quoted, escaped), and text from the network (records,
// DNS answers) with control characters shown as \xNN, so nothing reaches the terminal raw.
inline std::string probeJson(std::string_view s) { return "\"" + jsonEscape(s) + "\""; }
inline std::string probeText(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? fmt::format("\\x{:02x}", u) : std::string(1, c);
  }
  return out;
}

class ProbeLoop {
 public:
  ProbeLoop() {
    uv_loop_init(&loop_);
    dispatcher_ = std::make_unique<event::Dispatcher>(&loop_);
    policy_client_ = std::make_unique<PolicyClient>(&loop_);
  }
  ~ProbeLoop() {
    policy_client_->close();
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
  event::Dispatcher& dispatcher() { return *dispatcher_; }
  policy::PolicyServiceClient& policyClient() { return *policy_client_; }
  // Runs the loop until `done` says so.
  template <typename Done>
  void runUntil(Done done) {
    while (!done()) uv_run(&loop_, UV_RUN_ONCE);
  }

 private:
  uv_loop_t loop_{};
  std::unique_ptr<event::Dispatcher> dispatcher_;
  dns::ResolverPtr resolver_;
  std::unique_ptr<PolicyClient> policy_client_;  // its handles close in the destructor's runs
};

}  // namespace petrel::server
