// Session driver, the connection half: SMTP actions -> libuv writes, TLS, timers, AUTH and the
// mail log; the transaction half (verdicts, content pass, commit) is in
// smtp_connection_transaction.cc.
#include "petrel/server/smtp_connection.h"

#include <fmt/format.h>
#include <time.h>

#include <deque>
#include <tuple>
#include <utility>

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

// smtp.greet_pause as it applies to listener `l`, in milliseconds. Submission listeners (AUTH
// required, or TLS from the first byte, where the client speaks first by design) do not
// inherit it; a listener's own greet_pause wins except on implicit TLS (Postfix: the pregreet
// check must not apply to TLS wrapper mode).
uint64_t greetPauseMs(const config::Config& cfg, const config::Listener& l) {
  if (l.tls == config::TlsMode::Implicit) return 0;
  if (l.greet_pause) return *l.greet_pause * 1000;
  if (l.auth == config::AuthMode::Required) return 0;
  return cfg.smtp.greet_pause * 1000;
}

// Postfix's escape() of early input for the log: printable ASCII as is, the rest as C escapes.
std::string escapeForLog(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    switch (c) {
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out += fmt::format("\\{:03o}", c);
        } else {
          out += char(c);
        }
    }
  }
  return out;
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
  std::vector<std::string> warnings;  // logged after "connect from", as Postfix does
  std::string why;
  const config::RateLimits& rate = cfg.limits.rate;
  rate_exempt_ = rateExempt();
  // anvil counts the connection before either limit is looked at, refused or not.
  uint32_t connection_rate =
      rate.connections > 0 && !rate_exempt_
          ? rt_->rates.record(client_ip_, RateEvent::Connection, int64_t(rate.time_unit) * 1000)
          : 0;
  if (rt_->limiter.tryAcquire(client_ip_, cfg.limits.connections,
                              cfg.limits.connections_per_client, why)) {
    counted_ = true;
  } else {
    connect_refusal_ = smtp::Reply(421, "4.7.0", fmt::format("{} Error: {}", cfg.hostname, why));
    warnings.push_back(fmt::format("{}: {}", client_, why));
    rt_->metrics.countRejection("CONNECT", 421, "4.7.0");
  }
  if (!connect_refusal_ && connection_rate > rate.connections) {
    warnings.push_back(fmt::format("Connection rate limit exceeded: {} from {} for service {}",
                                   connection_rate, client_, listener_->name));
    connect_refusal_ = smtp::Reply(421, "4.7.0", fmt::format("{} Error: too many connections from {}",
                                                             cfg.hostname, client_ip_));
    rt_->metrics.countRejection("CONNECT", 421, "4.7.0");
    rt_->metrics.rate_limited[size_t(RateEvent::Connection)]++;
  }
  if (connect_refusal_) {
    // A refused client is not worth the name queries.
    log::mail::connect(client_);
    connect_logged_ = true;
    for (const std::string& w : warnings) log::mail::warning(log::Program::Smtpd, w);
    greet();
    return;
  }
  // The greeting waits for the client's name (Postfix does the same), bounded by a timer of
  // its own whatever the resolver's timeouts are.
  if (cfg.smtp.peername_lookup) {
    if (auto listed = nameFromHosts(*rt_->hosts, client_ip_)) return named(std::move(*listed));
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
  if (!connect_logged_) log::mail::connect(client_);
  connect_logged_ = true;
  const config::RateLimits& rate = cfg.limits.rate;
  smtp::SessionSettings settings = sessionSettings(cfg, *listener_, snap_.authenticator != nullptr);
  settings.verdict_stages = verdictStages(snap_, *listener_);
  if (listener_->proxy_filter) {
    // MAIL and DATA are the filter's too, after our own checks.
    settings.verdict_stages |= smtp::stageBit(smtp::Stage::Mail) | smtp::stageBit(smtp::Stage::Data);
    openProxy();
  }
  openMilters(settings);
  if (!rate_exempt_ && (rate.messages > 0 || rate.recipients > 0 || rate.auth > 0 ||
                        rate.new_tls_sessions > 0)) {
    settings.rate_limit = [this](smtp::ClientEvent e) { return rateLimit(e); };
  }
  const uint64_t greet_pause_ms = greetPauseMs(cfg, *listener_);
  settings.greet_pause = greet_pause_ms > 0 && !connect_refusal_;
  session_ = std::make_unique<smtp::ServerSession>(std::move(settings));
  if (listener_->tls == config::TlsMode::Implicit && !connect_refusal_) startTls();
  run(session_->start(connect_refusal_));
  if (!closing_ && session_->inGreetPause()) {
    after(greet_pause_ms, [this] { run(session_->onGreetPauseOver()); });
  }
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
      abandonContent();
      tx_actions_.clear();
      if (proxy_) proxy_->abandonData();
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
      bool logged = end_refusal_logged_ && r->stage == smtp::Stage::EndOfData;
      end_refusal_logged_ = false;
      if (!logged) {
        auto line = std::exchange(milter_refusal_, false) ? &log::mail::milterReject
                                                          : &log::mail::reject;
        line(r->logStage(), client_, r->reply.oneLine(), r->from, r->to, protocol(), r->helo);
      }
      rt_->metrics.countRejection(std::string(r->logStage()), r->reply.code, r->reply.enhanced);
    } else if (auto* p = std::get_if<smtp::Pregreet>(&action)) {
      // postscreen's line: "PREGREET 11 after 0.1 from [192.0.2.1]:4711: EHLO x\r\n".
      log::mail::info(log::Program::Smtpd,
                      fmt::format("PREGREET {} after {:.2g} from [{}]:{}: {}", p->count,
                                  double(monotonicMs(worker_->loop()) - session_start_ms_) / 1000,
                                  client_ip_, client_facts_.client_port,
                                  escapeForLog(p->bytes)));
      rt_->metrics.countRejection("CONNECT", 554, "5.5.1");
    } else if (auto* p = std::get_if<smtp::ImproperPipelining>(&action)) {
      log::mail::info(log::Program::Smtpd,
                      fmt::format("improper command pipelining after {} from {}: {}",
                                  escapeForLog(p->after), client_, escapeForLog(p->pending)));
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
              (!proxy_ || proxy_->backlog() < 2 * MessageStore::WriteChunk) &&
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
    if (newTlsSessionOverLimit()) return;
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

// limits.rate.exceptions, or relay.mynetworks when the config lists none (Postfix's
// smtpd_client_event_limit_exceptions = $mynetworks). A mynetworks table is asked only when
// it answers from memory: this runs on the loop for every connection.
bool SmtpConnection::rateExempt() const {
  if (snap_.rate_exceptions) return snap_.rate_exceptions->contains(client_ip_);
  if (snap_.mynetworks && snap_.mynetworks->contains(client_ip_)) return true;
  if (!snap_.mynetworks_table || snap_.mynetworks_table->blocking()) return false;
  return snap_.mynetworks_table->lookup(client_ip_).status == lookup::LookupStatus::Found;
}

// The session's question at MAIL, RCPT, AUTH and STARTTLS: counts the event for this client
// and refuses it over limits.rate, with Postfix smtpd's replies and warnings.
std::optional<smtp::Reply> SmtpConnection::rateLimit(smtp::ClientEvent event) {
  const config::RateLimits& rate = snap_.config->limits.rate;
  const int64_t unit_ms = int64_t(rate.time_unit) * 1000;
  struct Kind {
    RateEvent counter;
    uint32_t limit;
    const char* stage;
    const char* what;  // Postfix's warning
  };
  Kind k{RateEvent::NewTls, 0, "", nullptr};
  switch (event) {
    case smtp::ClientEvent::Mail:
      k = {RateEvent::Message, rate.messages, "MAIL", "Message delivery request rate limit"};
      break;
    case smtp::ClientEvent::Rcpt:
      k = {RateEvent::Recipient, rate.recipients, "RCPT", "Recipient address rate limit"};
      break;
    case smtp::ClientEvent::Auth:
      k = {RateEvent::Auth, rate.auth, "AUTH", "AUTH command rate limit"};
      break;
    case smtp::ClientEvent::StartTls:
      k = {RateEvent::NewTls, rate.new_tls_sessions, "STARTTLS", nullptr};
      break;
  }
  if (k.limit == 0) return std::nullopt;
  std::optional<smtp::Reply> refusal;
  if (event == smtp::ClientEvent::StartTls) {
    // Already over (a session of this window was dropped after its handshake): no handshake
    // is spent on it. The new session itself is counted once established.
    if (rt_->rates.count(client_ip_, k.counter, unit_ms) <= k.limit) return std::nullopt;
    log::mail::warning(log::Program::Smtpd, fmt::format("Refusing STARTTLS request from {} for "
                                                        "service {}",
                                                        client_, listener_->name));
    refusal = smtp::Reply(454, "4.7.0",
                          fmt::format("Error: too many new TLS sessions from {}", client_));
  } else {
    uint32_t n = rt_->rates.record(client_ip_, k.counter, unit_ms);
    if (n <= k.limit) return std::nullopt;
    log::mail::warning(log::Program::Smtpd, fmt::format("{} exceeded: {} from {} for service {}",
                                                        k.what, n, client_, listener_->name));
    const char* text = event == smtp::ClientEvent::Mail   ? "too much mail"
                       : event == smtp::ClientEvent::Rcpt ? "too many recipients"
                                                          : "too many AUTH commands";
    refusal = smtp::Reply(450, "4.7.1", fmt::format("Error: {} from {}", text, client_ip_));
  }
  rt_->metrics.rate_limited[size_t(k.counter)]++;
  rt_->metrics.countRejection(k.stage, refusal->code, refusal->enhanced);
  return refusal;
}

// After a TLS handshake: a new (not resumed) session counts towards
// limits.rate.new_tls_sessions; over it the session ends with 421 (Postfix smtpd).
bool SmtpConnection::newTlsSessionOverLimit() {
  const config::RateLimits& rate = snap_.config->limits.rate;
  if (rate.new_tls_sessions == 0 || rate_exempt_ || stream_.engine()->sessionReused()) {
    return false;
  }
  uint32_t n =
      rt_->rates.record(client_ip_, RateEvent::NewTls, int64_t(rate.time_unit) * 1000);
  if (n <= rate.new_tls_sessions) return false;
  log::mail::warning(log::Program::Smtpd,
                     fmt::format("New TLS session rate limit exceeded: {} from {} for service {}",
                                 n, client_, listener_->name));
  rt_->metrics.rate_limited[size_t(RateEvent::NewTls)]++;
  rt_->metrics.countRejection("STARTTLS", 421, "4.7.0");
  run(session_->onDrop(smtp::Reply(
      421, "4.7.0", fmt::format("{} Error: too many new TLS sessions from {}",
                                snap_.config->hostname, client_))));
  return true;
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
  proxy_.reset();  // its answers no longer reach us; the filter drops a partial message
  if (milters_) milters_->close();  // SMFIC_QUIT; their answers no longer reach us
  if (session_ && !session_->closed()) (void)session_->onPeerClosed();
  if (counted_) rt_->limiter.release(client_ip_);
  counted_ = false;
  rt_->metrics.connections_active--;
  log::mail::disconnect(client_, session_ ? session_->commandStats() : "commands=0/0");
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
