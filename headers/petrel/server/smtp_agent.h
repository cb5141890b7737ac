// SmtpAgent: the outbound delivery agent seen through the DeliveryAgent seam.
//
// prepare() (delivery job, thread pool) reads a message's content into memory once for all
// its next hops, with the header fields canonical.headers rewrote; deliver() (main loop)
// turns each delivery into one RelayJob for the RelayAgent and each RelayResult back into
// one report per recipient. Connections, next-hop resolution and the SMTP dialogue stay in
// RelayAgent; retries and bounces stay in the queue. A named smtp transport with settings of
// its own (an after-queue content filter, docs/filters.md) is an SmtpAgent with options over
// the same RelayAgent: its jobs carry the transport's concurrency and timeout, and XFORWARD.
// The free functions below are shared with the LMTP agent (server/lmtp_agent.h).
#pragma once

#include "petrel/delivery/agent.h"
#include "petrel/server/relay_agent.h"

namespace petrel::server {

// The XFORWARD attributes of a queued message's original client (Postfix XFORWARD_README):
// NAME and ADDR from "host[ip]" (an IPv6 ADDR as "IPV6:..."), PORT (the kept client_port;
// unavailable when 0: mail queued before it was kept, or made by the server),
// PROTO (SMTP or ESMTP), HELO, IDENT (our queue id) and SOURCE (REMOTE, or LOCAL for mail
// the server made itself).
std::vector<std::pair<std::string, std::string>> xforwardAttributes(const queue::StoredMessage& m);

struct SmtpAgentOptions {
  RelayTransport transport;  // empty name: the relay's own mail
  bool xforward = false;     // smtp_send_xforward_command
};
// Delivery job (thread pool): reads the message as delivered (spool file or inline body, the
// header as canonical.headers rewrote it) into message.content once for every asynchronous
// agent of the message; a second call finds it loaded. A read error reports the deliveries
// deferred (4.3.0).
void loadAgentContent(delivery::AgentMessage& message,
                      const std::vector<delivery::Delivery*>& deliveries);

// The client job of one prepared delivery: envelope, recipients with their DSN parameters,
// size and body type of the loaded content.
smtp::client::Job clientJob(const delivery::Delivery& d);

// Main loop: a RelayResult (SMTP or LMTP) as one report per recipient of `d`, each with the
// times of the attempt and the host that answered. `in_queue`: seconds before the attempt.
void reportRelayResult(delivery::Delivery& d, const RelayResult& r, double in_queue);

class SmtpAgent final : public delivery::DeliveryAgent {
 public:
  explicit SmtpAgent(RelayAgent& relay, SmtpAgentOptions options = {})
      : relay_(&relay), options_(std::move(options)) {}

  bool blocking() const override { return false; }
  void prepare(delivery::AgentMessage& message,
               const std::vector<delivery::Delivery*>& deliveries) const override;
  void deliver(const std::vector<delivery::Delivery*>& deliveries, Done done) override;

 private:
  RelayAgent* relay_;
  SmtpAgentOptions options_;
};

}  // namespace petrel::server
