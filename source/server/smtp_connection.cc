// Session driver, the connection half: SMTP actions -> libuv writes, TLS, timers, AUTH and the
// mail log; the transaction half (verdicts, content pass, commit) is in
// smtp_connection_transaction.cc.
#include "petrel/server/smtp_connection.h"

#include <fmt/format.h>
#include <time.h>

#include <deque>
#include <tuple>

#include "petrel/core/strings.h"
#include "petrel/log/mail_log.h"
#include "petrel/server/content_stages.h"
#include "petrel/server/queue_manager.h"
#include "petrel/server/stage_check.h"
#include "petrel/server/worker.h"

namespace petrel::server {

namespace {

constexpr size_t MaxPendingOutput = 256 * 1024;

// How long the greeting may wait for the client's name (PTR and forward lookups together);
// past it the client is "unknown" with a temporary failure, as when the DNS does not answer.
constexpr uint64_t PeernameLookupTimeoutMs = 5000;

// The address and port of one end of the connection: "192.0.2.1", 25; "unknown", 0 on error.
std::pair<std::string, uint16_t> endpoint(uv_tcp_t* tcp, bool peer) {
  sockaddr_storage ss{};
  int len = sizeof ss;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  if ((peer ? uv_tcp_getpeername(tcp, sa, &len) : uv_tcp_getsockname(tcp, sa, &len)) != 0) {
    return {"unknown", 0};
  }
  char ip[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    uv_ip4_name(in, ip, sizeof ip);
    return {ip, ntohs(in->sin_port)};
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  uv_ip6_name(in6, ip, sizeof ip);
  return {ip, ntohs(in6->sin6_port)};
}

int64_t monotonicMs(uv_loop_t* loop) { return int64_t(uv_now(loop)); }

smtp::SessionSettings sessionSettings(const config::Config& cfg, const config::Listener& l,
                                      bool auth_available) {
  smtp::SessionSettings s;
  s.hostname = cfg.hostname;
  s.banner = cfg.smtp.banner.empty() ? fmt::format("{} ESMTP Petrel", cfg.hostname)
                                     : cfg.smtp.banner;
  s.max_message_size = cfg.limits.message_size;
  s.max_recipients = cfg.limits.recipients_per_message;
  s.max_command_line = cfg.limits.command_line_length;
  s.max_text_line = cfg.limits.text_line_length;
  s.max_errors = cfg.limits.errors_per_session;
  s.vrfy = cfg.smtp.vrfy;
  s.normalize_bare_line_endings = cfg.smtp.bare_line_endings == config::BareLineEnding::Normalize;
  s.starttls = l.tls == config::TlsMode::Optional || l.tls == config::TlsMode::Required;
  s.tls_required = l.tls == config::TlsMode::Required;
  s.implicit_tls = l.tls == config::TlsMode::Implicit;
  s.auth = l.auth != config::AuthMode::None && auth_available;
  s.auth_required = l.auth == config::AuthMode::Required;
  s.auth_plaintext = l.auth_plaintext;
  s.auth_mechanisms = cfg.auth.mechanisms;
  return s;
}

}  // namespace

SmtpConnection::SmtpConnection(Worker& worker, Runtime& runtime, uv_tcp_t* client,
                               const std::string& listener)
    : worker_(&worker), rt_(&runtime), snap_(runtime.snapshot()), tcp_(client),
      timer_(new uv_timer_t) {
  for (const auto& l : snap_.config->listeners) {
    if (l.name == listener) listener_ = &l;
  }
  // A reload may have renamed the listener this socket was opened for: keep its old rules.
  static const config::Listener fallback;
  if (listener_ == nullptr) listener_ = &fallback;
  tcp_->data = this;
  stream_.attach(reinterpret_cast<uv_stream_t*>(tcp_));
  services_.offload = [dispatcher = &worker.dispatcher()](std::function<void()> work,
                                                          std::function<void()> done) {
    dispatcher->offload(std::move(work), std::move(done));
  };
  services_.resolver = &worker.resolver();
  services_.policy_client = &worker.policyClient();
  uv_timer_init(worker.loop(), timer_);
  timer_->data = this;
  open_handles_ = 2;
  std::tie(client_ip_, client_facts_.client_port) = endpoint(tcp_, true);
  std::tie(client_facts_.server_address, client_facts_.server_port) = endpoint(tcp_, false);
  client_facts_.listener = listener_->name;
  // No name yet (start() looks it up): Postfix's notation for that.
  client_ = fmt::format("unknown[{}]", client_ip_);
  session_start_ms_ = monotonicMs(worker.loop());
  worker_->add(this);
}

SmtpConnection::~SmtpConnection() { worker_->remove(this); }

void SmtpConnection::start() {
  const auto& cfg = *snap_.config;
  rt_->metrics.connections_total++;
  rt_->metrics.connections_active++;
  std::string why;
  if (rt_->limiter.tryAcquire(client_ip_, cfg.limits.connections,
                              cfg.limits.connections_per_client, why)) {
    counted_ = true;
  } else {
    connect_refusal_ = smtp::Reply(421, "4.7.0", fmt::format("{} Error: {}", cfg.hostname, why));
    log::mail::warning(log::Program::Smtpd, fmt::format("{}: {}", client_, why));
    rt_->metrics.countRejection("CONNECT", 421, "4.7.0");
  }
  // The greeting waits for the client's name (Postfix does the same), bounded by a timer of
  // its own whatever the resolver's timeouts are. A refused client is not worth the queries.
  if (cfg.smtp.peername_lookup && !connect_refusal_) {
    name_lookup_ = ClientNameLookup::start(worker_->resolver(), client_ip_,
                                           [this](ClientName name) { named(std::move(name)); });
    if (name_lookup_) {
      uv_timer_start(
          timer_,
          [](uv_timer_t* t) {
            ClientName timed_out;
            timed_out.status = policy::ClientFacts::NameStatus::TempFail;
            static_cast<SmtpConnection*>(t->data)->named(std::move(timed_out));
          },
          PeernameLookupTimeoutMs, 0);
      return;
    }
  }
  greet();
}

// The name lookup answered (or its timer fired): record the name, then greet.
void SmtpConnection::named(ClientName name) {
  if (closing_) return;
  uv_timer_stop(timer_);
  name_lookup_.reset();  // may be the caller: nothing of it runs after this callback returns
  if (!name.warning.empty()) {
    log::mail::warning(log::Program::Smtpd, name.warning);
  }
  client_facts_.client_name = std::move(name.client_name);
  client_facts_.reverse_client_name = std::move(name.reverse_client_name);
  client_facts_.client_name_status = name.status;
  client_ = fmt::format("{}[{}]", client_facts_.client_name, client_ip_);
  greet();
}

void SmtpConnection::greet() {
  const auto& cfg = *snap_.config;
  log::mail::connect(client_);
  smtp::SessionSettings settings = sessionSettings(cfg, *listener_, snap_.authenticator != nullptr);
  settings.verdict_stages = verdictStages(snap_, *listener_);
  session_ = std::make_unique<smtp::ServerSession>(std::move(settings));
  if (listener_->tls == config::TlsMode::Implicit && !connect_refusal_) startTls();
  run(session_->start(connect_refusal_));
  if (!closing_ && shutdown_pending_) run(session_->onShutdown());
  if (!closing_) {
    updateReading();
    armTimer();
  }
}

void SmtpConnection::shutdown() {
  if (closing_) return;
  if (!session_) {
    shutdown_pending_ = true;  // still looking up the client's name: 421 right after greeting
    return;
  }
  run(session_->onShutdown());
}

void SmtpConnection::run(smtp::Actions actions) {
  std::deque<smtp::Action> queue(std::make_move_iterator(actions.begin()),
                                 std::make_move_iterator(actions.end()));
  while (!queue.empty()) {
    smtp::Action action = std::move(queue.front());
    queue.pop_front();
    auto more = [&](smtp::Actions next) {
      for (auto& a : next) queue.push_back(std::move(a));
    };
    if (auto* send = std::get_if<smtp::Send>(&action)) {
      out_ += send->bytes;
    } else if (std::holds_alternative<smtp::Close>(action)) {
      flushWrites();
      stream_.shutdownTls();
      closing_ = true;
      if (!stream_.writing()) closeNow();
      return;
    } else if (auto* ask = std::get_if<smtp::AskVerdict>(&action)) {
      if (auto verdict = askVerdict(*ask)) more(session_->onVerdict(std::move(*verdict)));
    } else if (std::holds_alternative<smtp::StartMessage>(action)) {
      startMessage();
      more(session_->onMessageStarted(*chain_));
    } else if (auto* c = std::get_if<smtp::CommitMessage>(&action)) {
      commit(std::move(c->envelope));
    } else if (std::holds_alternative<smtp::AbortMessage>(action)) {
      chain_.reset();
      content_end_.reset();
      tx_actions_.clear();
      if (store_) {
        store_->abort();
        store_.reset();
      }
    } else if (std::holds_alternative<smtp::StartTls>(action)) {
      flushWrites();  // the 220 goes out in plaintext
      startTls();
    } else if (auto* a = std::get_if<smtp::Authenticate>(&action)) {
      authenticate(std::move(*a));
    } else if (auto* r = std::get_if<smtp::Rejected>(&action)) {
      log::mail::reject(r->logStage(), client_, r->reply.oneLine(), r->from, r->to, protocol(),
                        session_->helo());
      rt_->metrics.countRejection(std::string(r->logStage()), r->reply.code, r->reply.enhanced);
    }
  }
  flushWrites();
}

void SmtpConnection::onRead(ssize_t nread, const uv_buf_t* buf) {
  if (closing_) return;
  if (nread < 0) {
    run(session_->onPeerClosed());
    if (session_->inBody()) {
      log::mail::info(log::Program::Smtpd, fmt::format("lost connection after DATA from {}",
                                                       client_));
    }
    closeNow();
    return;
  }
  if (nread == 0) return;
  if (stream_.encrypted()) {
    onCiphertext(std::string_view(buf->base, size_t(nread)));
    return;
  }
  run(session_->onInput(std::string_view(buf->base, size_t(nread))));
  if (!closing_) {
    updateReading();
    armTimer();
  }
}

void SmtpConnection::updateReading() {
  if (closing_) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(tcp_);
  // Backpressure: a client that does not read our replies, or sends a body faster than the
  // spool takes it, is not read from until that drains.
  bool want = session_->wantsInput() &&
              (!store_ || store_->backlog() < 2 * MessageStore::WriteChunk) &&
              uv_stream_get_write_queue_size(stream) < MaxPendingOutput;
  if (want && !reading_) {
    reading_ = true;
    uv_read_start(
        stream,
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* self = static_cast<SmtpConnection*>(h->data);
          *buf = uv_buf_init(self->worker_->readBuffer(), unsigned(self->worker_->readBufferSize()));
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
          static_cast<SmtpConnection*>(s->data)->onRead(nread, buf);
        });
  } else if (!want && reading_) {
    reading_ = false;
    uv_read_stop(stream);
  }
}

void SmtpConnection::armTimer() {
  if (closing_) return;
  const auto& limits = snap_.config->limits;
  uint64_t timeout_ms = (session_->inBody() ? limits.data_timeout : limits.idle_timeout) * 1000;
  int64_t session_left =
      session_start_ms_ + int64_t(limits.session_timeout * 1000) - monotonicMs(worker_->loop());
  if (session_left < 0) session_left = 0;
  timeout_ms = std::min<uint64_t>(timeout_ms, uint64_t(session_left));
  uv_timer_start(
      timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<SmtpConnection*>(t->data);
        if (self->closing_) return;
        log::mail::info(log::Program::Smtpd,
                        fmt::format("timeout after {} from {}",
                                    self->session_->inBody() ? "DATA" : "command",
                                    self->client_));
        self->run(self->session_->onTimeout());
      },
      timeout_ms, 0);
}

