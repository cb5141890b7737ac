// LmtpClient::Connection, one LMTP connection: an inet name's addresses found (hosts file,
// then A and AAAA through the queue's resolver) and tried in turn, a unix or TCP socket
// connected, smtp::ClientSession in LMTP mode driven over it with
// a timer for every wait, each job's result reported, and the connection kept idle for the
// next job until the cache time runs out. The pool's bookkeeping is in lmtp_agent.cc.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "petrel/log/mail_log.h"

#include "lmtp_agent_internal.h"

namespace petrel::server {

using smtp::client::Outcome;
using smtp::client::RecipientStatus;

// A write in flight owns its bytes; `generation` tells a late callback from a closed stream.
struct LmtpClient::Connection::Write {
  uv_write_t req;
  std::string bytes;
  Connection* conn;
  uint64_t generation;
};

LmtpClient::Connection::Connection(LmtpClient& client, Destination& dest, Pending first)
    : client_(&client), dest_(&dest), settings_(first.job.settings),
      where_(first.job.destination), timer_(new uv_timer_t) {
  uv_timer_init(client.loop_->loop(), timer_);
  timer_->data = this;
  open_handles_ = 1;
  current_ = std::move(first);
}

void LmtpClient::Connection::start() {
  arm(settings().timeouts.connect);
  if (where_.kind == LmtpDestination::Kind::Unix) {
    // Postfix names a unix-domain server after ourselves: "myhostname[/path]".
    relay_ = fmt::format("{}[{}]", settings_->hostname, where_.path);
    stage_ = Stage::Connecting;
    auto* pipe = new uv_pipe_t;
    uv_pipe_init(client_->loop_->loop(), pipe, 0);
    pipe->data = this;
    stream_ = reinterpret_cast<uv_stream_t*>(pipe);
    ++open_handles_;
    auto* req = new uv_connect_t;
    req->data = this;
    // uv_pipe_connect reports every failure through the callback.
    uv_pipe_connect(req, pipe, where_.path.c_str(), [](uv_connect_t* req, int status) {
      auto* c = static_cast<Connection*>(req->data);
      delete req;
      if (status != UV_ECANCELED) c->onConnect(status);
    });
    return;
  }
  resolve();
}

void LmtpClient::Connection::resolve() {
  stage_ = Stage::Resolving;
  relay_ = fmt::format("{}[{}]:{}", where_.host, where_.host, where_.port);
  std::shared_ptr<const dns::HostsFile> hosts =
      client_->names_.hosts ? client_->names_.hosts() : nullptr;
  targets_ = lmtpLocalAddresses(where_.host, hosts.get());
  if (!targets_.empty()) return connectNext();
  resolver_ = client_->names_.resolver ? client_->names_.resolver() : nullptr;
  if (!resolver_) {
    answers_[0].error = answers_[1].error = "no resolver";
    ++open_handles_;  // answered through the loop, never inside submit()
    client_->loop_->post([this] {
      onResolved();
      handleClosed();
    });
    return;
  }
  // Both families, as Postfix's lmtp with inet_protocols = all; answers come later on the loop.
  for (int v6 = 0; v6 < 2; ++v6) {
    queries_.push_back(resolver_->query(where_.host, v6 ? dns::Type::AAAA : dns::Type::A,
                                        [this, v6](dns::Answer a) {
                                          answers_[v6] = std::move(a);
                                          if (++answered_ == 2) onResolved();
                                        }));
  }
}

void LmtpClient::Connection::onResolved() {
  if (closing_) return;
  Result<std::vector<std::string>> found = lmtpDnsAddresses(where_.host, answers_[0], answers_[1]);
  if (!found) {
    // Postfix's lmtp: a name that does not resolve is a temporary problem of this host.
    RelayResult r = deferredResult("4.4.3", found.error().message());
    r.relay = "none";
    report(std::move(r));
    return finish();
  }
  targets_ = std::move(*found);
  connectNext();
}

void LmtpClient::Connection::connectNext() {
  queries_.clear();  // done with (also from inside the last answer's callback: allowed)
  if (attempt_ >= targets_.size()) return connectFailed(fmt::format("{}: no address", relay_));
  const std::string& ip = targets_[attempt_++];
  relay_ = fmt::format("{}[{}]:{}", where_.host, ip, where_.port);
  sockaddr_storage addr{};
  int rc = ip.find(':') != std::string::npos
               ? uv_ip6_addr(ip.c_str(), where_.port, reinterpret_cast<sockaddr_in6*>(&addr))
               : uv_ip4_addr(ip.c_str(), where_.port, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) return attemptFailed(fmt::format("connect to {}: {}", relay_, uv_strerror(rc)));
  arm(settings().timeouts.connect);  // each address gets the whole connect timeout
  connectTo(reinterpret_cast<const sockaddr*>(&addr));
}

void LmtpClient::Connection::connectTo(const sockaddr* addr) {
  stage_ = Stage::Connecting;
  auto* tcp = new uv_tcp_t;
  uv_tcp_init(client_->loop_->loop(), tcp);
  tcp->data = this;
  uv_tcp_nodelay(tcp, 1);
  stream_ = reinterpret_cast<uv_stream_t*>(tcp);
  ++open_handles_;
  auto* req = new uv_connect_t;
  req->data = this;
  int rc = uv_tcp_connect(req, tcp, addr, [](uv_connect_t* req, int status) {
    auto* c = static_cast<Connection*>(req->data);
    delete req;
    if (status != UV_ECANCELED) c->onConnect(status);
  });
  if (rc != 0) {
    delete req;
    // Not inside the caller's call (submit): the failure comes back through the loop.
    std::string why = fmt::format("connect to {}: {}", relay_, uv_strerror(rc));
    ++open_handles_;
    client_->loop_->post([this, why] {
      if (!closing_) attemptFailed(why);
      handleClosed();
    });
  }
}

void LmtpClient::Connection::onConnect(int status) {
  if (closing_) return;
  if (status != 0) {
    return attemptFailed(fmt::format("connect to {}: {}", relay_, uv_strerror(status)));
  }
  stage_ = Stage::Session;
  smtp::client::Settings s;
  s.helo_name = settings_->hostname;
  s.tls = smtp::client::TlsPolicy::None;  // a local socket; Postfix downgrades "may" here too
  s.lmtp = true;
  session_ = std::make_unique<smtp::ClientSession>(std::move(s), current_->job.job);
  uv_read_start(
      stream_,
      [](uv_handle_t*, size_t, uv_buf_t* buf) {
        static thread_local char chunk[64 * 1024];
        *buf = uv_buf_init(chunk, sizeof chunk);
      },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* c = static_cast<Connection*>(stream->data);
        if (c->stream_ != stream || nread == 0) return;
        c->onRead(nread, buf);
      });
  armForPhase();
}

