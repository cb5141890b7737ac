// ServerContext: loads certificate chains and keys, builds one SSL_CTX per certificate, and
// picks one by SNI. Session resumption: tickets (the libraries' default, with their own ticket
// keys per context, so a reload invalidates outstanding tickets) and a server-side session
// cache for TLS 1.2 clients that do not take tickets.
//
// Not here: client certificates (never requested), OCSP stapling, DANE, ticket key sharing
// between processes.
#include "server_context.h"

#include <fmt/format.h>

#include <string_view>

namespace petrel::tls {

namespace detail {

namespace {

// Same for every SSL_CTX of a context: sessions must resume after SSL_set_SSL_CTX moved a
// connection to another certificate, and the library checks the session id context.
constexpr std::string_view SessionIdContext = "petrel-smtpd";
// Postfix's smtpd_tls_session_cache_timeout default.
constexpr long SessionTimeoutSeconds = 3600;

// Refuses to prompt on the terminal for an encrypted key's passphrase.
int noPassphrase(char*, int, int, void*) { return -1; }

int onServerName(SSL* ssl, int* /*alert*/, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  auto* self = static_cast<const ServerContextImpl*>(arg);
  if (SSL_CTX* ctx = self->ctxForName(normalizeName(name)); ctx != nullptr) {
    if (ctx != SSL_get_SSL_CTX(ssl)) {
      SSL_set_SSL_CTX(ssl, ctx);
    }
  }
  // Unknown names get the default certificate rather than a failed handshake: most SMTP
  // clients do not verify names, and for those that do a mismatch is their decision to make.
  return SSL_TLSEXT_ERR_OK;
}

struct Loaded {
  X509Ptr leaf;
  std::vector<X509Ptr> chain;
  PkeyPtr key;
};

Result<Loaded> loadFiles(const CertificateFiles& files) {
  Loaded out;
  auto cert_pem = readFile(files.cert);
  if (!cert_pem) {
    return cert_pem.error();
  }
  ERR_clear_error();
  BioPtr bio(BIO_new_mem_buf(cert_pem->data(), int(cert_pem->size())));
  out.leaf.reset(PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr));
  if (!out.leaf) {
    return Error::config(
        fmt::format("{}: no PEM certificate found ({})", files.cert, takeErrors("empty file")));
  }
  while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr)) {
    out.chain.emplace_back(extra);
  }
  // The loop ends with "no start line" at the end of the file; anything else is damage.
  auto last = ERR_peek_last_error();
  if (last != 0 && ERR_GET_REASON(last) != PEM_R_NO_START_LINE) {
    return Error::config(
        fmt::format("{}: bad certificate after the first one: {}", files.cert, takeErrors()));
  }
  ERR_clear_error();

  auto key_pem = readFile(files.key);
  if (!key_pem) {
    return key_pem.error();
  }
  if (key_pem->find("ENCRYPTED") != std::string::npos) {
    return Error::config(fmt::format(
        "{}: the private key is encrypted; Petrel needs it unencrypted (protect it with mode "
        "0600 instead)",
        files.key));
  }
  BioPtr key_bio(BIO_new_mem_buf(key_pem->data(), int(key_pem->size())));
  out.key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, noPassphrase, nullptr));
  if (!out.key) {
    return Error::config(
        fmt::format("{}: no usable PEM private key ({})", files.key, takeErrors("empty file")));
  }
  if (X509_check_private_key(out.leaf.get(), out.key.get()) != 1) {
    ERR_clear_error();
    return Error::config(fmt::format("{}: the private key does not match the certificate in {}",
                                     files.key, files.cert));
  }
  return out;
}

Result<SslCtxPtr> makeCtx(const CertificateFiles& files, Loaded& loaded, int min_version) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) {
    return Error::config(
        fmt::format("{}: cannot create a TLS context: {}", files.cert, takeErrors()));
  }
  SSL_CTX_set_min_proto_version(ctx.get(), min_version);
  // Renegotiation only serves attacks against an SMTP server; BoringSSL never allows it.
  SSL_CTX_set_options(ctx.get(), SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_timeout(ctx.get(), SessionTimeoutSeconds);
  SSL_CTX_set_session_id_context(ctx.get(),
                                 reinterpret_cast<const unsigned char*>(SessionIdContext.data()),
                                 unsigned(SessionIdContext.size()));
  if (SSL_CTX_use_certificate(ctx.get(), loaded.leaf.get()) != 1) {
    return Error::config(fmt::format("{}: certificate refused: {}", files.cert, takeErrors()));
  }
  for (const X509Ptr& extra : loaded.chain) {
    if (SSL_CTX_add1_chain_cert(ctx.get(), extra.get()) != 1) {
      return Error::config(
          fmt::format("{}: chain certificate refused: {}", files.cert, takeErrors()));
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), loaded.key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return Error::config(fmt::format("{}: private key refused: {}", files.key, takeErrors()));
  }
  return ctx;
}

}  // namespace

std::vector<std::string> ServerContextImpl::describe() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) {
    out.push_back(e.description);
  }
  return out;
}

SSL_CTX* ServerContextImpl::ctxForName(const std::string& sni) const {
  for (bool wildcards : {false, true}) {
    for (const Entry& e : entries_) {
      for (const std::string& name : e.names) {
        bool is_wildcard = name.size() > 2 && name[0] == '*';
        if (is_wildcard == wildcards && nameMatches(name, sni)) {
          return e.ctx.get();
        }
      }
    }
  }
  return nullptr;
}

}  // namespace detail

Result<std::shared_ptr<ServerContext>> ServerContext::create(const ServerSettings& settings) {
  using namespace detail;
  if (settings.certificates.empty()) {
    return Error::config("tls: no certificate configured");
  }
  auto min_version = parseVersion(settings.min_version);
  if (!min_version || (*min_version != TLS1_2_VERSION && *min_version != TLS1_3_VERSION)) {
    return Error::config(fmt::format("tls: min_version must be \"1.2\" or \"1.3\", not \"{}\"",
                                     settings.min_version));
  }
  std::vector<ServerContextImpl::Entry> entries;
  for (const CertificateFiles& files : settings.certificates) {
    auto loaded = loadFiles(files);
    if (!loaded) {
      return loaded.error();
    }
    auto ctx = makeCtx(files, *loaded, *min_version);
    if (!ctx) {
      return ctx.error();
    }
    ServerContextImpl::Entry e;
    e.ctx = std::move(ctx.value());
    e.names = certificateNames(loaded->leaf.get());
    e.description = fmt::format("CN={}, notAfter={}", commonName(loaded->leaf.get()),
                                notAfterText(loaded->leaf.get()));
    entries.push_back(std::move(e));
  }
  auto context = std::make_shared<ServerContextImpl>(std::move(entries));
  SSL_CTX* first = context->defaultCtx();
  SSL_CTX_set_tlsext_servername_callback(first, onServerName);
  SSL_CTX_set_tlsext_servername_arg(first, context.get());
  return std::shared_ptr<ServerContext>(std::move(context));
}

}  // namespace petrel::tls
