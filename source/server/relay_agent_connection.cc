// RelayAgent::Connection, one outbound SMTP connection: resolving the next hop (MX, then A
// and AAAA), trying each address in turn, running smtp::ClientSession over the socket (with
// STARTTLS through TlsStream), reporting each job's result and staying idle for the next job
// until the cache time runs out. The agent's per destination bookkeeping is in relay_agent.cc.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "petrel/core/strings.h"
#include "petrel/dns/mx.h"
#include "petrel/log/mail_log.h"

#include "relay_agent_internal.h"

namespace petrel::server {

using relay_agent_detail::Pending;
using smtp::client::Outcome;
using smtp::client::RecipientStatus;

namespace {

// Postfix's smtp_mx_address_limit: addresses tried per job before it is deferred.
constexpr size_t MaxAddresses = 10;

bool isIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string hostAndIp(const std::string& name, const std::string& ip, uint16_t port) {
  return fmt::format("{}[{}]:{}", name, ip, port);
}

}  // namespace

RelayAgent::Connection::Connection(RelayAgent& agent, Destination& dest, Pending first)
    : agent_(&agent), dest_(&dest), settings_(agent.settings_), resolver_(agent.resolver_),
      timer_(new uv_timer_t) {
  uv_timer_init(agent.loop_->loop(), timer_);
  timer_->data = this;
  open_handles_ = 1;
  current_ = std::move(first);
}

void RelayAgent::Connection::give(Pending p) {
  current_ = std::move(p);
  uv_timer_stop(timer_);
  setup_done_ms_ = now();
  transaction_started_ = true;
  run(session_->nextJob(current_->job.job));
}

void RelayAgent::Connection::abort() {
  if (isIdle()) write("QUIT\r\n");  // courtesy; the reply is not awaited
  if (current_) {
    report(deferredResult("4.3.2", "delivery interrupted: mail system shutting down", false));
  }
  finish(false);
}

void RelayAgent::Connection::quitIdle() {
  if (!session_ || !session_->idle()) return;
  run(session_->quit());
}

// ---- resolving ------------------------------------------------------------------------

void RelayAgent::Connection::resolve() {
  stage_ = Stage::Resolving;
  arm(settings_->timeouts.connect * 1000 + 30000);
  const config::NextHop& hop = job().hop;
  if (!hop.mx_lookup && isIpLiteral(hop.host)) {
    targets_.push_back({hop.host, hop.host});
    connectNext();
    return;
  }
  if (!hop.mx_lookup) {
    resolveHosts({hop.host}, /*implicit_mx=*/true);
    return;
  }
  queries_.push_back(resolver_->query(hop.host, dns::Type::MX, [this](dns::Answer a) {
    onMx(std::move(a));
  }));
}

void RelayAgent::Connection::onMx(dns::Answer a) {
  const std::string& domain = job().hop.host;
  using S = dns::Answer::Status;
  if (a.status == S::TempFail) {
    return failAll(RecipientStatus::Deferred, "4.4.3",
                   fmt::format("Host or domain name not found. Name service error for "
                               "name={} type=MX: Host not found, try again ({})",
                               domain, a.error),
                   true);
  }
  if (a.status == S::NxDomain) {
    return failAll(RecipientStatus::Bounced, "5.1.2",
                   fmt::format("Host or domain name not found. Name service error for "
                               "name={} type=MX: Host not found",
                               domain),
                   false);
  }
  if (a.status == S::NoData) {
    resolveHosts({domain}, /*implicit_mx=*/true);  // RFC 5321 5.1: the implicit MX
    return;
  }
  if (dns::isNullMx(a.mx)) {
    return failAll(RecipientStatus::Bounced, "5.1.10",
                   fmt::format("Domain {} does not accept mail (nullMX)", domain), false);
  }
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::vector<dns::MxRecord> mx = dns::sortMx(std::move(a.mx), rng);
  // RFC 5321 5.1: when we are one of the MX hosts, only more preferred ones may be used.
  std::vector<std::string> hosts;
  for (const auto& r : mx) {
    if (r.exchange == ".") continue;
    if (iequals(r.exchange, settings_->hostname)) break;
    hosts.push_back(r.exchange);
  }
  if (hosts.empty()) {
    return failAll(RecipientStatus::Bounced, "5.4.6",
                   fmt::format("mail for {} loops back to myself", domain), false);
  }
  resolveHosts(std::move(hosts), false);
}

void RelayAgent::Connection::resolveHosts(std::vector<std::string> hosts, bool implicit_mx) {
  implicit_mx_ = implicit_mx;
  hosts_ = std::move(hosts);
  answers_.assign(hosts_.size() * 2, {});
  answered_ = 0;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    for (int v6 = 0; v6 < 2; ++v6) {
      size_t slot = i * 2 + size_t(v6);
      queries_.push_back(resolver_->query(
          hosts_[i], v6 ? dns::Type::AAAA : dns::Type::A, [this, slot](dns::Answer a) {
            answers_[slot] = std::move(a);
            if (++answered_ == answers_.size()) onAddresses();
          }));
    }
  }
}

