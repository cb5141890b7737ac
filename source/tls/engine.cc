// Engine: one TLS connection over two memory BIOs, with no socket anywhere. The driver moves
// bytes; this class only turns ciphertext into plaintext and back.
//
//   feed(ciphertext) ─▶ read BIO ─▶ SSL ─▶ plaintext_   (takePlaintext)
//   write(plaintext) ─▶ pending_ until the handshake is done ─▶ SSL ─▶ write BIO (takeOutput)
//
// States:  Handshaking ──handshake done──▶ Open ──close_notify in──▶ PeerClosed
//               │                           │
//               └───────── any fatal error ─┴──▶ Failed (every later call returns the error)
// shutdown() queues close_notify (after pending data, once the handshake is done).
//
// Client side also: the per-CA-file SSL_CTX cache (loading the system bundle costs
// milliseconds, so it is done once per file and again only when the file changes),
// ClientSessionCache, and certificate verification. Verification always runs when a CA file
// could be loaded, so peerVerified() means something even when verify is off; only with
// verify on does a failure abort the handshake.
#include <fmt/format.h>
#include <sys/stat.h>

#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "server_context.h"
#include "ssl_helpers.h"

namespace petrel::tls {

namespace detail {

namespace {

constexpr size_t ReadChunk = 16 * 1024;
// SSL_write and BIO_write take int lengths.
constexpr size_t MaxChunk = 1 << 20;

class ClientSessionCacheImpl final : public ClientSessionCache {
 public:
  explicit ClientSessionCacheImpl(size_t max_entries) : max_(max_entries > 0 ? max_entries : 1) {}

  size_t size() const override {
    std::lock_guard lock(mutex_);
    return map_.size();
  }

  // A new reference to the stored session, or null when there is none worth offering.
  SessionPtr find(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end() || SSL_SESSION_is_resumable(it->second.session.get()) != 1) {
      return nullptr;
    }
    SSL_SESSION_up_ref(it->second.session.get());
    return SessionPtr(it->second.session.get());
  }

  void store(const std::string& key, SSL_SESSION* session) {
    SSL_SESSION_up_ref(session);
    SessionPtr owned(session);
    std::lock_guard lock(mutex_);
    if (auto it = map_.find(key); it != map_.end()) {
      order_.erase(it->second.position);
      map_.erase(it);
    }
    while (map_.size() >= max_) {
      map_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(key);
    map_.emplace(key, Slot{std::move(owned), std::prev(order_.end())});
  }

 private:
  struct Slot {
    SessionPtr session;
    std::list<std::string>::iterator position;
  };
  mutable std::mutex mutex_;
  size_t max_;
  std::list<std::string> order_;  // least recently stored first
  std::unordered_map<std::string, Slot> map_;
};

// An SSL_CTX for clients, with the CA file it was loaded from.
struct ClientCtx {
  SslCtxPtr ctx;
  std::string ca_error;  // why the CA file could not be used ("" when it was loaded)
  // Identity of the CA file when loaded; a change means a reload.
  bool existed = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{};

