// ProxyFilter: one client session's link to its listener's before-queue content filter
// (proxy_filter, Postfix smtpd_proxy_filter; docs/filters.md).
//
// The session driver hands it each accepted MAIL, RCPT and DATA and the message content (it is
// the content chain's sink: the content goes out dot-stuffed as it arrives, never held whole),
// and it answers each with the filter's reply, which the driver gives the client. It owns the
// libuv connection (TCP or unix socket, opened at the first MAIL, kept for the session's later
// transactions, opened again after a failure), the smtp::ProxyClient protocol state and
// proxy_timeout. A filter that cannot be reached, times out or breaks the protocol is logged
// here ("warning: ...: proxy filter ...: detail") and answered with our generic
// "451 4.3.0 Error: queue file write error": the client never learns our set-up. It does not
// queue anything and does not know the session.
//
// Answers always arrive from a libuv callback, never inside the call that asked. Destroying
// the ProxyFilter cancels them: it says QUIT when the filter is idle and closes the connection
// on its own.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/smtp/body_reader.h"
#include "petrel/smtp/proxy_client.h"
#include "petrel/smtp/reply.h"

namespace petrel::server {

class ProxyFilter final : public smtp::BodySink {
 public:
  using Answer = std::function<void(smtp::Reply)>;

  // `ehlo_name`: proxy_ehlo or our hostname; `client`: "name[ip]" for the log.
  ProxyFilter(uv_loop_t* loop, config::ProxyFilter settings, std::string ehlo_name,
              std::string client);
  ~ProxyFilter() override;
  ProxyFilter(const ProxyFilter&) = delete;
  ProxyFilter& operator=(const ProxyFilter&) = delete;

  // Each request: at most one in flight; `done` gets the client's reply.
  // MAIL (our checks accepted it): `command` without CRLF; XFORWARD goes first when offered.
  void mail(std::vector<smtp::XforwardAttribute> xforward, std::string command, Answer done);
  void rcpt(std::string command, Answer done);
  void data(Answer done);  // a 354 means: send the content
  // BodySink: content after the filter's 354, as the content chain leaves it.
  void append(std::string_view content) override;
  // The content is complete: the final "." and the filter's verdict on the message.
  void endOfData(Answer done);
  // The client's message ended before its end of data (refused by the session, the client
  // left): the filter holds part of it, so this connection goes (the filter drops it).
  void abandonData();

  // Octets handed to the socket and not yet written: the driver stops reading the client
  // while this is large, as it does for the spool (backpressure, no whole message in memory).
  size_t backlog() const;
  void onDrained(std::function<void()> fn) { drained_ = std::move(fn); }

  // What the client is told when the filter fails.
  static smtp::Reply failureReply() {
    return smtp::Reply(451, "4.3.0", "Error: queue file write error");
  }

  struct Link;  // one connection to the filter (proxy_filter.cc)

  // Called by the link (proxy_filter.cc).
  void linkAnswered(smtp::Reply reply);
  void linkFailed(const std::string& why, std::optional<smtp::Reply> last);
  void linkDrained();

 private:
  void ensureLink();
  void detachLink();
  void answerSoon(smtp::Reply reply);
  void deliver(smtp::Reply reply);
  void answered(const smtp::Reply& reply);

  uv_loop_t* loop_;
  config::ProxyFilter settings_;
  std::string ehlo_name_;
  std::string client_;
  Link* link_ = nullptr;    // owned by itself: it frees itself once its handles are closed
  Answer pending_;          // the request in flight
  bool tx_failed_ = false;  // the filter failed in this transaction: the rest gets 451
  bool in_data_ = false;    // between the 354 and endOfData()
  bool tx_open_ = false;    // from mail() to the end-of-data answer (or abandonData)
  smtp::ProxyClient::Request last_ = smtp::ProxyClient::Request::Mail;  // the one in flight
  std::function<void()> drained_;
  uv_timer_t* soon_ = nullptr;  // answers that need no filter reply, on the next loop turn
  std::vector<smtp::Reply> soon_replies_;
};

}  // namespace petrel::server
