// Worker: one reactor thread with its own uv_loop, listening sockets (SO_REUSEPORT, so the
// kernel spreads connections across workers) and the SMTP connections accepted on them.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "petrel/core/result.h"
#include "petrel/event/dispatcher.h"
#include "petrel/server/runtime.h"

namespace petrel::server {

class SmtpConnection;

class Worker {
 public:
  explicit Worker(Runtime& runtime);
  ~Worker();
  // Binds every listener of the config (in this thread), then runs the loop on a new thread.
  Status start(const config::Config& cfg);
  // Stop accepting and ask every session to finish; `drained` runs on the worker thread when
  // no session is left.
  void drain(std::function<void()> drained);
  // Close every connection now (drain deadline passed) and stop the loop; joins the thread.
  void stop();

  event::Dispatcher& dispatcher() { return *dispatcher_; }
  uv_loop_t* loop() { return &loop_; }
  char* readBuffer() { return read_buffer_.data(); }
  size_t readBufferSize() const { return read_buffer_.size(); }
  void add(SmtpConnection* c) { connections_.insert(c); }
  void remove(SmtpConnection* c);

 private:
  static void onConnection(uv_stream_t* server, int status);
  void closeListeners();

  Runtime* rt_;
  uv_loop_t loop_;
  std::unique_ptr<event::Dispatcher> dispatcher_;
  std::vector<uv_tcp_t*> listeners_;
  std::unordered_set<SmtpConnection*> connections_;
  std::vector<char> read_buffer_;
  std::function<void()> drained_;
  bool draining_ = false;
  std::thread thread_;
};

// Parses "host:port" into a sockaddr (IPv4 or IPv6).
Status resolveEndpoint(const config::Endpoint& ep, sockaddr_storage& out);

}  // namespace petrel::server