void RelayAgent::Connection::onAddresses() {
  using S = dns::Answer::Status;
  bool temp = false;
  std::string error;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    for (int v6 = 0; v6 < 2; ++v6) {
      const dns::Answer& a = answers_[i * 2 + size_t(v6)];
      if (a.status == S::TempFail) {
        temp = true;
        error = a.error;
      }
      for (const auto& ip : a.addresses) {
        if (targets_.size() < MaxAddresses) targets_.push_back({hosts_[i], ip});
      }
    }
  }
  if (!targets_.empty()) {
    connectNext();
    return;
  }
  if (temp) {
    return failAll(RecipientStatus::Deferred, "4.4.3",
                   fmt::format("Host or domain name not found. Name service error for name={} "
                               "type=A: Host not found, try again ({})",
                               hosts_.front(), error),
                   true);
  }
  if (implicit_mx_) {
    return failAll(RecipientStatus::Bounced, "5.1.2",
                   fmt::format("Host or domain name not found. Name service error for "
                               "name={} type=A: Host not found",
                               hosts_.front()),
                   false);
  }
  // MX records whose hosts have no address: the zone may be fixed later.
  failAll(RecipientStatus::Deferred, "4.4.3",
          fmt::format("no MX host for {} has an address", job().hop.host), true);
}

// ---- connecting -----------------------------------------------------------------------

void RelayAgent::Connection::connectNext() {
  queries_.clear();
  if (attempt_ >= targets_.size()) {
    // Every address failed as a host: report the last failure.
    RelayResult r = std::move(last_failure_);
    report(std::move(r));
    return finish(true);
  }
  stage_ = Stage::Connecting;
  const Target& t = targets_[attempt_];
  relay_ = hostAndIp(t.name, t.ip, job().hop.port);
  sockaddr_storage addr{};
  if (t.ip.find(':') != std::string::npos) {
    uv_ip6_addr(t.ip.c_str(), job().hop.port, reinterpret_cast<sockaddr_in6*>(&addr));
  } else {
    uv_ip4_addr(t.ip.c_str(), job().hop.port, reinterpret_cast<sockaddr_in*>(&addr));
  }
  tcp_ = new uv_tcp_t;
  uv_tcp_init(agent_->loop_->loop(), tcp_);
  tcp_->data = this;
  stream_.attach(reinterpret_cast<uv_stream_t*>(tcp_));
  ++open_handles_;
  uv_tcp_nodelay(tcp_, 1);
  auto* req = new uv_connect_t;
  req->data = new IoRequest{this, generation_};
  int rc = uv_tcp_connect(req, tcp_, reinterpret_cast<sockaddr*>(&addr),
                          [](uv_connect_t* req, int status) {
                            auto* io = static_cast<IoRequest*>(req->data);
                            Connection* c = io->conn;
                            bool current = io->generation == c->generation_;
                            delete io;
                            delete req;
                            if (current) c->onConnect(status);
                          });
  if (rc != 0) {
    delete static_cast<IoRequest*>(req->data);
    delete req;
    onConnect(rc);
    return;
  }
  arm(settings_->timeouts.connect * 1000);
}

