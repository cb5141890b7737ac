// TlsStream: the bytes of one TCP connection, in plaintext or TLS, for the inbound
// SmtpConnection and the outbound relay connection alike.
//
// It owns the tls::Engine once TLS starts and the libuv writes: each write is tried at once
// (uv_try_write) and what the socket does not take is queued (uv_write), after the writes
// already in flight, so bytes leave in order. Input is given to it by the owner, which keeps
// reading the socket itself: receive() takes ciphertext and returns the plaintext and what
// happened to the handshake. It does not close the socket, log, or know SMTP.
//
// Lifetime: the owner keeps the TlsStream alive until its handle's close callback has run
// (libuv runs every write callback before it). detach() forgets a handle that is closing, so
// that writes still in flight on it report nothing (the relay reconnects to another address
// with the same TlsStream).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "petrel/core/result.h"
#include "petrel/tls/tls.h"

namespace petrel::server {

class TlsStream {
 public:
  struct Callbacks {
    // A queued write has finished; writing() says whether others are still queued.
    std::function<void()> written;
    // The socket refused a write (a libuv error code): the connection is broken. Runs inside
    // the call that wrote when the socket fails at once, else from the write's callback.
    std::function<void(int status)> failed;
  };

  explicit TlsStream(Callbacks callbacks) : callbacks_(std::move(callbacks)) {}
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Writes go to `stream` (not owned) from now on.
  void attach(uv_stream_t* stream) { stream_ = stream; }
  // The handle is closing: drop the engine and forget the writes in flight.
  void detach();

  // From now on bytes are TLS records; sends what the engine says first (a ClientHello).
  void startTls(std::unique_ptr<tls::Engine> engine);
  bool encrypted() const { return engine_ != nullptr; }
  // The engine once TLS has started (for its version, cipher, peer), else nullptr.
  const tls::Engine* engine() const { return engine_.get(); }
  bool handshakeDone() const { return engine_ && engine_->handshakeDone(); }

  // Sends application data, encrypted once TLS is on. An error is the TLS library's: the
  // connection is broken, and nothing was sent (flush() sends what the engine has left, an
  // alert).
  Status write(std::string_view plaintext);
  // Sends the ciphertext the engine has produced (handshake messages, alerts).
  void flush();
  // Sends a close_notify alert (with TLS on).
  void shutdownTls();

  struct Input {
    // Not ok: the TLS library failed (a bad record, a failed handshake); the connection is
    // broken and nothing else below is set.
    Status status = okStatus();
    bool during_handshake = false;  // the failure came before the handshake was done
    bool handshake_done = false;    // this input completed the handshake
    std::string plaintext;          // decrypted application data
    bool peer_closed = false;       // a close_notify has arrived (now or before)
  };
  // Ciphertext read from the socket (TLS on). Sends what the engine answers (handshake
  // messages) before returning.
  Input receive(std::string_view ciphertext);

  // Writes queued and not yet finished.
  bool writing() const { return writes_in_flight_ > 0; }

 private:
  struct WriteRequest {
    uv_write_t req;
    std::string data;
    TlsStream* stream;
    uint64_t generation;
  };
  void send(std::string_view bytes);
  static void onWritten(uv_write_t* req, int status);

  Callbacks callbacks_;
  uv_stream_t* stream_ = nullptr;
  std::unique_ptr<tls::Engine> engine_;
  int writes_in_flight_ = 0;
  uint64_t generation_ = 0;  // bumped by detach(): stale write callbacks see the difference
};

}  // namespace petrel::server
