// One-shot request servers for the status endpoint and the control socket.
#include "petrel/server/request_server.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "petrel/server/tls_stream.h"
#include "petrel/server/worker.h"

namespace petrel::server {

namespace {

constexpr uint64_t RequestTimeoutMs = 10000;

struct Client {
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
  uv_timer_t timer;
  std::string in;
  bool answered = false;
  int open = 2;
  RequestServer::Handler* handler;
  std::string terminator;
  size_t max_request;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  // With TLS: the engine and the ordered writes; the connection closes once the answer and the
  // close_notify are written.
  std::unique_ptr<TlsStream> tls;
  bool close_when_written = false;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&h); }
};

void closeClient(Client* c) {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(c->stream()))) return;
  *c->alive = false;
  if (c->tls) c->tls->detach();
  auto done = [](uv_handle_t* h) {
    auto* c = static_cast<Client*>(h->data);
    if (--c->open == 0) delete c;
  };
  uv_close(reinterpret_cast<uv_handle_t*>(c->stream()), done);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), done);
}

struct Write {
  uv_write_t req;
  std::string data;
};

void respond(Client* c, std::string text) {
  if (c->tls) {
    c->close_when_written = true;
    if (!c->tls->write(text)) {
      c->tls->flush();  // the alert, if any
      closeClient(c);
      return;
    }
    c->tls->shutdownTls();
    if (!c->tls->writing()) closeClient(c);
    return;
  }
  auto* w = new Write{{}, std::move(text)};
  w->req.data = c;
  uv_buf_t b = uv_buf_init(w->data.data(), unsigned(w->data.size()));
  int rc = uv_write(&w->req, c->stream(), &b, 1, [](uv_write_t* req, int) {
    auto* c = static_cast<Client*>(req->data);
    delete reinterpret_cast<Write*>(req);
    closeClient(c);
  });
  if (rc != 0) {
    delete w;
    closeClient(c);
  }
}

}  // namespace

RequestServer::RequestServer(uv_loop_t* loop, std::string terminator, size_t max_request,
                             Handler handler)
    : loop_(loop), terminator_(std::move(terminator)), max_request_(max_request),
      handler_(std::move(handler)) {}

RequestServer::~RequestServer() { close(); }

void RequestServer::close() {
  if (listener_ == nullptr) return;
  uv_close(reinterpret_cast<uv_handle_t*>(listener_), [](uv_handle_t* h) {
    if (h->type == UV_TCP) {
      delete reinterpret_cast<uv_tcp_t*>(h);
    } else {
      delete reinterpret_cast<uv_pipe_t*>(h);
    }
  });
  listener_ = nullptr;
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

Status RequestServer::listenTcp(const config::Endpoint& ep) {
  sockaddr_storage addr;
  if (auto st = resolveEndpoint(ep, addr); !st) return st;
  auto* tcp = new uv_tcp_t;
  uv_tcp_init(loop_, tcp);
  tcp->data = this;
  int rc = uv_tcp_bind(tcp, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 64, &onConnection);
  listener_ = reinterpret_cast<uv_stream_t*>(tcp);
  if (rc != 0) {
    close();
    return Error::config(fmt::format("status: cannot listen on {}: {}", ep.toString(),
                                     uv_strerror(rc)));
  }
  return okStatus();
}

Status RequestServer::listenUnix(const std::string& path) {
  ::unlink(path.c_str());
  auto* pipe = new uv_pipe_t;
  uv_pipe_init(loop_, pipe, 0);
  pipe->data = this;
  mode_t old = umask(077);
  int rc = uv_pipe_bind(pipe, path.c_str());
  umask(old);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(pipe), 16, &onConnection);
  listener_ = reinterpret_cast<uv_stream_t*>(pipe);
  if (rc != 0) {
    close();
    return Error::config(fmt::format("control socket {}: {}", path, uv_strerror(rc)));
  }
  unix_path_ = path;
  return okStatus();
}

void RequestServer::onConnection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* self = static_cast<RequestServer*>(server->data);
  auto* c = new Client;
  c->handler = &self->handler_;
  c->terminator = self->terminator_;
  c->max_request = self->max_request_;
  if (server->type == UV_TCP) {
    uv_tcp_init(self->loop_, &c->h.tcp);
  } else {
    uv_pipe_init(self->loop_, &c->h.pipe, 0);
  }
  uv_timer_init(self->loop_, &c->timer);
  c->stream()->data = c;
  c->timer.data = c;
  if (uv_accept(server, c->stream()) != 0) {
    closeClient(c);
    return;
  }
  uv_timer_start(&c->timer, [](uv_timer_t* t) { closeClient(static_cast<Client*>(t->data)); },
                 RequestTimeoutMs, 0);
  if (self->tls_) {
    auto engine = tls::Engine::server(self->tls_);
    if (!engine) {
      closeClient(c);
      return;
    }
    c->tls = std::make_unique<TlsStream>(TlsStream::Callbacks{
        .written = [c] { if (c->close_when_written && !c->tls->writing()) closeClient(c); },
        .failed = [c](int) { closeClient(c); },
    });
    c->tls->attach(c->stream());
    c->tls->startTls(std::move(engine.value()));
  }
  uv_read_start(
      c->stream(),
      [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
        buf->base = new char[suggested];
        buf->len = suggested;
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* c = static_cast<Client*>(s->data);
        std::unique_ptr<char[]> owned(buf->base);
        if (nread < 0) {
          if (!c->answered) closeClient(c);
          return;
        }
        if (c->answered) return;
        if (c->tls) {
          TlsStream::Input in = c->tls->receive(std::string_view(buf->base, size_t(nread)));
          if (!in.status || in.peer_closed) {
            closeClient(c);
            return;
          }
          c->in += in.plaintext;
        } else {
          c->in.append(buf->base, size_t(nread));
        }
        size_t end = c->in.find(c->terminator);
        if (end == std::string::npos) {
          if (c->in.size() > c->max_request) closeClient(c);
          return;
        }
        c->answered = true;
        uv_read_stop(s);
        std::weak_ptr<bool> alive = c->alive;
        (*c->handler)(c->in.substr(0, end), [c, alive](std::string text) {
          if (alive.expired() || !*alive.lock()) return;
          respond(c, std::move(text));
        });
      });
}

std::string httpRequestPath(const std::string& head) {
  size_t eol = head.find("\r\n");
  std::string line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  if (sp1 == std::string::npos) return {};
  std::string method = line.substr(0, sp1);
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos) return {};
  std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string version = line.substr(sp2 + 1);
  if ((method != "GET" && method != "HEAD") || path.empty() || path[0] != '/' ||
      version.rfind("HTTP/1.", 0) != 0) {
    return {};
  }
  if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
  return path;
}

std::string httpResponse(int code, const std::string& content_type, const std::string& body) {
  const char* reason = code == 200   ? "OK"
                       : code == 404 ? "Not Found"
                       : code == 400 ? "Bad Request"
                       : code == 503 ? "Service Unavailable"
                                     : "Error";
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n"
      "Cache-Control: no-store\r\n\r\n{}",
      code, reason, content_type, body.size(), body);
}

}  // namespace petrel::server
