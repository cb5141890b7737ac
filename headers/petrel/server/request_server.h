// RequestServer: a tiny one-request-per-connection server on the main loop, used by the
// status HTTP endpoint (TCP, request ends at an empty line) and the control socket (unix
// socket, request is one line). Requests are bounded in size and time; the handler answers
// asynchronously through `respond`, then the connection is closed.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "petrel/config/config.h"
#include "petrel/core/result.h"
#include "petrel/tls/tls.h"

namespace petrel::server {

class RequestServer {
 public:
  using Respond = std::function<void(std::string)>;
  using Handler = std::function<void(const std::string& request, Respond respond)>;

  RequestServer(uv_loop_t* loop, std::string terminator, size_t max_request, Handler handler);
  ~RequestServer();
  Status listenTcp(const config::Endpoint& ep);
  // Creates the socket with mode 0600 (umask around bind, no window where it is wider).
  Status listenUnix(const std::string& path);
  // Every connection accepted from now on speaks TLS (the status endpoint's status.tls): the
  // request is read from the decrypted bytes, the answer is encrypted and ends with a
  // close_notify. A failed handshake closes the connection.
  void useTls(std::shared_ptr<tls::ServerContext> context) { tls_ = std::move(context); }
  void close();

 private:
  static void onConnection(uv_stream_t* server, int status);
  uv_loop_t* loop_;
  std::string terminator_;
  size_t max_request_;
  Handler handler_;
  uv_stream_t* listener_ = nullptr;
  std::string unix_path_;
  std::shared_ptr<tls::ServerContext> tls_;
};

// Parses "GET /path HTTP/1.x" from a request head; empty when malformed or not GET/HEAD.
std::string httpRequestPath(const std::string& head);
std::string httpResponse(int code, const std::string& content_type, const std::string& body);

}  // namespace petrel::server
