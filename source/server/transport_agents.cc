// makeTransportAgents; see server/transport_agents.h.
#include "petrel/server/transport_agents.h"

#include "petrel/server/pipe_agent.h"

namespace petrel::server {

namespace {

using config::TransportType;

// The agent of one configured transport, or null when its kind has none yet.
std::shared_ptr<delivery::DeliveryAgent> makeAgent(const config::TransportConfig& transport,
                                                   const TransportAgentContext& context) {
  switch (transport.type) {
    case TransportType::Pipe:
      return std::make_shared<PipeAgent>(context.main, transport.name, transport.pipe);
    default: return nullptr;
  }
}

}  // namespace

delivery::AgentRegistry makeTransportAgents(const TransportAgentContext& context) {
  delivery::AgentRegistry agents;
  agents.addUnowned("smtp", context.smtp);
  agents.addUnowned("relay", context.smtp);
  for (const config::TransportConfig& t : context.cfg.transports) {
    if (auto agent = makeAgent(t, context)) {
      agents.add(t.name, std::move(agent));
    } else if (t.type == TransportType::Smtp) {
      agents.addUnowned(t.name, context.smtp);  // no settings of its own: the relay agent
    }
  }
  return agents;
}

}  // namespace petrel::server
