// The status endpoint: TLS and the login in front of the pages (docs/dashboard.md, "Access").
#include "petrel/server/status_endpoint.h"

#include <fmt/format.h>
#include <uv.h>

#include <memory>

#include "petrel/log/mail_log.h"
#include "petrel/server/host_tls.h"

namespace petrel::server {
namespace {

// A user name from the request, for the log: at most 64 octets, control characters as '?', so
// no client can write a line of its own.
std::string loggable(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 64)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  return out;
}

}  // namespace

StatusEndpoint::StatusEndpoint(event::Dispatcher& main, std::string credentials_db, Serve serve)
    : main_(main), credentials_db_(std::move(credentials_db)), serve_(std::move(serve)) {}

Result<std::unique_ptr<StatusEndpoint>> StatusEndpoint::start(uv_loop_t* loop,
                                                              event::Dispatcher& main,
                                                              const config::Config& cfg,
                                                              Serve serve) {
  std::string db = cfg.auth.credentials_db.empty() ? cfg.state_dir + "/credentials.db"
                                                   : cfg.auth.credentials_db;
  std::unique_ptr<StatusEndpoint> self(new StatusEndpoint(main, std::move(db), std::move(serve)));
  StatusEndpoint* raw = self.get();
  if (cfg.status.login) {
    auto verify = [raw](auth::Credentials credentials,
                        std::function<void(Result<auth::Verdict>)> done) {
      auto result = std::make_shared<Result<auth::Verdict>>(auth::Verdict{});
      std::string user = credentials.authcid;
      raw->main_.offload(
          [db = raw->credentials_db_, credentials = std::move(credentials), result] {
            *result = auth::verifyAdmin(db, credentials);
          },
          [result, user, done = std::move(done)] {
            if (!*result) {
              log::mail::warning(log::Program::Master,
                                 fmt::format("status login: {}", result->error().message()));
            } else if (!(*result)->ok) {
              log::mail::warning(log::Program::Master,
                                 fmt::format("status login failed for {}: {}",
                                             loggable(user), (*result)->reason));
            }
            done(*result);
          });
    };
    raw->login_ = std::make_unique<StatusLogin>(
        std::move(verify), [loop] { return static_cast<uint64_t>(uv_now(loop)); });
  }
  raw->server_ = std::make_unique<RequestServer>(
      loop, "\r\n\r\n", 8192,
      [raw](const std::string& head, RequestServer::Respond respond) {
        raw->handle(head, std::move(respond));
      });
  if (cfg.status.tls) {
    auto ctx = hostTlsContext(cfg);
    if (!ctx) return ctx.error();
    raw->server_->useTls(std::move(ctx.value()));
  }
  if (auto st = raw->server_->listenTcp(*cfg.status.address); !st) return st.error();
  return self;
}

void StatusEndpoint::handle(const std::string& head, RequestServer::Respond respond) {
  auto parsed = status::parseHttpRequest(head);
  if (!parsed) {
    respond(httpResponse(400, "text/plain", "bad request\n"));
    return;
  }
  if (!login_ || parsed->path == "/healthz") {
    serve_(*parsed, respond);
    return;
  }
  login_->check(*parsed, [this, request = *parsed, respond](StatusLogin::Outcome outcome,
                                                            const std::string&) {
    if (outcome == StatusLogin::Outcome::Allowed) {
      serve_(request, respond);
    } else {
      respond(StatusLogin::response(outcome));
    }
  });
}

}  // namespace petrel::server
