// The SMTP client side of a before-queue content filter (Postfix smtpd_proxy_filter,
// SMTPD_PROXY_README; docs/filters.md) as a plain state machine: the filter's bytes and the
// driver's requests in, bytes to send and the filter's answers out.
//
// Unlike ClientSession (a whole queued message per job, recipients known up front) this
// client relays one client transaction as it arrives, in lockstep: each request (MAIL, RCPT,
// DATA, end of data) is one command whose reply becomes the client's reply. It owns the
// connection set-up (greeting, EHLO), the XFORWARD attributes before each MAIL when the filter
// offers XFORWARD (Postfix XFORWARD_README), and the RSET before a MAIL that follows an
// unfinished transaction, so one filter connection serves a whole client session. It does not
// touch sockets, clocks or the content: the driver writes the DotStuffer output between the
// 354 and endOfData().
//
//   Greeting --220--> Ehlo --250--> Ready <-> Waiting (a prelude line: RSET, XFORWARD; or the
//      |                |             |                request: MAIL, RCPT, DATA, ".")
//      +--- other ------+-------------+--> Failed (every request after it fails at once)
//
// Any trouble with the filter (a refused greeting, EHLO, RSET or XFORWARD, a 421, a malformed
// reply, the driver's timeout or a lost connection) is a failure with a detail for the log;
// the client never sees that detail (the driver answers 451 4.3.0). Requests may be made
// before the set-up is done: the one in flight waits for it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/smtp/address.h"
#include "petrel/smtp/reply.h"

namespace petrel::smtp {

// One XFORWARD attribute (NAME, ADDR, PORT, PROTO, HELO, IDENT, SOURCE); an empty value is
// sent as [UNAVAILABLE]. Values are sent xtext-encoded (RFC 3461 4).
struct XforwardAttribute {
  std::string name;
  std::string value;
};

// The XFORWARD commands for the attributes the filter offered (`offered`, upper case), each
// command line at most 512 octets with its CRLF (RFC 5321 4.5.3.1.4); attributes in the order
// given.
std::vector<std::string> xforwardCommands(const std::vector<XforwardAttribute>& attributes,
                                          const std::vector<std::string>& offered);
// The client's MAIL and RCPT as the filter gets them (without CRLF): the parameters the
// client gave (SIZE, BODY, SMTPUTF8, RET, ENVID; NOTIFY, ORCPT), as Postfix passes the
// client's command on; whether the filter takes them is the filter's answer.
std::string proxyMailCommand(const MailParams& mail);
std::string proxyRcptCommand(const RcptParams& rcpt);

class ProxyClient {
 public:
  enum class Request : uint8_t { Mail, Rcpt, Data, EndOfData };

  // What the driver does after each call.
  struct Step {
    std::string send;             // bytes to write to the filter, in order
    std::optional<Reply> answer;  // the filter's reply to the request in flight
    // The filter failed: the detail for the log. The request in flight (if any) gets no
    // answer: the driver answers it with its generic 451 4.3.0.
    std::optional<std::string> failure;
  };

  // `ehlo_name`: our name in EHLO (no spaces or control characters).
  explicit ProxyClient(std::string ehlo_name);

  Step onInput(std::string_view bytes);
  // Precondition for the requests: !busy() and !failed().
  // MAIL: `command` is the whole line without CRLF ("MAIL FROM:<a@b> SIZE=10"); `xforward`
  // goes before it when the filter offers XFORWARD.
  Step mail(std::vector<XforwardAttribute> xforward, std::string command);
  Step rcpt(std::string command);
  Step data();
  // The content and its final ".\r\n" are written: wait for the filter's verdict.
  Step endOfData();
  // The driver's timer for the current wait fired, or the connection was lost.
  Step fail(std::string why);
  // QUIT when the connection is usable and idle; empty otherwise (close at once).
  std::string quit();

  // A request is in flight (its answer is still due).
  bool busy() const { return request_.has_value(); }
  // A reply is due from the filter: the driver runs proxy_timeout.
  bool waiting() const;
  bool failed() const { return state_ == State::Failed; }
  // The filter may be in a transaction (MAIL accepted, no end-of-data reply yet).
  bool inTransaction() const { return transaction_open_; }
  const std::vector<std::string>& xforwardOffered() const { return xforward_offered_; }

 private:
  enum class State { Greeting, Ehlo, Ready, Failed, Quit };

  void onReply(const Reply& r);
  void advance();
  void request(Request what, std::string line);
  void failWith(std::string why);
  void send(std::string line);

  std::string ehlo_name_;
  State state_ = State::Greeting;
  ReplyReader reader_;
  Step out_;
  std::optional<Request> request_;  // in flight
  std::string request_line_;        // not yet sent; empty for EndOfData
  bool request_sent_ = false;
  std::vector<std::string> prelude_;  // RSET / XFORWARD lines still to send before it
  size_t prelude_next_ = 0;
  bool prelude_built_ = false;
  bool prelude_waiting_ = false;             // a prelude line was sent and awaits its 250
  std::string prelude_line_;                 // that line, for the failure detail
  std::vector<XforwardAttribute> xforward_;  // of the MAIL in flight
  std::vector<std::string> xforward_offered_;
  bool transaction_open_ = false;
};

}  // namespace petrel::smtp
