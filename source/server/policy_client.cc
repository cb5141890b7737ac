// The policy services' transport on a worker loop (policy_client.h): connections per endpoint,
// reused one request at a time, with Postfix's timeout, max_idle, max_ttl, request_limit and
// try_limit. Every answer goes through a timer or a libuv callback, so `done` never runs inside
// request().
#include "petrel/server/policy_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "petrel/log/mail_log.h"

namespace petrel::server {

using policy::ServiceEndpoint;

struct PolicyClient::Request {
  PolicyClient* owner = nullptr;
  ServiceEndpoint endpoint;
  policy::PolicyServiceSettings settings;
  std::string key;  // endpoint.toString()
  std::string text;
  Done done;
  uint32_t tries = 0;
  uv_timer_t delay;   // retry_delay between tries, and the final answer on the next turn
  std::string error;  // why the last try failed
};

struct PolicyClient::Connection {
  enum class State { Connecting, Busy, Idle, Closed };
  PolicyClient* owner = nullptr;
  std::string key;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle;
  uv_timer_t timer;  // the try's deadline while busy, max_idle while idle
  uv_connect_t connect_req;
  uv_write_t write_req;
  State state = State::Connecting;
  Request* request = nullptr;  // while connecting or busy
  std::string out;             // the request being written (uv_write needs it alive)
  std::string in;              // what the service sent so far
  uint64_t opened_ms = 0;
  uint32_t served = 0;
  int open_handles = 0;
  // Of the request that opened it: the endpoint's settings (the same for every check naming
  // it, unless two checks override them differently; then the opener's hold).
  uint64_t max_idle_ms = 0;
  uint64_t max_ttl_ms = 0;
  uint32_t request_limit = 0;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle); }
};

void PolicyClient::request(const ServiceEndpoint& endpoint,
                           const policy::PolicyServiceSettings& settings, std::string request,
                           Done done) {
  auto* r = new Request;
  r->owner = this;
  r->endpoint = endpoint;
  r->settings = settings;
  r->key = endpoint.toString();
  r->text = std::move(request);
  r->done = std::move(done);
  uv_timer_init(loop_, &r->delay);
  r->delay.data = r;
  requests_.insert(r);
  if (closed_) {
    r->tries = r->settings.try_limit;
    return retryOrGiveUp(r, "shutting down");
  }
  attempt(r);
}

void PolicyClient::attempt(Request* r) {
  ++r->tries;
  if (Connection* c = takeIdle(r->key)) return send(c, r);
  open(r);
}

// An idle connection that may still serve, or null; those too old are closed on the way.
PolicyClient::Connection* PolicyClient::takeIdle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  uint64_t now = uv_now(loop_);
  while (!it->second.empty()) {
    Connection* c = it->second.back();
    it->second.pop_back();
    if (now - c->opened_ms >= c->max_ttl_ms) {
      closeConnection(c);
      continue;
    }
    uv_timer_stop(&c->timer);
    return c;
  }
  return nullptr;
}

void PolicyClient::open(Request* r) {
  auto* c = new Connection;
  c->owner = this;
  c->key = r->key;
  c->opened_ms = uv_now(loop_);
  c->max_idle_ms = r->settings.max_idle_ms;
  c->max_ttl_ms = r->settings.max_ttl_ms;
  c->request_limit = r->settings.request_limit;
  c->request = r;
  connections_.insert(c);
  uv_timer_init(loop_, &c->timer);
  c->timer.data = c;
  c->connect_req.data = c;
  c->write_req.data = c;
  c->open_handles = 2;
  uv_timer_start(&c->timer, &PolicyClient::onDeadline, r->settings.timeout_ms, 0);
  const ServiceEndpoint& ep = r->endpoint;
  if (ep.kind == ServiceEndpoint::Kind::Unix) {
    uv_pipe_init(loop_, &c->handle.pipe, 0);
    c->handle.pipe.data = c;
    // Errors, a too long path among them, arrive through onConnect.
    uv_pipe_connect(&c->connect_req, &c->handle.pipe, ep.path.c_str(), &PolicyClient::onConnect);
    return;
  }
  uv_tcp_init(loop_, &c->handle.tcp);
  c->handle.tcp.data = c;
  sockaddr_storage addr{};
  int rc = uv_ip4_addr(ep.host.c_str(), ep.port, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) rc = uv_ip6_addr(ep.host.c_str(), ep.port, reinterpret_cast<sockaddr_in6*>(&addr));
  if (rc == 0) {
    rc = uv_tcp_connect(&c->connect_req, &c->handle.tcp, reinterpret_cast<sockaddr*>(&addr),
                        &PolicyClient::onConnect);
  }
  if (rc != 0) fail(c, uv_strerror(rc));  // answered from the request's timer, not here
}

void PolicyClient::onConnect(uv_connect_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (c->state == Connection::State::Closed) return;
  if (status < 0) return c->owner->fail(c, uv_strerror(status));
  uv_read_start(c->stream(), &PolicyClient::onAlloc, &PolicyClient::onRead);
  c->owner->send(c, c->request);
}

void PolicyClient::send(Connection* c, Request* r) {
  c->request = r;
  c->state = Connection::State::Busy;
  c->in.clear();
  uv_timer_start(&c->timer, &PolicyClient::onDeadline, r->settings.timeout_ms, 0);
  c->out = r->text;
  uv_buf_t buf = uv_buf_init(c->out.data(), static_cast<unsigned>(c->out.size()));
  if (int rc = uv_write(&c->write_req, c->stream(), &buf, 1, &PolicyClient::onWrite); rc != 0) {
    fail(c, uv_strerror(rc));
  }
}