  bool sameFile(const std::string& ca_file) const {
    struct stat st {};
    if (ca_file.empty() || ::stat(ca_file.c_str(), &st) != 0) {
      return !existed;
    }
    return existed && st.st_dev == dev && st.st_ino == ino && st.st_size == size &&
           st.st_mtim.tv_sec == mtime.tv_sec && st.st_mtim.tv_nsec == mtime.tv_nsec;
  }
};

int onNewSession(SSL* ssl, SSL_SESSION* session);

Result<std::shared_ptr<const ClientCtx>> makeClientCtx(const std::string& ca_file) {
  auto out = std::make_shared<ClientCtx>();
  out->ctx.reset(SSL_CTX_new(TLS_method()));
  if (!out->ctx) {
    return Error::config(fmt::format("cannot create a TLS client context: {}", takeErrors()));
  }
  SSL_CTX* ctx = out->ctx.get();
  // Sessions go to ClientSessionCache through the callback, never to the library's own store.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, onNewSession);
  struct stat st {};
  if (ca_file.empty()) {
    out->ca_error = "no CA file configured";
  } else if (::stat(ca_file.c_str(), &st) != 0) {
    out->ca_error = fmt::format("{}: cannot read: {}", ca_file, std::strerror(errno));
  } else {
    out->existed = true;
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    out->size = st.st_size;
    out->mtime = st.st_mtim;
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
      out->ca_error = fmt::format("{}: cannot load CA certificates: {}", ca_file, takeErrors());
    }
  }
  return std::shared_ptr<const ClientCtx>(std::move(out));
}

// One SSL_CTX per CA file for the whole process (workers share it; SSL_CTX is thread-safe
// once configured).
Result<std::shared_ptr<const ClientCtx>> clientCtx(const std::string& ca_file) {
  static std::mutex mutex;
  // Never destroyed: freeing SSL_CTXs from a static destructor could run after OpenSSL's own
  // atexit cleanup.
  static auto* contexts = new std::map<std::string, std::shared_ptr<const ClientCtx>>;
  std::lock_guard lock(mutex);
  auto it = contexts->find(ca_file);
  if (it != contexts->end() && it->second->sameFile(ca_file)) {
    return it->second;
  }
  auto made = makeClientCtx(ca_file);
  if (made) {
    (*contexts)[ca_file] = *made;
  }
  return made;
}

class EngineImpl final : public Engine {
 public:
  EngineImpl(SslPtr ssl, bool is_server) : ssl_(std::move(ssl)), is_server_(is_server) {
    // Memory BIOs: an empty read BIO means "wait for more" (-1 = retry), never end of file.
    BIO* rbio = BIO_new(BIO_s_mem());
    BIO* wbio = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(rbio, -1);
    BIO_set_mem_eof_return(wbio, -1);
    SSL_set_bio(ssl_.get(), rbio, wbio);  // the SSL owns both from here on
    rbio_ = rbio;
    wbio_ = wbio;
    SSL_set_app_data(ssl_.get(), this);
    if (is_server) {
      SSL_set_accept_state(ssl_.get());
    } else {
      SSL_set_connect_state(ssl_.get());
    }
  }