void SmtpConnection::flushWrites() {
  if (out_.empty()) return;
  if (auto st = stream_.write(out_); !st) {
    log::mail::warning(log::Program::Smtpd,
                       fmt::format("TLS write to {}: {}", client_, st.error().message()));
    stream_.flush();
  }
  out_.clear();
}

// A queued write went out.
void SmtpConnection::written() {
  if (closing_ && !stream_.writing()) {
    closeNow();
  } else {
    updateReading();
  }
  maybeDestroy();
}

void SmtpConnection::writeFailed() {
  closing_ = true;
  closeNow();
}

void SmtpConnection::startTls() {
  auto engine = snap_.tls ? tls::Engine::server(snap_.tls)
                          : Result<std::unique_ptr<tls::Engine>>(
                                Error::temporary("no TLS certificate is loaded"));
  if (!engine) {
    log::mail::warning(log::Program::Smtpd,
                       fmt::format("cannot start TLS for {}: {}", client_,
                                   engine.error().message()));
    closing_ = true;
    closeNow();
    return;
  }
  stream_.startTls(std::move(engine.value()));
}

// Bytes from the network on a TLS connection: handshake, then decrypted commands.
void SmtpConnection::onCiphertext(std::string_view bytes) {
  TlsStream::Input in = stream_.receive(bytes);
  if (!in.status) {
    log::mail::warning(log::Program::Smtpd, fmt::format("TLS library problem with {}: {}",
                                                        client_, in.status.error().message()));
    if (session_->inBody()) (void)session_->onPeerClosed();
    closeNow();
    return;
  }
  if (in.handshake_done) {
    const tls::Engine& tls = *stream_.engine();
    log::mail::info(log::Program::Smtpd,
                    fmt::format("{} TLS connection established from {}: {} with cipher {} "
                                "({}/{} bits){}",
                                listener_->tls == config::TlsMode::Implicit ? "Implicit"
                                                                           : "Anonymous",
                                client_, tls.version(), tls.cipher(), tls.cipherBits(),
                                tls.cipherBits(), tls.sessionReused() ? ", resumed" : ""));
  }
  if (!in.plaintext.empty()) run(session_->onInput(in.plaintext));
  if (!closing_ && in.peer_closed) {
    run(session_->onPeerClosed());
    closeNow();
    return;
  }
  if (!closing_) {
    flushWrites();
    updateReading();
    armTimer();
  }
}