void PolicyClient::onWrite(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (c->state == Connection::State::Closed || status == 0) return;
  c->owner->fail(c, uv_strerror(status));
}

void PolicyClient::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(handle->data);
  *buf = uv_buf_init(c->owner->read_buffer_.data(), c->owner->read_buffer_.size());
}

void PolicyClient::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(stream->data);
  if (c->state == Connection::State::Closed || nread == 0) return;
  PolicyClient* self = c->owner;
  if (nread < 0) {
    // An idle connection the service closed (its own idle timeout) is simply gone.
    if (c->state == Connection::State::Idle) return self->closeConnection(c);
    return self->fail(c, nread == UV_EOF ? "lost connection" : uv_strerror(nread));
  }
  if (c->state != Connection::State::Busy) {
    // Talk nobody asked for: the connection's state is unknown, drop it.
    return self->closeConnection(c);
  }
  c->in.append(buf->base, static_cast<size_t>(nread));
  size_t end = policy::policyReplyEnd(c->in);
  if (end != std::string::npos) return self->replied(c, end);
  if (c->in.size() > policy::MaxPolicyReply) {
    self->fail(c, fmt::format("reply longer than {} bytes", policy::MaxPolicyReply));
  }
}

void PolicyClient::onDeadline(uv_timer_t* timer) {
  auto* c = static_cast<Connection*>(timer->data);
  if (c->state == Connection::State::Idle) return c->owner->closeConnection(c);  // max_idle
  uint64_t ms = c->request ? c->request->settings.timeout_ms : 0;
  c->owner->fail(c, ms % 1000 == 0 ? fmt::format("timeout after {}s", ms / 1000)
                                   : fmt::format("timeout after {}ms", ms));
}

void PolicyClient::replied(Connection* c, size_t end) {
  uv_timer_stop(&c->timer);
  Request* r = c->request;
  c->request = nullptr;
  ++c->served;
  std::string reply = c->in.substr(0, end);
  bool extra = c->in.size() > end;  // a second reply nobody asked for
  c->in.clear();
  uint64_t now = uv_now(loop_);
  if (extra || (c->request_limit != 0 && c->served >= c->request_limit) ||
      now - c->opened_ms >= c->max_ttl_ms) {
    closeConnection(c);
  } else {
    c->state = Connection::State::Idle;
    uv_timer_start(&c->timer, &PolicyClient::onDeadline, c->max_idle_ms, 0);
    idle_[c->key].push_back(c);
  }
  // Postfix does not retry a reply it cannot use: it warns and takes default_action.
  if (auto action = policy::parsePolicyReply(reply); !action) {
    log::mail::warning(log::Program::Smtpd,
                       fmt::format("policy server {}: {}", r->key, action.error().message()));
    return finish(r, action.error());
  }
  finish(r, std::move(reply));
}

void PolicyClient::fail(Connection* c, const std::string& why) {
  Request* r = c->request;
  c->request = nullptr;
  closeConnection(c);
  if (r != nullptr) retryOrGiveUp(r, why);
}

void PolicyClient::retryOrGiveUp(Request* r, const std::string& why) {
  log::mail::warning(log::Program::Smtpd,
                     fmt::format("problem talking to server {}: {}", r->key, why));
  r->error = why;
  if (r->tries < r->settings.try_limit && !closed_) {
    uv_timer_start(
        &r->delay,
        [](uv_timer_t* t) {
          auto* req = static_cast<Request*>(t->data);
          req->owner->attempt(req);
        },
        r->settings.retry_delay_ms, 0);
    return;
  }
  // On the next turn: this may be inside request() (a connect that failed at once).
  uv_timer_start(
      &r->delay,
      [](uv_timer_t* t) {
        auto* req = static_cast<Request*>(t->data);
        req->owner->finish(
            req, Error::temporary(fmt::format("policy server {}: {}", req->key, req->error)));
      },
      0, 0);
}

void PolicyClient::finish(Request* r, Result<std::string> result) {
  requests_.erase(r);
  Done done = std::move(r->done);
  uv_timer_stop(&r->delay);
  uv_close(reinterpret_cast<uv_handle_t*>(&r->delay),
           [](uv_handle_t* h) { delete static_cast<Request*>(h->data); });
  if (done) done(std::move(result));
}

void PolicyClient::closeConnection(Connection* c) {
  if (c->state == Connection::State::Closed) return;
  if (c->state == Connection::State::Idle) {
    auto& list = idle_[c->key];
    list.erase(std::remove(list.begin(), list.end(), c), list.end());
  }
  c->state = Connection::State::Closed;
  connections_.erase(c);
  uv_timer_stop(&c->timer);
  auto closed = [](uv_handle_t* h) {
    auto* conn = static_cast<Connection*>(h->data);
    if (--conn->open_handles == 0) delete conn;
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(c->stream()), closed);
}

void PolicyClient::close() {
  closed_ = true;
  std::vector<Connection*> all(connections_.begin(), connections_.end());
  for (Connection* c : all) {
    c->request = nullptr;
    closeConnection(c);
  }
  std::vector<Request*> pending(requests_.begin(), requests_.end());
  for (Request* r : pending) {
    r->done = nullptr;  // the sessions waiting for it go with the loop
    finish(r, Error::temporary("shutting down"));
  }
}

}  // namespace petrel::server
