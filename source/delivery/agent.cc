// Delivery agents: grouping per target and dispatch per transport; see delivery/agent.h.
#include "petrel/delivery/agent.h"

#include <fmt/format.h>

#include <algorithm>

namespace petrel::delivery {

namespace {

void reportMissingAgent(Delivery& d) {
  RecipientReport r;
  r.dsn = "4.3.5";
  r.text = fmt::format("no delivery agent for transport {}", d.target.transport_name);
  d.reports.assign(d.recipients.size(), r);
}

// The unreported deliveries of `m` for the transport `name`, with their message set.
std::vector<Delivery*> unreported(MessageDeliveries& m, const std::string& name) {
  std::vector<Delivery*> out;
  for (auto& d : m.deliveries) {
    if (d.target.transport_name != name || d.reported()) continue;
    d.message = &m.message;
    out.push_back(&d);
  }
  return out;
}

// The transport names of the unreported deliveries, in order of first appearance.
void addNames(const MessageDeliveries& m, std::vector<std::string>& names) {
  for (const auto& d : m.deliveries) {
    if (d.reported()) continue;
    if (std::find(names.begin(), names.end(), d.target.transport_name) == names.end()) {
      names.push_back(d.target.transport_name);
    }
  }
}

// Equal for equal targets; no field holds a '\n'.
std::string targetKey(const DeliveryTarget& t) {
  if (t.transport == Transport::Virtual) return "m\n" + t.maildir;
  return fmt::format("{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}", t.transport_name, t.next_hop.host,
                     t.next_hop.port, t.next_hop.mx_lookup, int(t.tls), t.nexthop, t.sender,
                     int(t.arc_seal));
}

}  // namespace

void MessageDeliveries::add(const DeliveryTarget& target, size_t index) {
  if (by_target_.size() != deliveries.size()) {  // the list was changed from outside
    by_target_.clear();
    for (size_t i = 0; i < deliveries.size(); ++i) by_target_[targetKey(deliveries[i].target)] = i;
  }
  auto [it, added] = by_target_.try_emplace(targetKey(target), deliveries.size());
  if (added) deliveries.push_back(Delivery{target, {}, {}, nullptr, {}});
  deliveries[it->second].recipients.push_back(index);
}

bool MessageDeliveries::pending() const {
  return std::any_of(deliveries.begin(), deliveries.end(),
                     [](const Delivery& d) { return !d.reported(); });
}

void AgentRegistry::add(const std::string& name, std::shared_ptr<DeliveryAgent> agent) {
  agents_[name] = std::move(agent);
}

void AgentRegistry::addUnowned(const std::string& name, DeliveryAgent& agent) {
  agents_[name] = std::shared_ptr<DeliveryAgent>(std::shared_ptr<void>(), &agent);
}

void AgentRegistry::stop() const {
  for (const auto& [name, agent] : agents_) agent->stop();
}

DeliveryAgent* AgentRegistry::find(const std::string& name) const {
  auto it = agents_.find(name);
  return it == agents_.end() ? nullptr : it->second.get();
}

void deliverInJob(const AgentRegistry& agents, std::vector<MessageDeliveries*>& messages) {
  std::vector<std::string> names;
  for (MessageDeliveries* m : messages) {
    std::vector<std::string> mine_names;
    addNames(*m, mine_names);
    for (const std::string& name : mine_names) {
      std::vector<Delivery*> mine = unreported(*m, name);
      DeliveryAgent* agent = agents.find(name);
      if (agent == nullptr) {
        for (Delivery* d : mine) reportMissingAgent(*d);
        continue;
      }
      if (!agent->blocking()) agent->prepare(m->message, mine);
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  for (const std::string& name : names) {
    DeliveryAgent* agent = agents.find(name);
    if (!agent->blocking()) continue;
    std::vector<Delivery*> all;
    for (MessageDeliveries* m : messages) {
      std::vector<Delivery*> mine = unreported(*m, name);
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
  std::vector<std::string> names;
  addNames(message, names);
  for (const std::string& name : names) {
    std::vector<Delivery*> mine = unreported(message, name);
    DeliveryAgent* agent = agents.find(name);
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