void RelayAgent::Connection::onConnect(int status) {
  if (status != 0) {
    return hostFailed(fmt::format("connect to {}: {}", relay_, uv_strerror(status)));
  }
  stage_ = Stage::Session;
  smtp::client::Settings s;
  s.helo_name = settings_->hostname;
  switch (no_tls_retry_ ? config::TlsPolicy::None : job().tls) {
    case config::TlsPolicy::None: s.tls = smtp::client::TlsPolicy::None; break;
    case config::TlsPolicy::May: s.tls = smtp::client::TlsPolicy::May; break;
    case config::TlsPolicy::Encrypt: s.tls = smtp::client::TlsPolicy::Encrypt; break;
    case config::TlsPolicy::Verify: s.tls = smtp::client::TlsPolicy::Verify; break;
  }
  if (settings_->credentials && settings_->relayhost && job().hop == *settings_->relayhost) {
    s.credentials = auth::Credentials{"", settings_->credentials->user,
                                      settings_->credentials->password};
    s.auth_plaintext = settings_->credentials->plaintext;
  }
  session_ = std::make_unique<smtp::ClientSession>(std::move(s), current_->job.job);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(tcp_),
      [](uv_handle_t*, size_t, uv_buf_t* buf) {
        static thread_local char chunk[64 * 1024];
        *buf = uv_buf_init(chunk, sizeof chunk);
      },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* c = static_cast<Connection*>(stream->data);
        if (reinterpret_cast<uv_stream_t*>(c->tcp_) != stream) return;
        c->onRead(nread, buf);
      });
  armForPhase();
}

void RelayAgent::Connection::hostFailed(std::string why) {
  last_failure_ = deferredResult("4.4.1", why, true);
  last_failure_.relay = "none";  // as Postfix: no host took part; the text names it
  closeTcp();
  ++attempt_;
  connectNext();
}

// ---- the session ----------------------------------------------------------------------

void RelayAgent::Connection::onRead(ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {
    if (stream_.encrypted() && !stream_.handshakeDone()) {
      // A peer that hangs up instead of finishing the handshake fails TLS, not the host.
      tls_failed_ = true;
      return run(session_->onTlsFailed("peer closed the connection during the handshake"));
    }
    return run(session_->onPeerClosed());
  }
  std::string_view bytes(buf->base, size_t(nread));
  if (!stream_.encrypted()) {
    return run(session_->onInput(bytes));
  }
  TlsStream::Input in = stream_.receive(bytes);
  if (!in.status) {
    if (in.during_handshake) {
      tls_failed_ = true;
      // The session says "TLS handshake failed: " itself.
      std::string_view why = in.status.error().message();
      if (why.starts_with("TLS handshake failed: ")) why.remove_prefix(22);
      return run(session_->onTlsFailed(why));
    }
    return run(session_->onPeerClosed());
  }
  if (in.handshake_done) {
    const tls::Engine& tls = *stream_.engine();
    log::mail::info(log::Program::Smtp,
                    fmt::format("{} TLS connection established to {}: {} with cipher {} "
                                "({}/{} bits)",
                                tls.peerVerified() ? "Verified" : "Untrusted", relay_,
                                tls.version(), tls.cipher(), tls.cipherBits(),
                                tls.cipherBits()));
    run(session_->onTlsStarted());
    if (closing_ || !stream_.encrypted()) return;
  }
  if (!in.plaintext.empty()) run(session_->onInput(in.plaintext));
}

void RelayAgent::Connection::startTls() {
  tls::ClientSettings ts;
  ts.sni = targets_[attempt_].name;
  if (isIpLiteral(ts.sni)) ts.sni.clear();
  ts.verify = job().tls == config::TlsPolicy::Verify;
  ts.ca_file = settings_->ca_file;
  ts.sessions = agent_->tls_sessions_;
  if (ts.sni.empty() && ts.verify) {
    tls_failed_ = true;
    return run(session_->onTlsFailed("cannot verify a certificate for an address literal"));
  }
  auto engine = tls::Engine::client(ts);
  if (!engine) {
    tls_failed_ = true;
    return run(session_->onTlsFailed(engine.error().message()));
  }
  stream_.startTls(std::move(*engine));
}