void LmtpClient::Connection::attemptFailed(const std::string& why) {
  closeStream();
  if (attempt_ >= targets_.size()) return connectFailed(why);
  // Postfix's smtp_connect: each failed address is logged, then the next one is tried.
  log::mail::info(log::Program::Lmtp, why);
  connectNext();
}

void LmtpClient::Connection::connectFailed(const std::string& why) {
  // Postfix: 4.4.1 "connect to name[addr]: reason"; no host took part, relay=none.
  RelayResult r = deferredResult("4.4.1", why);
  r.relay = "none";
  host_failure_ = r.outcomes.empty() ? std::nullopt : std::optional<Outcome>(r.outcomes.front());
  report(std::move(r));
  finish();
}

// ---- the session ----------------------------------------------------------------------

void LmtpClient::Connection::give(Pending p) {
  current_ = std::move(p);
  reused_ = true;
  uv_timer_stop(timer_);
  setup_done_ms_ = now();
  transaction_started_ = true;
  run(session_->nextJob(current_->job.job));
}

void LmtpClient::Connection::abort() {
  if (isIdle()) write("QUIT\r\n");  // courtesy; the reply is not awaited
  if (current_) {
    report(deferredResult("4.3.2", "delivery interrupted: mail system shutting down"));
  }
  finish();
}

void LmtpClient::Connection::onRead(ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) return run(session_->onPeerClosed());
  run(session_->onInput(std::string_view(buf->base, size_t(nread))));
}

void LmtpClient::Connection::run(smtp::client::Actions actions) {
  for (auto& action : actions) {
    if (closing_ || !session_) return;
    if (auto* send = std::get_if<smtp::client::Send>(&action)) {
      write(std::move(send->bytes));
    } else if (std::holds_alternative<smtp::client::SendBody>(action)) {
      write(smtp::dotStuff(*job().content));
    } else if (auto* result = std::get_if<smtp::client::JobResult>(&action)) {
      jobDone(std::move(*result));
    } else if (std::holds_alternative<smtp::client::Close>(action)) {
      return finish();
    }
    // StartTls never comes: the session runs with TlsPolicy::None.
  }
  if (!closing_) armForPhase();
}

void LmtpClient::Connection::jobDone(smtp::client::JobResult r) {
  bool host = !r.recipients.empty() &&
              std::all_of(r.recipients.begin(), r.recipients.end(), [](const Outcome& o) {
                return o.host_failure && o.status == RecipientStatus::Deferred;
              });
  if (host && reused_ && r.recipients.front().command == "RSET" && !client_->stopping_) {
    // A cached connection the server closed while it was idle (a restart, its own idle
    // timeout): nothing of this job was sent, so it goes back to the front of the queue for a
    // new connection instead of waiting for the next retry, as Postfix's connection cache does.
    dest_->waiting.push_front(std::move(*current_));
    current_.reset();
    transaction_started_ = false;
    host_failure_.reset();
    return;
  }
  host_failure_ = host ? std::optional<Outcome>(r.recipients.front()) : std::nullopt;
  RelayResult result;
  result.outcomes = std::move(r.recipients);
  result.relay = relay_;
  report(std::move(result));
  if (session_->idle()) nextOrIdle();
}

void LmtpClient::Connection::nextOrIdle() {
  if (!dest_->waiting.empty() && !client_->stopping_) {
    Pending p = std::move(dest_->waiting.front());
    dest_->waiting.pop_front();
    give(std::move(p));
    return;
  }
  dest_->idle.push_back(this);
}

