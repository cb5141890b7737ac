// PolicyClient: the transport of check_policy_service on one loop (a worker's), the libuv half
// of policy/policy_service.h. It talks to inet: (TCP) and unix: services with Postfix's client
// behaviour:
//   - one request at a time per connection; a connection that answered goes back to its
//     endpoint's idle list and serves the next request (a request finding none opens another);
//   - `timeout` bounds each try (connect, write and read together);
//   - an idle connection is closed after `max_idle`, a connection is not reused once it is
//     `max_ttl` old or has served `request_limit` requests, nor after the service sent more
//     than one reply;
//   - a try that fails (refused, closed, timed out, a reply over MaxPolicyReply) is logged as
//     Postfix does ("warning: problem talking to server inet:...: ...") and retried on a fresh
//     connection after `retry_delay`, up to `try_limit` tries; then the request fails and the
//     check answers its default_action. A reply without an action fails at once.
//
//   connection:  connecting -> busy -> idle -> busy ... ; any error or deadline -> closed
//
// Owns its connections and the requests in flight (plain pointers freed in the handles' close
// callbacks). Single-threaded: use it on its loop only. It does not know what the request says.
#pragma once

#include <uv.h>

#include <array>
#include <cstddef>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "petrel/policy/policy_service.h"

namespace petrel::server {

class PolicyClient final : public policy::PolicyServiceClient {
 public:
  explicit PolicyClient(uv_loop_t* loop) : loop_(loop) {}
  ~PolicyClient() override = default;
  PolicyClient(const PolicyClient&) = delete;
  PolicyClient& operator=(const PolicyClient&) = delete;

  // `done` runs on this loop, never inside request().
  void request(const policy::ServiceEndpoint& endpoint,
               const policy::PolicyServiceSettings& settings, std::string request,
               Done done) override;
  // Closes every connection and drops the requests in flight unanswered (the loop is about to
  // stop). Call on the loop's thread; the handles close in this loop turn.
  void close();

  size_t connectionsForTest() const { return connections_.size(); }

 private:
  struct Request;
  struct Connection;

  void attempt(Request* r);
  Connection* takeIdle(const std::string& key);
  void open(Request* r);
  void send(Connection* c, Request* r);
  void replied(Connection* c, size_t end);
  void fail(Connection* c, const std::string& why);
  void retryOrGiveUp(Request* r, const std::string& why);
  void finish(Request* r, Result<std::string> result);
  void closeConnection(Connection* c);

  static void onConnect(uv_connect_t* req, int status);
  static void onWrite(uv_write_t* req, int status);
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onDeadline(uv_timer_t* timer);

  uv_loop_t* loop_;
  bool closed_ = false;
  std::unordered_set<Connection*> connections_;                     // every open one
  std::unordered_map<std::string, std::vector<Connection*>> idle_;  // by endpoint
  std::unordered_set<Request*> requests_;                           // in flight
  std::array<char, 4096> read_buffer_{};                            // one read at a time on a loop
};

}  // namespace petrel::server