void RelayAgent::Connection::run(smtp::client::Actions actions) {
  for (auto& action : actions) {
    if (closing_ || !session_) return;
    if (auto* send = std::get_if<smtp::client::Send>(&action)) {
      write(std::move(send->bytes));
    } else if (std::holds_alternative<smtp::client::StartTls>(action)) {
      startTls();
    } else if (std::holds_alternative<smtp::client::SendBody>(action)) {
      // top_fields are header fields: no line of theirs starts with '.' (relay_agent.h).
      if (!job().top_fields.empty()) write(job().top_fields);
      if (closing_ || !session_) return;
      write(smtp::dotStuff(*job().content));
    } else if (auto* result = std::get_if<smtp::client::JobResult>(&action)) {
      if (!jobDone(std::move(*result))) return;  // moved on to another address
    } else if (std::holds_alternative<smtp::client::Close>(action)) {
      return finish(false);
    }
  }
  if (!closing_) armForPhase();
}

bool RelayAgent::Connection::jobDone(smtp::client::JobResult r) {
  bool host_failure = std::all_of(r.recipients.begin(), r.recipients.end(), [](const Outcome& o) {
    return o.host_failure && o.status == RecipientStatus::Deferred;
  });
  RelayResult result;
  result.outcomes = std::move(r.recipients);
  result.relay = relay_;
  if (host_failure && !delivered_any_) {
    // May: a failed handshake is retried once on a new connection without TLS.
    if (tls_failed_ && job().tls == config::TlsPolicy::May && !no_tls_retry_) {
      no_tls_retry_ = true;
      last_failure_ = std::move(result);
      dropSession();
      connectNext();
      return false;
    }
    if (attempt_ + 1 < targets_.size()) {
      last_failure_ = std::move(result);
      dropSession();
      ++attempt_;
      connectNext();
      return false;
    }
  }
  delivered_any_ = delivered_any_ || !host_failure;
  host_failed_ = host_failure;
  report(std::move(result));
  if (session_->idle()) nextOrIdle();
  return true;
}

void RelayAgent::Connection::nextOrIdle() {
  if (!dest_->waiting.empty() && !agent_->stopping_) {
    Pending p = std::move(dest_->waiting.front());
    dest_->waiting.pop_front();
    give(std::move(p));
    return;
  }
  dest_->idle.push_back(this);
  if (agent_->stopping_) quitIdle();
}

void RelayAgent::Connection::report(RelayResult r) {
  if (!current_) return;
  uint64_t end = now();
  // A job that never reached MAIL spent all its time in setup.
  uint64_t setup_end = transaction_started_ ? std::max(setup_done_ms_, current_->queued_ms) : end;
  if (setup_end > end) setup_end = end;
  r.setup = double(setup_end - current_->queued_ms) / 1000;
  r.transmission = double(end - setup_end) / 1000;
  bool host_failure = !r.outcomes.empty() &&
                      std::all_of(r.outcomes.begin(), r.outcomes.end(), [](const Outcome& o) {
                        return o.host_failure && o.status == RecipientStatus::Deferred;
                      });
  failure_ = host_failure ? std::optional<Outcome>(r.outcomes.front()) : std::nullopt;
  Pending p = std::move(*current_);
  current_.reset();
  p.done(std::move(r));
}

RelayResult RelayAgent::Connection::deferredResult(const std::string& dsn, const std::string& why,
                                                   bool host) const {
  RelayResult r;
  r.relay = relay_.empty() ? "none" : relay_;
  for (const auto& rcpt : job().job.recipients) {
    Outcome o;
    o.recipient = rcpt.recipient.text;
    o.status = RecipientStatus::Deferred;
    o.dsn = dsn;
    o.detail = why;
    o.host_failure = host;
    r.outcomes.push_back(std::move(o));
  }
  return r;
}