  ~EngineImpl() override {
#ifndef OPENSSL_IS_BORINGSSL
    // OpenSSL drops the session from the cache (server) or marks it not resumable (client)
    // when SSL_free sees a connection that was not shut down. SMTP peers often just close
    // after QUIT; RFC 5246 7.2.1: since TLS 1.1 such a close no longer forbids resumption.
    // Only a connection that failed keeps that treatment.
    if (handshake_done_ && !failed_) {
      SSL_set_shutdown(ssl_.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    }
#endif
    SSL_set_app_data(ssl_.get(), nullptr);
    ssl_.reset();  // before the contexts it came from (members die in reverse order)
  }

  void holdServerContext(std::shared_ptr<ServerContext> context) {
    server_context_ = std::move(context);
  }

  // Client setup after construction (needs `this` registered as app data for the callbacks).
  Status startClient(const ClientSettings& settings, std::shared_ptr<const ClientCtx> ctx) {
    client_ctx_ = std::move(ctx);
    SSL* ssl = ssl_.get();
    verify_required_ = settings.verify;
    sni_ = normalizeName(settings.sni);
    bool ip = isIpLiteral(sni_);

    auto min = parseVersion(settings.min_version);
    auto max = settings.max_version.empty() ? std::optional<int>(TLS1_3_VERSION)
                                            : parseVersion(settings.max_version);
    if (!min || !max || *min > *max) {
      return Error::config(fmt::format("tls client: bad version range \"{}\"..\"{}\"",
                                       settings.min_version, settings.max_version));
    }
    SSL_set_min_proto_version(ssl, *min);
    SSL_set_max_proto_version(ssl, *max);
#ifndef OPENSSL_IS_BORINGSSL
    // OpenSSL 3 refuses TLS 1.0/1.1 above security level 0; a client that asks for them
    // explicitly (tests of legacy peers) gets them.
    if (*min < TLS1_2_VERSION) {
      SSL_set_security_level(ssl, 0);
    }
#endif
    if (!settings.session_tickets) {
      SSL_set_options(ssl, SSL_OP_NO_TICKET);
    }
    // RFC 6066 3: literal addresses are not sent as server names.
    if (!sni_.empty() && !ip && SSL_set_tlsext_host_name(ssl, sni_.c_str()) != 1) {
      return Error::config(
          fmt::format("tls client: bad server name \"{}\": {}", settings.sni, takeErrors()));
    }

    if (settings.verify && sni_.empty()) {
      return Error::config("tls client: verify needs a server name (sni)");
    }
    if (settings.verify && !client_ctx_->ca_error.empty()) {
      return Error::config(client_ctx_->ca_error);
    }
    if (!sni_.empty()) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      int set;
      if (ip) {
        std::string addr = sni_.front() == '[' ? sni_.substr(1, sni_.size() - 2) : sni_;
        set = X509_VERIFY_PARAM_set1_ip_asc(param, addr.c_str());
      } else {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        // BoringSSL refuses a length of 0 ("use strlen"); pass the real one everywhere.
        set = X509_VERIFY_PARAM_set1_host(param, sni_.data(), sni_.size());
      }
      if (set != 1) {
        return Error::config(fmt::format("tls client: cannot verify against \"{}\": {}",
                                         settings.sni, takeErrors()));
      }
    }
    SSL_set_verify(ssl, SSL_VERIFY_PEER, onVerify);

    if (settings.sessions) {
      sessions_ = std::dynamic_pointer_cast<ClientSessionCacheImpl>(settings.sessions);
      if (!sessions_) {
        return Error::config("tls client: sessions must come from ClientSessionCache::create");
      }
      session_key_ = fmt::format("{}\n{}", sni_, settings.verify ? settings.ca_file : "-");
      if (SessionPtr saved = sessions_->find(session_key_)) {
        SSL_set_session(ssl, saved.get());
      }
    }
    // The ClientHello goes out now.
    return advance();
  }

  Status feed(std::string_view ciphertext) override {
    if (failed_) {
      return *failed_;
    }
    if (peer_closed_) {
      return okStatus();  // nothing may follow close_notify; ignore it
    }
    while (!ciphertext.empty()) {
      size_t n = std::min(ciphertext.size(), MaxChunk);
      BIO_write(rbio_, ciphertext.data(), int(n));
      ciphertext.remove_prefix(n);
    }
    return advance();
  }

  std::string takeOutput() override {
    std::string out;
    size_t pending = BIO_ctrl_pending(wbio_);
    if (pending > 0) {
      out.resize(pending);
      int n = BIO_read(wbio_, out.data(), int(pending));
      out.resize(n > 0 ? size_t(n) : 0);
    }
    return out;
  }

  std::string takePlaintext() override { return std::exchange(plaintext_, {}); }

  Status write(std::string_view plaintext) override {
    if (failed_) {
      return *failed_;
    }
    if (shutdown_requested_) {
      return Error::permanent("TLS write after shutdown");
    }
    if (!handshake_done_) {
      pending_.append(plaintext);
      return okStatus();
    }
    return encrypt(plaintext);
  }

  void shutdown() override {
    if (shutdown_requested_) {
      return;
    }
    shutdown_requested_ = true;
    if (handshake_done_ && !failed_) {
      sendCloseNotify();
    }
  }

  bool handshakeDone() const override { return handshake_done_; }
  bool peerClosed() const override { return peer_closed_; }

