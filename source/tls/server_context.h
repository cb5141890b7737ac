// Internal to source/tls/: the ServerContext implementation, which Engine::server needs to
// see (it creates each connection's SSL from the default SSL_CTX).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "petrel/tls/tls.h"
#include "ssl_helpers.h"

namespace petrel::tls::detail {

// One SSL_CTX per certificate, all configured alike. The first is the default and the one
// every connection starts with; its servername callback moves a connection to the SSL_CTX
// whose names match the client's SNI (SSL_set_SSL_CTX). Session caching (TLS 1.2 session ids)
// and ticket keys stay with the first SSL_CTX (the library keeps the original as the
// "session context"), so resumption works whichever certificate was chosen.
class ServerContextImpl final : public ServerContext {
 public:
  struct Entry {
    SslCtxPtr ctx;
    std::vector<std::string> names;  // normalized: SAN DNS names, then CN
    std::string description;
  };

  explicit ServerContextImpl(std::vector<Entry>&& entries) : entries_(std::move(entries)) {}

  std::vector<std::string> describe() const override;
  SSL_CTX* defaultCtx() const { return entries_.front().ctx.get(); }
  // The SSL_CTX for a client's SNI: exact names first, then wildcards, in configuration
  // order; nullptr when nothing matches (the connection keeps the default).
  SSL_CTX* ctxForName(const std::string& sni) const;

 private:
  std::vector<Entry> entries_;
};

}  // namespace petrel::tls::detail
