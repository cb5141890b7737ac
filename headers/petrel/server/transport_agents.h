// The delivery agents of the transports (docs/transports.md): made from the config at start
// and on each reload, one line per agent kind in transport_agents.cc, so a new kind of agent
// is its own file and a line there.
//
// The registry holds every transport but `virtual`: the Maildir agent is made per delivery
// job, with the Sieve scripts of that job's snapshot. The built-in `smtp` and `relay` are the
// relay agent's SmtpAgent; a configured transport of type smtp without settings of its own is
// that agent too, and one with settings (concurrency, xforward, data_timeout) an SmtpAgent of
// its own over the same RelayAgent, whose jobs carry them. The built-in `lmtp` (and every
// `type: lmtp` entry) is an LmtpAgent with its settings over the shared LmtpClient. Kinds
// whose agent is not built here leave their transport without an agent, and its mail is
// deferred (4.3.5) until a config names one that is.
#pragma once

#include "petrel/config/config.h"
#include "petrel/delivery/agent.h"
#include "petrel/event/dispatcher.h"
#include "petrel/server/relay_agent.h"
#include "petrel/server/lmtp_agent.h"

namespace petrel::server {

struct TransportAgentContext {
  event::Dispatcher& main;         // the loop asynchronous agents run on
  const config::Config& cfg;       // `transports:` and the settings agents read
  delivery::DeliveryAgent& smtp;   // the relay agent's SmtpAgent; outlives every registry
  RelayAgent& relay;               // under it; outlives every registry
  LmtpClient& lmtp;                // the LMTP connections of every lmtp transport; outlives them
};

delivery::AgentRegistry makeTransportAgents(const TransportAgentContext& context);

}  // namespace petrel::server