void SmtpConnection::authenticate(smtp::Authenticate request) {
  const uint32_t limit = snap_.config->limits.auth_failures_per_client;
  if (rt_->auth_failures.count(client_ip_) >= limit) {
    log::mail::warning(log::Program::Smtpd,
                       fmt::format("{}: too many AUTH failures from this client; refused",
                                   client_));
    run(session_->onAuthRefused());
    return;
  }
  ++pending_ops_;
  std::string mechanism = request.mechanism;
  std::string user = request.credentials.authcid;
  snap_.authenticator->verify(
      worker_->dispatcher(), request.credentials, client_ip_,
      [this, mechanism, user, limit](Result<auth::Verdict> r) {
        --pending_ops_;
        if (closing_ || session_->closed()) {
          maybeDestroy();
          return;
        }
        if (!r) {
          log::mail::warning(log::Program::Smtpd,
                             fmt::format("{}: SASL {} authentication aborted: {}", client_,
                                         mechanism, r.error().message()));
          run(session_->onAuthResult(false, "", true, false));
        } else if (r->ok) {
          log::mail::info(log::Program::Smtpd,
                          fmt::format("{}: SASL {} authentication succeeded: sasl_username={}",
                                      client_, mechanism, r->user));
          run(session_->onAuthResult(true, r->user, false, false));
        } else {
          uint32_t n = rt_->auth_failures.record(client_ip_);
          log::mail::warning(log::Program::Smtpd,
                             fmt::format("{}: SASL {} authentication failed: {}, sasl_username={}",
                                         client_, mechanism, r->reason, user));
          rt_->metrics.countRejection("AUTH", 535, "5.7.8");
          bool drop = n >= limit;
          // A growing pause before each 535 slows password guessing (Postfix's error sleep).
          uint64_t delay = std::min<uint64_t>(++auth_failures_, 5) * 1000;
          after(delay, [this, drop] { run(session_->onAuthResult(false, "", false, drop)); });
          return;
        }
        if (!closing_) {
          updateReading();
          armTimer();
        }
      });
}

