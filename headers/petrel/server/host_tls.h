// The host's TLS server context: the configured tls.certificates, or the self-signed
// certificate made once into <state_dir>/tls/ for the quick start. The SMTP listeners and the
// status endpoint's HTTPS share it.
#pragma once

#include <memory>

#include "petrel/config/config.h"
#include "petrel/core/result.h"
#include "petrel/tls/tls.h"

namespace petrel::server {

// Errors are Config errors naming the file and what is wrong with it. Logs "TLS: ..." for
// each certificate.
Result<std::shared_ptr<tls::ServerContext>> hostTlsContext(const config::Config& cfg);

}  // namespace petrel::server
