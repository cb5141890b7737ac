// Server: the `petrel serve` process. Owns the main loop (signals, queue manager, control
// socket, status endpoint, table refresh) and the reactor workers.
//
// SIGTERM/SIGINT drain: listeners close, sessions finish their transaction and get 421,
// deliveries in flight complete, then the process exits 0 (bounded by DrainSeconds).
// SIGHUP reloads the config and tables; established sessions keep the rules they started with.
#pragma once

#include <string>

namespace petrel::server {

// Runs until drained; returns the process exit code.
int serve(const std::string& config_path);

}  // namespace petrel::server
