// `petrel doctor` and its periodic run in the server (docs/doctor.md): gathers what the pure
// checks (doctor/checks.h) decide on, for the host and each local domain.
//
// runDoctor() blocks: it runs its own loop for the DNS (ProbeLoop, over dns.servers, so the
// answers are the ones the server gets), and uses blocking sockets with timeouts for the
// listeners, the open-relay self-test and the table servers. The CLI calls it directly; the
// server's DoctorJob calls it on the thread pool, never on a loop. When no DNS server answers,
// the DNS checks are skipped (one failure says so) instead of waiting out every timeout.
//
// What it does not do: verify certificate chains, check DNSSEC, MTA-STS, TLSA/DANE, or
// blocklists that are not DNS lists; domains given only as a table (domains.local: "mysql:...")
// are checked only when named with --domain.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/doctor/checks.h"
#include "petrel/event/dispatcher.h"
#include "petrel/server/runtime.h"

namespace petrel::server {

struct DoctorOptions {
  std::string domain;  // --domain: only this domain's checks (the host's still run)
};

// Every check, in a fixed order: DNS servers, host, PTR, per domain (MX, SPF, DKIM, DMARC),
// DNS lists, certificates, listeners, the open-relay test, directories, table servers.
std::vector<doctor::Finding> runDoctor(const config::Config& cfg, const DoctorOptions& options);

// The parts runDoctor() uses that open sockets or files (doctor_probes.cc).
std::vector<doctor::Finding> doctorPortChecks(const config::Config& cfg);
doctor::Finding doctorRelayCheck(const config::Config& cfg,
                                 const std::vector<std::string>& our_addresses);
std::vector<doctor::Finding> doctorHostChecks(const config::Config& cfg, int64_t now);
std::vector<doctor::Finding> doctorTableChecks(const config::Config& cfg);

// The server's periodic run: the first shortly after start, then every doctor.interval, on
// the thread pool; the last results are kept for the Health page and /api/health. Lives on
// the main loop.
class DoctorJob {
 public:
  struct Last {
    int64_t time = 0;  // unix seconds the run finished; 0: none yet
    double seconds = 0;  // how long it took
    bool running = false;
    std::vector<doctor::Finding> findings;
  };

  DoctorJob(event::Dispatcher& main, Runtime& rt);
  ~DoctorJob();
  DoctorJob(const DoctorJob&) = delete;
  DoctorJob& operator=(const DoctorJob&) = delete;

  // Starts the timer (main loop): first run after `first_delay_ms`, then every interval
  // (none when doctor.interval is 0).
  void start(uint64_t first_delay_ms);
  // Stops the timer; a run in progress finishes on the pool (the loop waits for it).
  void stop();
  Last last() const;

 private:
  void run();

  event::Dispatcher& main_;
  Runtime& rt_;
  uv_timer_t* timer_ = nullptr;
  mutable std::mutex mutex_;
  Last last_;
};

}  // namespace petrel::server
