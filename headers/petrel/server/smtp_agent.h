// SmtpAgent: the outbound delivery agent seen through the DeliveryAgent seam.
//
// prepare() (delivery job, thread pool) reads a message's content into memory once for all
// its next hops, with the header fields canonical.headers rewrote; deliver() (main loop)
// turns each delivery into one RelayJob for the RelayAgent and each RelayResult back into
// one report per recipient. Connections, next-hop resolution and the SMTP dialogue stay in
// RelayAgent; retries and bounces stay in the queue.
#pragma once

#include "petrel/delivery/agent.h"
#include "petrel/server/relay_agent.h"

namespace petrel::server {

class SmtpAgent final : public delivery::DeliveryAgent {
 public:
  explicit SmtpAgent(RelayAgent& relay) : relay_(&relay) {}

  bool blocking() const override { return false; }
  void prepare(delivery::AgentMessage& message,
               const std::vector<delivery::Delivery*>& deliveries) const override;
  void deliver(const std::vector<delivery::Delivery*>& deliveries, Done done) override;

 private:
  RelayAgent* relay_;
};

}  // namespace petrel::server