void SmtpConnection::after(uint64_t ms, std::function<void()> fn) {
  struct Pending {
    uv_timer_t timer;
    SmtpConnection* conn;
    std::function<void()> fn;
  };
  auto* p = new Pending{{}, this, std::move(fn)};
  uv_timer_init(worker_->loop(), &p->timer);
  p->timer.data = p;
  ++pending_ops_;
  uv_timer_start(
      &p->timer,
      [](uv_timer_t* t) {
        auto* p = static_cast<Pending*>(t->data);
        SmtpConnection* self = p->conn;
        --self->pending_ops_;
        if (!self->closing_ && !self->session_->closed()) {
          p->fn();
          if (!self->closing_) {
            self->updateReading();
            self->armTimer();
          }
        }
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete static_cast<Pending*>(h->data); });
        self->maybeDestroy();
      },
      ms, 0);
}

void SmtpConnection::closeNow() {
  closing_ = true;
  name_lookup_.reset();
  if (tcp_ == nullptr || uv_is_closing(reinterpret_cast<uv_handle_t*>(tcp_))) return;
  if (store_) {
    store_->abort();
    store_.reset();
  }
  if (session_ && !session_->closed()) (void)session_->onPeerClosed();
  if (counted_) rt_->limiter.release(client_ip_);
  counted_ = false;
  rt_->metrics.connections_active--;
  log::mail::disconnect(client_, messages_ > 0 ? fmt::format("commands={}", messages_) : "");
  uv_timer_stop(timer_);
  auto onClose = [](uv_handle_t* h) {
    auto* self = static_cast<SmtpConnection*>(h->data);
    if (h == reinterpret_cast<uv_handle_t*>(self->timer_)) {
      delete self->timer_;
      self->timer_ = nullptr;
    } else {
      delete self->tcp_;
      self->tcp_ = nullptr;
    }
    --self->open_handles_;
    self->maybeDestroy();
  };
  uv_close(reinterpret_cast<uv_handle_t*>(tcp_), onClose);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), onClose);
}

void SmtpConnection::maybeDestroy() {
  if (open_handles_ == 0 && pending_ops_ == 0) delete this;
}

}  // namespace petrel::server
