// The "dovecot" authenticator: asks a running Dovecot through its auth-client socket, so a
// site keeps one user database for IMAP and submission.
//
// Each verify() opens its own connection on the caller's loop, runs one PLAIN request
// (DovecotAuthSession does the protocol) and closes it; there is no connection reuse yet,
// which costs Dovecot one handshake per AUTH and is cheap next to its password hashing.
// A request owns its handles and frees itself in the close callback of the last one; it
// outlives the authenticator if need be. Connection errors, a closed socket, garbage and no
// answer within the timeout (10 s) are temporary failures (454 4.7.0).
#include <fmt/format.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <string>
#include <utility>

#include "../dovecot_protocol.h"
#include "petrel/auth/authenticator.h"

namespace petrel::auth {

namespace {

using Done = std::function<void(Result<Verdict>)>;

class DovecotRequest {
 public:
  // Starts the request; `done` runs later on `loop`, exactly once.
  static void start(event::Dispatcher& loop, const std::string& socket_path, uint64_t timeout_ms,
                    const Credentials& credentials, const std::string& client_ip, Done done) {
    if (socket_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      // libuv would truncate the path silently and reach some other socket.
      postError(loop, std::move(done),
                fmt::format("Dovecot auth socket path too long: {}", socket_path));
      return;
    }
    auto* r = new DovecotRequest(socket_path, timeout_ms, credentials, client_ip, std::move(done));
    int rc = uv_pipe_init(loop.loop(), &r->pipe_, 0);
    if (rc != 0) {
      Done d = std::move(r->done_);
      delete r;
      postError(loop, std::move(d), fmt::format("Dovecot auth: {}", uv_strerror(rc)));
      return;
    }
    r->pipe_.data = r;
    uv_timer_init(loop.loop(), &r->timer_);
    r->timer_.data = r;
    r->open_handles_ = 2;
    uv_timer_start(&r->timer_, &DovecotRequest::onTimeout, timeout_ms, 0);
    r->connect_.data = r;
    // Errors (no such socket, refused) come through onConnect on a later loop iteration.
    uv_pipe_connect(&r->connect_, &r->pipe_, r->socket_path_.c_str(), &DovecotRequest::onConnect);
  }

 private:
  struct WriteRequest {
    uv_write_t req;
    std::string data;  // holds a password (base64): wiped when written
    DovecotRequest* owner;
  };

  DovecotRequest(std::string socket_path, uint64_t timeout_ms, const Credentials& credentials,
                 const std::string& client_ip, Done done)
      : socket_path_(std::move(socket_path)),
        timeout_ms_(timeout_ms),
        session_(credentials, client_ip, ::getpid()),
        done_(std::move(done)) {}

  static void postError(event::Dispatcher& loop, Done done, std::string message) {
    loop.post([done = std::move(done), message = std::move(message)] {
      done(Error::temporary(message));
    });
  }

  static void onConnect(uv_connect_t* req, int status) {
    auto* self = static_cast<DovecotRequest*>(req->data);
    if (self->finished_) return;
    if (status < 0) {
      self->finish(Error::temporary(fmt::format("cannot connect to Dovecot auth socket {}: {}",
                                                self->socket_path_, uv_strerror(status))));
      return;
    }
    uv_read_start(reinterpret_cast<uv_stream_t*>(&self->pipe_), &DovecotRequest::onAlloc,
                  &DovecotRequest::onRead);
    self->send(self->session_.greeting());
  }

  static void onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* self = static_cast<DovecotRequest*>(handle->data);
    *buf = uv_buf_init(self->read_buffer_, sizeof self->read_buffer_);
  }

  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<DovecotRequest*>(stream->data);
    if (self->finished_) return;
    if (nread > 0) {
      auto out = self->session_.onInput(std::string_view(buf->base, size_t(nread)));
      if (!out.send.empty()) self->send(std::move(out.send));
      if (out.verdict) self->finish(std::move(*out.verdict));
    } else if (nread == UV_EOF) {
      self->finish(self->session_.onClosed());
    } else if (nread < 0) {
      self->finish(self->session_.onClosed(
          fmt::format("reading from {} failed: {}", self->socket_path_, uv_strerror(int(nread)))));
    }
  }

  static void onTimeout(uv_timer_t* timer) {
    auto* self = static_cast<DovecotRequest*>(timer->data);
    self->finish(Error::temporary(fmt::format("Dovecot auth: no answer from {} within {} ms",
                                              self->socket_path_, self->timeout_ms_)));
  }

  void send(std::string data) {
    auto* w = new WriteRequest{{}, std::move(data), this};
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&pipe_), &buf, 1,
                      &DovecotRequest::onWritten);
    if (rc != 0) {
      wipeAndDelete(w);
      finish(
          Error::temporary(fmt::format("writing to {} failed: {}", socket_path_, uv_strerror(rc))));
    }
  }

  // Runs before the pipe's close callback even when the write was cancelled by the close, so
  // the owner is still there.
  static void onWritten(uv_write_t* req, int status) {
    auto* w = static_cast<WriteRequest*>(req->data);
    DovecotRequest* self = w->owner;
    wipeAndDelete(w);
    if (status < 0 && !self->finished_) {
      self->finish(Error::temporary(
          fmt::format("writing to {} failed: {}", self->socket_path_, uv_strerror(status))));
    }
  }

  static void wipeAndDelete(WriteRequest* w) {
    explicit_bzero(w->data.data(), w->data.size());
    delete w;
  }

  void finish(Result<Verdict> result) {
    if (finished_) return;
    finished_ = true;
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&pipe_), &DovecotRequest::onClose);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &DovecotRequest::onClose);
    // This object lives until both close callbacks ran; done may do anything meanwhile.
    Done done = std::move(done_);
    done(std::move(result));
  }

  static void onClose(uv_handle_t* handle) {
    auto* self = static_cast<DovecotRequest*>(handle->data);
    if (--self->open_handles_ == 0) delete self;
  }

  uv_pipe_t pipe_{};
  uv_timer_t timer_{};
  uv_connect_t connect_{};
  const std::string socket_path_;
  const uint64_t timeout_ms_;
  DovecotAuthSession session_;
  Done done_;
  bool finished_ = false;
  int open_handles_ = 0;
  char read_buffer_[8192];
};

class DovecotAuthenticator final : public Authenticator {
 public:
  DovecotAuthenticator(std::string socket_path, uint64_t timeout_ms)
      : socket_path_(std::move(socket_path)), timeout_ms_(timeout_ms) {}

  void verify(event::Dispatcher& loop, const Credentials& credentials, const std::string& client_ip,
              std::function<void(Result<Verdict>)> done) override {
    DovecotRequest::start(loop, socket_path_, timeout_ms_, credentials, client_ip, std::move(done));
  }

 private:
  const std::string socket_path_;
  const uint64_t timeout_ms_;
};

}  // namespace

Result<std::shared_ptr<Authenticator>> makeDovecotAuthenticator(const AuthSettings& settings) {
  if (settings.dovecot_socket.empty()) {
    return Error::config("auth backend dovecot: dovecot_socket is not set");
  }
  return std::shared_ptr<Authenticator>(
      std::make_shared<DovecotAuthenticator>(settings.dovecot_socket, settings.dovecot_timeout_ms));
}

}  // namespace petrel::auth
