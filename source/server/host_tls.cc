// The host's certificates as one TLS server context.
#include "petrel/server/host_tls.h"

#include "petrel/log/mail_log.h"

namespace petrel::server {

Result<std::shared_ptr<tls::ServerContext>> hostTlsContext(const config::Config& cfg) {
  tls::ServerSettings ts;
  ts.min_version = cfg.tls.min_version;
  for (const auto& c : cfg.tls.certificates) ts.certificates.push_back({c.cert, c.key});
  if (ts.certificates.empty()) {
    // Quick start: a self-signed certificate, made once and kept in the state directory.
    std::string cert = cfg.state_dir + "/tls/self-signed.crt";
    std::string key = cfg.state_dir + "/tls/self-signed.key";
    if (auto st = tls::ensureSelfSigned(cfg.hostname, cert, key); !st) return st.error();
    ts.certificates.push_back({cert, key});
  }
  auto ctx = tls::ServerContext::create(ts);
  if (!ctx) return ctx.error();
  for (const auto& d : (*ctx)->describe()) log::mail::info(log::Program::Master, "TLS: " + d);
  return ctx;
}

}  // namespace petrel::server