void RelayAgent::Connection::failAll(RecipientStatus status, const std::string& dsn,
                                     const std::string& why, bool host) {
  RelayResult r = deferredResult(dsn, why, host);
  for (auto& o : r.outcomes) o.status = status;
  report(std::move(r));
  finish(host);
}

// ---- I/O ------------------------------------------------------------------------------

void RelayAgent::Connection::write(std::string bytes) {
  if (Status st = stream_.write(bytes); !st) {
    return run(session_->onPeerClosed());
  }
}

void RelayAgent::Connection::writeFailed() {
  if (session_ && !closing_) {
    run(session_->onPeerClosed());
  }
}

void RelayAgent::Connection::arm(uint64_t ms) {
  uv_timer_start(
      timer_, [](uv_timer_t* t) { static_cast<Connection*>(t->data)->onTimer(); }, ms, 0);
}

void RelayAgent::Connection::armForPhase() {
  if (stage_ != Stage::Session || !session_) return;
  const auto& t = settings_->timeouts;
  using P = smtp::client::Phase;
  P phase = session_->phase();
  if (current_ && !transaction_started_ &&
      (phase == P::Mail || phase == P::Rcpt || phase == P::DataInit || phase == P::DataDone)) {
    // Connection setup (the log's delays "c": DNS, connect, greeting, EHLO, TLS, AUTH) ends
    // with the first MAIL.
    transaction_started_ = true;
    setup_done_ms_ = now();
  }
  switch (phase) {
    case P::Greeting: arm(t.greeting * 1000); break;
    case P::DataInit: arm(t.data_init * 1000); break;
    case P::DataDone: {
      // A content filter may scan for long (the course's amavis: smtp_data_done_timeout 1200).
      uint64_t done = current_ && job().transport.data_done_timeout > 0
                          ? job().transport.data_done_timeout
                          : t.data_done;
      arm((t.data_block + done) * 1000);
      break;
    }
    case P::Idle:
      if (!current_) arm(settings_->cache_time * 1000);
      break;
    case P::Closed: break;
    default: arm(t.command * 1000); break;
  }
}

void RelayAgent::Connection::onTimer() {
  switch (stage_) {
    case Stage::Resolving:
      queries_.clear();
      return failAll(RecipientStatus::Deferred, "4.4.3",
                     fmt::format("DNS lookup for {} timed out", job().hop.host), true);
    case Stage::Connecting:
      return hostFailed(fmt::format("connect to {}: Connection timed out", relay_));
    case Stage::Session:
      if (session_->idle()) return quitIdle();
      return run(session_->onTimeout());
    case Stage::Closed: return;
  }
}

void RelayAgent::Connection::dropSession() {
  session_.reset();
  stream_.detach();
  tls_failed_ = false;
  closeTcp();
}

void RelayAgent::Connection::closeTcp() {
  if (!tcp_) return;
  ++generation_;
  stream_.detach();
  uv_read_stop(reinterpret_cast<uv_stream_t*>(tcp_));
  uv_close(reinterpret_cast<uv_handle_t*>(tcp_), [](uv_handle_t* h) {
    auto* c = static_cast<Connection*>(h->data);
    delete reinterpret_cast<uv_tcp_t*>(h);
    c->handleClosed();
  });
  tcp_ = nullptr;
}

void RelayAgent::Connection::finish(bool host_failed) {
  if (closing_) return;
  closing_ = true;
  stage_ = Stage::Closed;
  queries_.clear();
  if (current_) {
    // The session closed without a result for the job (it always reports first), so this
    // is a safety net: nothing waits forever.
    report(deferredResult("4.4.2", "lost connection", true));
  }
  closeTcp();
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) {
    auto* c = static_cast<Connection*>(h->data);
    delete reinterpret_cast<uv_timer_t*>(h);
    c->handleClosed();
  });
  agent_->connectionEnded(this, (host_failed || host_failed_) && failure_,
                          failure_ ? &*failure_ : nullptr);
}

void RelayAgent::Connection::handleClosed() {
  if (--open_handles_ == 0) delete this;
}

}  // namespace petrel::server
