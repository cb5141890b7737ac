// TlsStream: plaintext or TLS over one libuv stream; see tls_stream.h.
#include "petrel/server/tls_stream.h"

namespace petrel::server {

void TlsStream::detach() {
  stream_ = nullptr;
  engine_.reset();
  writes_in_flight_ = 0;
  ++generation_;
}

void TlsStream::startTls(std::unique_ptr<tls::Engine> engine) {
  engine_ = std::move(engine);
  flush();
}

Status TlsStream::write(std::string_view plaintext) {
  if (!engine_) {
    send(plaintext);
    return okStatus();
  }
  if (Status st = engine_->write(plaintext); !st) {
    return st;
  }
  flush();
  return okStatus();
}

void TlsStream::flush() {
  if (engine_) {
    send(engine_->takeOutput());
  }
}

void TlsStream::shutdownTls() {
  if (engine_) {
    engine_->shutdown();
    flush();
  }
}

TlsStream::Input TlsStream::receive(std::string_view ciphertext) {
  Input in;
  bool was_done = engine_->handshakeDone();
  in.status = engine_->feed(ciphertext);
  // The engine's answer (handshake messages, an alert) goes out even when it failed.
  flush();
  if (!in.status) {
    in.during_handshake = !was_done;
    return in;
  }
  in.handshake_done = !was_done && engine_->handshakeDone();
  in.plaintext = engine_->takePlaintext();
  in.peer_closed = engine_->peerClosed();
  return in;
}

// Copies only what the socket does not take at once.
void TlsStream::send(std::string_view bytes) {
  if (bytes.empty() || stream_ == nullptr ||
      uv_is_closing(reinterpret_cast<uv_handle_t*>(stream_))) {
    return;
  }
  // uv_try_write only reads the buffer.
  uv_buf_t b = uv_buf_init(const_cast<char*>(bytes.data()), unsigned(bytes.size()));
  // Behind queued writes, trying now would overtake them.
  int n = writes_in_flight_ > 0 ? UV_EAGAIN : uv_try_write(stream_, &b, 1);
  if (n == int(bytes.size())) {
    return;
  }
  if (n < 0 && n != UV_EAGAIN) {
    callbacks_.failed(n);
    return;
  }
  auto* w =
      new WriteRequest{{}, std::string(bytes.substr(n > 0 ? size_t(n) : 0)), this, generation_};
  w->req.data = w;
  uv_buf_t wb = uv_buf_init(w->data.data(), unsigned(w->data.size()));
  if (int rc = uv_write(&w->req, stream_, &wb, 1, &TlsStream::onWritten); rc != 0) {
    delete w;
    callbacks_.failed(rc);
    return;
  }
  ++writes_in_flight_;
}

void TlsStream::onWritten(uv_write_t* req, int status) {
  auto* w = static_cast<WriteRequest*>(req->data);
  TlsStream* self = w->stream;
  bool current = w->generation == self->generation_;
  delete w;
  if (!current) {
    return;  // written to a handle detach() forgot
  }
  --self->writes_in_flight_;
  // Last: the owner may free itself (and this stream) in its callback.
  if (status < 0) {
    self->callbacks_.failed(status);
  } else {
    self->callbacks_.written();
  }
}

}  // namespace petrel::server
