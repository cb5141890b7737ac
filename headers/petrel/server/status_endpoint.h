// The status HTTP endpoint (status.address): its RequestServer, over TLS with status.tls, the
// login in front of it with status.login (server/status_login.h; /healthz stays open for
// monitoring), and the request parsing. `serve` answers the requests that got through.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>

#include "petrel/config/config.h"
#include "petrel/core/result.h"
#include "petrel/event/dispatcher.h"
#include "petrel/server/request_server.h"
#include "petrel/server/status_login.h"
#include "petrel/status/web.h"

namespace petrel::server {

class StatusEndpoint {
 public:
  using Serve = std::function<void(const status::HttpRequest& request,
                                   RequestServer::Respond respond)>;

  // Listens on cfg.status.address (which must be set). The login's password checks run on
  // `main`'s thread pool; `main` must outlive the endpoint.
  static Result<std::unique_ptr<StatusEndpoint>> start(uv_loop_t* loop, event::Dispatcher& main,
                                                       const config::Config& cfg, Serve serve);
  void close() { server_->close(); }

 private:
  StatusEndpoint(event::Dispatcher& main, std::string credentials_db, Serve serve);
  void handle(const std::string& head, RequestServer::Respond respond);

  event::Dispatcher& main_;
  std::string credentials_db_;
  Serve serve_;
  std::unique_ptr<StatusLogin> login_;
  std::unique_ptr<RequestServer> server_;
};

}  // namespace petrel::server
