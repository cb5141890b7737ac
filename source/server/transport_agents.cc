// makeTransportAgents; see server/transport_agents.h.
#include "petrel/server/transport_agents.h"

#include "petrel/server/pipe_agent.h"
#include "petrel/server/smtp_agent.h"

namespace petrel::server {

namespace {

using config::TransportType;

// The agent of one configured transport, or null when its kind has none yet.
std::shared_ptr<delivery::DeliveryAgent> makeAgent(const config::TransportConfig& transport,
                                                   const TransportAgentContext& context) {
  switch (transport.type) {
    case TransportType::Smtp: {
      if (!transport.smtp.any()) return nullptr;  // the relay agent itself (below)
      // The same RelayAgent (its connections, stop and reload stay in one place); the jobs
      // carry the transport's name, so its destinations and their concurrency are its own.
      SmtpAgentOptions options;
      options.transport.name = transport.name;
      options.transport.concurrency = transport.smtp.concurrency.value_or(0);
      options.transport.data_done_timeout = transport.smtp.data_timeout.value_or(0);
      options.xforward = transport.smtp.xforward;
      return std::make_shared<SmtpAgent>(context.relay, std::move(options));
    }
    case TransportType::Lmtp: {
      auto settings = std::make_shared<LmtpClient::Settings>();
      settings->hostname = context.cfg.hostname;
      settings->lmtp = transport.lmtp;
      return std::make_shared<LmtpAgent>(context.lmtp, transport.name, std::move(settings));
    }
    case TransportType::Pipe:
      return std::make_shared<PipeAgent>(context.main, transport.name, transport.pipe);
    case TransportType::Virtual: return nullptr;
  }
  return nullptr;
}

}  // namespace

delivery::AgentRegistry makeTransportAgents(const TransportAgentContext& context) {
  delivery::AgentRegistry agents;
  agents.addUnowned("smtp", context.smtp);
  agents.addUnowned("relay", context.smtp);
  // The built-in lmtp with default settings, unless an entry named lmtp replaces them.
  bool lmtp_configured = false;
  for (const config::TransportConfig& t : context.cfg.transports) {
    lmtp_configured = lmtp_configured || t.name == "lmtp";
  }
  if (!lmtp_configured) {
    config::TransportConfig builtin;
    builtin.name = "lmtp";
    builtin.type = TransportType::Lmtp;
    agents.add("lmtp", makeAgent(builtin, context));
  }
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