void LmtpClient::Connection::report(RelayResult r) {
  if (!current_) return;
  uint64_t end = now();
  // A job that never reached MAIL spent all its time in setup (connect, greeting, LHLO).
  uint64_t setup_end = transaction_started_ ? std::max(setup_done_ms_, current_->queued_ms) : end;
  setup_end = std::min(setup_end, end);
  r.setup = double(setup_end - current_->queued_ms) / 1000;
  r.transmission = double(end - setup_end) / 1000;
  Pending p = std::move(*current_);
  current_.reset();
  transaction_started_ = false;
  p.done(std::move(r));
}

RelayResult LmtpClient::Connection::deferredResult(const std::string& dsn,
                                                   const std::string& why) const {
  RelayResult r;
  r.relay = relay_.empty() ? "none" : relay_;
  if (!current_) return r;
  for (const auto& rcpt : job().job.recipients) {
    Outcome o;
    o.recipient = rcpt.recipient.text;
    o.status = RecipientStatus::Deferred;
    o.dsn = dsn;
    o.detail = why;
    o.host_failure = true;
    r.outcomes.push_back(std::move(o));
  }
  return r;
}

// ---- I/O ------------------------------------------------------------------------------

void LmtpClient::Connection::write(std::string bytes) {
  if (!stream_) return;
  auto* w = new Write{{}, std::move(bytes), this, generation_};
  uv_buf_t buf = uv_buf_init(w->bytes.data(), unsigned(w->bytes.size()));
  w->req.data = w;
  int rc = uv_write(&w->req, stream_, &buf, 1, [](uv_write_t* req, int status) {
    auto* w = static_cast<Write*>(req->data);
    Connection* c = w->conn;
    bool current = w->generation == c->generation_;
    delete w;
    // A closed stream cancels its writes before its close callback runs: `c` is alive.
    if (status != 0 && current && c->session_ && !c->closing_) c->run(c->session_->onPeerClosed());
  });
  if (rc != 0) {
    delete w;
    if (session_ && !closing_) run(session_->onPeerClosed());
  }
}

void LmtpClient::Connection::arm(uint64_t seconds) {
  uv_timer_start(
      timer_, [](uv_timer_t* t) { static_cast<Connection*>(t->data)->onTimer(); }, seconds * 1000,
      0);
}

void LmtpClient::Connection::armForPhase() {
  if (stage_ != Stage::Session || !session_) return;
  const auto& t = settings().timeouts;
  using P = smtp::client::Phase;
  P phase = session_->phase();
  if (current_ && !transaction_started_ &&
      (phase == P::Mail || phase == P::Rcpt || phase == P::DataInit || phase == P::DataDone)) {
    // The log's delays "c" (connect, greeting, LHLO) end with the first MAIL.
    transaction_started_ = true;
    setup_done_ms_ = now();
  }
  switch (phase) {
    case P::Greeting: arm(t.greeting); break;
    case P::DataInit: arm(t.data_init); break;
    case P::DataDone: arm(t.data_block + t.data_done); break;
    case P::Idle:
      if (!current_) arm(settings().connection_cache_time);
      break;
    case P::Closed: break;
    default: arm(t.command); break;
  }
}

void LmtpClient::Connection::onTimer() {
  switch (stage_) {
    case Stage::Resolving:
      queries_.clear();  // cancels them: their callbacks never run
      return connectFailed(fmt::format("{}: name lookup timed out", where_.host));
    case Stage::Connecting:
      return attemptFailed(fmt::format("connect to {}: Connection timed out", relay_));
    case Stage::Session:
      if (session_->idle()) return run(session_->quit());
      return run(session_->onTimeout());
    case Stage::Closed: return;
  }
}

// Closes the socket (a failed address, or the end); a pending connect is cancelled.
void LmtpClient::Connection::closeStream() {
  if (!stream_) return;
  ++generation_;
  uv_read_stop(stream_);
  uv_close(reinterpret_cast<uv_handle_t*>(stream_), [](uv_handle_t* h) {
    auto* c = static_cast<Connection*>(h->data);
    if (h->type == UV_NAMED_PIPE) {
      delete reinterpret_cast<uv_pipe_t*>(h);
    } else {
      delete reinterpret_cast<uv_tcp_t*>(h);
    }
    c->handleClosed();
  });
  stream_ = nullptr;
}

void LmtpClient::Connection::finish() {
  if (closing_) return;
  closing_ = true;
  stage_ = Stage::Closed;
  if (current_) {
    // The session always reports before it closes; this is the safety net.
    report(deferredResult("4.4.2", "lost connection"));
  }
  queries_.clear();
  closeStream();
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) {
    auto* c = static_cast<Connection*>(h->data);
    delete reinterpret_cast<uv_timer_t*>(h);
    c->handleClosed();
  });
  client_->connectionEnded(this, host_failure_ ? &*host_failure_ : nullptr);
}

void LmtpClient::Connection::handleClosed() {
  if (--open_handles_ == 0) delete this;
}

}  // namespace petrel::server