  std::string version() const override {
    return handshake_done_ ? SSL_get_version(ssl_.get()) : "";
  }
  std::string cipher() const override {
    const SSL_CIPHER* c = handshake_done_ ? SSL_get_current_cipher(ssl_.get()) : nullptr;
    return c != nullptr ? SSL_CIPHER_get_name(c) : "";
  }
  int cipherBits() const override {
    const SSL_CIPHER* c = handshake_done_ ? SSL_get_current_cipher(ssl_.get()) : nullptr;
    return c != nullptr ? SSL_CIPHER_get_bits(c, nullptr) : 0;
  }
  std::string serverName() const override {
    const char* name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
    return name != nullptr ? name : "";
  }
  bool sessionReused() const override {
    return handshake_done_ && SSL_session_reused(ssl_.get()) == 1;
  }

  bool peerVerified() const override {
    if (is_server_ || !handshake_done_ || verify_error_ != X509_V_OK ||
        !client_ctx_->ca_error.empty()) {
      return false;
    }
    X509Ptr peer(SSL_get_peer_certificate(ssl_.get()));
    // A resumed session carries the verification result of its full handshake.
    return peer && SSL_get_verify_result(ssl_.get()) == X509_V_OK;
  }

  std::string verifyError() const override {
    if (is_server_) {
      return "client certificates are not requested";
    }
    if (!client_ctx_->ca_error.empty()) {
      return client_ctx_->ca_error;  // the root of every other complaint
    }
    if (verify_error_ != X509_V_OK) {
      return X509_verify_cert_error_string(verify_error_);
    }
    if (!handshake_done_) {
      return "handshake not done";
    }
    X509Ptr peer(SSL_get_peer_certificate(ssl_.get()));
    if (!peer) {
      return "no peer certificate";
    }
    long result = SSL_get_verify_result(ssl_.get());
    return result == X509_V_OK ? "" : X509_verify_cert_error_string(result);
  }

  std::string peerCommonName() const override {
    X509Ptr peer(SSL_get_peer_certificate(ssl_.get()));
    return peer ? commonName(peer.get()) : "";
  }

  // Library callbacks.
  static int onVerify(int ok, X509_STORE_CTX* store) {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* self = static_cast<EngineImpl*>(SSL_get_app_data(ssl));
    if (ok == 1 || self == nullptr) {
      return ok;
    }
    if (self->verify_error_ == X509_V_OK) {
      self->verify_error_ = X509_STORE_CTX_get_error(store);
    }
    return self->verify_required_ ? 0 : 1;
  }

  void rememberSession(SSL_SESSION* session) {
    if (sessions_ && !failed_) {
      sessions_->store(session_key_, session);
    }
  }

 private:
  Status fail(std::string message) {
    failed_ = Error::temporary(std::move(message));
    pending_.clear();
    return *failed_;
  }

  // Runs the handshake and reads whatever the read BIO holds.
  Status advance() {
    if (!handshake_done_) {
      ERR_clear_error();
      int r = SSL_do_handshake(ssl_.get());
      if (r != 1) {
        int err = SSL_get_error(ssl_.get(), r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          return okStatus();
        }
        std::string why = err == SSL_ERROR_ZERO_RETURN ? "peer closed the connection"
                                                       : takeErrors("connection broken");
        if (verify_error_ != X509_V_OK && verify_required_) {
          why += fmt::format(" ({})", X509_verify_cert_error_string(verify_error_));
        }
        return fail(fmt::format("TLS handshake failed: {}", why));
      }
      handshake_done_ = true;
#ifdef OPENSSL_IS_BORINGSSL
      // A BoringSSL server holds its TLS 1.3 NewSessionTickets back until its first write
      // (its tls13_server.cc: "do a zero-byte write if they wish to flush the tickets"). Send
      // them now, as OpenSSL does, so a client that hears nothing more can still resume.
      if (is_server_ && pending_.empty()) {
        ERR_clear_error();
        SSL_write(ssl_.get(), "", 0);
        ERR_clear_error();
      }
#endif
      if (!pending_.empty()) {
        std::string pending = std::exchange(pending_, {});
        if (Status st = encrypt(pending); !st) {
          return st;
        }
      }
      if (shutdown_requested_) {
        sendCloseNotify();
      }
    }
    char buf[ReadChunk];
    while (true) {
      ERR_clear_error();
      int r = SSL_read(ssl_.get(), buf, int(sizeof buf));
      if (r > 0) {
        plaintext_.append(buf, size_t(r));
        continue;
      }
      int err = SSL_get_error(ssl_.get(), r);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        return okStatus();
      }
      if (err == SSL_ERROR_ZERO_RETURN) {
        peer_closed_ = true;
        return okStatus();
      }
      return fail(fmt::format("TLS read failed: {}", takeErrors("connection broken")));
    }
  }

