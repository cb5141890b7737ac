// Delivery agents: grouping per target and dispatch per transport; see delivery/agent.h.
#include "petrel/delivery/agent.h"

#include <fmt/format.h>

#include <algorithm>

namespace petrel::delivery {

namespace {

constexpr std::array<Transport, 2> Transports = {Transport::Maildir, Transport::Smtp};

void reportMissingAgent(Delivery& d) {
  RecipientReport r;
  r.dsn = "4.3.5";
  r.text = fmt::format("no delivery agent for transport {}", toString(d.target.transport));
  d.reports.assign(d.recipients.size(), r);
}

// The unreported deliveries of `m` for `transport`, with their message set.
std::vector<Delivery*> unreported(MessageDeliveries& m, Transport transport) {
  std::vector<Delivery*> out;
  for (auto& d : m.deliveries) {
    if (d.target.transport != transport || d.reported()) continue;
    d.message = &m.message;
    out.push_back(&d);
  }
  return out;
}

// Equal for equal targets: a Maildir target is its path; a next hop's fields hold no '\n'.
std::string targetKey(const DeliveryTarget& t) {
  if (t.transport == Transport::Maildir) return "m\n" + t.maildir;
  return fmt::format("{}\n{}\n{}\n{}\n{}\n{}", int(t.transport), t.next_hop.host,
                     t.next_hop.port, t.next_hop.mx_lookup, int(t.tls), t.sender);
}

}  // namespace

void MessageDeliveries::add(const DeliveryTarget& target, size_t index) {
  if (by_target_.size() != deliveries.size()) {  // the list was changed from outside
    by_target_.clear();
    for (size_t i = 0; i < deliveries.size(); ++i) by_target_[targetKey(deliveries[i].target)] = i;
  }
  auto [it, added] = by_target_.try_emplace(targetKey(target), deliveries.size());
  if (added) deliveries.push_back(Delivery{target, {}, {}, nullptr});
  deliveries[it->second].recipients.push_back(index);
}

bool MessageDeliveries::pending() const {
  return std::any_of(deliveries.begin(), deliveries.end(),
                     [](const Delivery& d) { return !d.reported(); });
}

void AgentRegistry::add(Transport transport, DeliveryAgent& agent) {
  agents_[size_t(transport)] = &agent;
}

DeliveryAgent* AgentRegistry::find(Transport transport) const {
  return agents_[size_t(transport)];
}

void deliverInJob(const AgentRegistry& agents, std::vector<MessageDeliveries*>& messages) {
  for (MessageDeliveries* m : messages) {
    for (Transport t : Transports) {
      std::vector<Delivery*> mine = unreported(*m, t);
      if (mine.empty()) continue;
      DeliveryAgent* agent = agents.find(t);
      if (agent == nullptr) {
        for (Delivery* d : mine) reportMissingAgent(*d);
      } else if (!agent->blocking()) {
        agent->prepare(m->message, mine);
      }
    }
  }
  for (Transport t : Transports) {
    DeliveryAgent* agent = agents.find(t);
    if (agent == nullptr || !agent->blocking()) continue;
    std::vector<Delivery*> all;
    for (MessageDeliveries* m : messages) {
      std::vector<Delivery*> mine = unreported(*m, t);
      all.insert(all.end(), mine.begin(), mine.end());
    }
    if (!all.empty()) agent->deliver(all, [] {});
  }
}

void deliverOnLoop(const AgentRegistry& agents, MessageDeliveries& message,
                   std::function<void()> done) {
  struct Waiting {
    size_t agents = 1;  // one for this call, so that no agent's answer finishes it early
    std::function<void()> done;
  };
  auto waiting = std::make_shared<Waiting>();
  waiting->done = std::move(done);
  auto answered = [waiting] {
    if (--waiting->agents == 0) waiting->done();
  };
  for (Transport t : Transports) {
    std::vector<Delivery*> mine = unreported(message, t);
    if (mine.empty()) continue;
    DeliveryAgent* agent = agents.find(t);
    if (agent == nullptr) {
      for (Delivery* d : mine) reportMissingAgent(*d);
      continue;
    }
    ++waiting->agents;
    agent->deliver(mine, answered);
  }
  answered();
}

}  // namespace petrel::delivery