  Status encrypt(std::string_view plaintext) {
    while (!plaintext.empty()) {
      size_t n = std::min(plaintext.size(), MaxChunk);
      ERR_clear_error();
      int r = SSL_write(ssl_.get(), plaintext.data(), int(n));
      if (r <= 0) {
        return fail(fmt::format("TLS write failed: {}", takeErrors("connection broken")));
      }
      plaintext.remove_prefix(size_t(r));
    }
    return okStatus();
  }

  void sendCloseNotify() {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());  // 0 = sent, waiting for the peer's; nothing to wait for here
    ERR_clear_error();
  }

  SslPtr ssl_;
  BIO* rbio_ = nullptr;  // owned by ssl_
  BIO* wbio_ = nullptr;  // owned by ssl_
  bool is_server_;
  std::shared_ptr<ServerContext> server_context_;  // keeps the SSL_CTXs of a server alive
  std::shared_ptr<const ClientCtx> client_ctx_;
  std::shared_ptr<ClientSessionCacheImpl> sessions_;
  std::string session_key_;
  std::string sni_;
  bool verify_required_ = false;
  long verify_error_ = X509_V_OK;  // first failure the verify callback saw

  std::string pending_;    // plaintext written before the handshake finished
  std::string plaintext_;  // decrypted, not yet taken
  std::optional<Error> failed_;
  bool handshake_done_ = false;
  bool peer_closed_ = false;
  bool shutdown_requested_ = false;
};

int onNewSession(SSL* ssl, SSL_SESSION* session) {
  if (auto* self = static_cast<EngineImpl*>(SSL_get_app_data(ssl)); self != nullptr) {
    self->rememberSession(session);
  }
  return 0;  // the library keeps its reference; the cache took its own
}

}  // namespace

}  // namespace detail

std::shared_ptr<ClientSessionCache> ClientSessionCache::create(std::size_t max_entries) {
  return std::make_shared<detail::ClientSessionCacheImpl>(max_entries);
}

Result<std::unique_ptr<Engine>> Engine::server(std::shared_ptr<ServerContext> context) {
  using namespace detail;
  auto* impl = dynamic_cast<ServerContextImpl*>(context.get());
  if (impl == nullptr) {
    return Error::config("TLS server engine needs a context from ServerContext::create");
  }
  ERR_clear_error();
  SslPtr ssl(SSL_new(impl->defaultCtx()));
  if (!ssl) {
    return Error::temporary(fmt::format("cannot start TLS: {}", takeErrors()));
  }
  auto engine = std::make_unique<EngineImpl>(std::move(ssl), /*is_server=*/true);
  engine->holdServerContext(std::move(context));
  return std::unique_ptr<Engine>(std::move(engine));
}

Result<std::unique_ptr<Engine>> Engine::client(const ClientSettings& settings) {
  using namespace detail;
  auto ctx = clientCtx(settings.ca_file);
  if (!ctx) {
    return ctx.error();
  }
  ERR_clear_error();
  SslPtr ssl(SSL_new((*ctx)->ctx.get()));
  if (!ssl) {
    return Error::temporary(fmt::format("cannot start TLS: {}", takeErrors()));
  }
  auto engine = std::make_unique<EngineImpl>(std::move(ssl), /*is_server=*/false);
  if (Status st = engine->startClient(settings, std::move(ctx.value())); !st) {
    return st.error();
  }
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace petrel::tls
