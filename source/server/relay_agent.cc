// The outbound SMTP delivery agent; see headers/petrel/server/relay_agent.h and docs/relay.md.
// This file holds the agent's bookkeeping: one Destination per next hop and TLS policy, its
// waiting jobs, idle connections and concurrency limit, and stopping. One connection's state
// machine (RelayAgent::Connection) is in relay_agent_connection.cc.
#include "petrel/server/relay_agent.h"

#include <fmt/format.h>

#include <algorithm>

#include "relay_agent_internal.h"

namespace petrel::server {

using relay_agent_detail::Pending;
using smtp::client::Outcome;
using smtp::client::RecipientStatus;

std::string describeOutcome(const Outcome& o, const std::string& relay) {
  std::string text;
  if (o.reply && o.status == RecipientStatus::Delivered) {
    text = o.reply->oneLine();
  } else if (o.reply) {
    // relay is "name[ip]:port"; Postfix names the host without the port here.
    std::string host = relay.substr(0, relay.rfind(':'));
    text = fmt::format("host {} said: {} (in reply to {} command)", host, o.reply->oneLine(),
                       o.command.empty() ? "our" : o.command);
  }
  if (!o.detail.empty()) text = text.empty() ? o.detail : text + "; " + o.detail;
  return text;
}

RelayAgent::RelayAgent(event::Dispatcher& loop, dns::ResolverPtr resolver)
    : loop_(&loop), resolver_(std::move(resolver)),
      tls_sessions_(tls::ClientSessionCache::create()) {}

RelayAgent::~RelayAgent() = default;

void RelayAgent::configure(const config::Config& cfg) {
  auto s = std::make_shared<Settings>();
  s->hostname = cfg.hostname;
  s->relayhost = cfg.relay.relayhost;
  s->credentials = cfg.relay.relayhost_auth;
  s->timeouts = cfg.relay.timeouts;
  s->concurrency = cfg.relay.destination_concurrency;
  s->cache_time = cfg.relay.connection_cache_time;
  s->ca_file = cfg.relay.tls_ca_file;
  settings_ = std::move(s);
}

void RelayAgent::setResolver(dns::ResolverPtr resolver) { resolver_ = std::move(resolver); }

void RelayAgent::submit(RelayJob job, Done done) {
  // One destination per transport, next hop and TLS policy: connections are shared only by
  // jobs that would set them up the same way, and a content filter's concurrency is its own.
  std::string key = fmt::format("{}|{}|{}", job.transport.name, job.hop.toString(),
                                config::toString(job.tls));
  auto& slot = destinations_[key];
  if (!slot) {
    slot = std::make_unique<Destination>();
    slot->key = key;
  }
  Destination& d = *slot;
  d.concurrency = job.transport.concurrency > 0 ? job.transport.concurrency
                                                : settings_->concurrency;
  Pending p{std::move(job), std::move(done), uv_now(loop_->loop())};
  while (!d.idle.empty()) {
    Connection* c = d.idle.back();
    d.idle.pop_back();
    if (c->isIdle()) {
      c->give(std::move(p));
      return;
    }
  }
  d.waiting.push_back(std::move(p));
  if (d.connections < d.concurrency) startConnection(d);
}

void RelayAgent::startConnection(Destination& d) {
  Pending p = std::move(d.waiting.front());
  d.waiting.pop_front();
  ++d.connections;
  ++connections_;
  auto* c = new Connection(*this, d, std::move(p));
  all_.insert(c);
  c->start();
}

void RelayAgent::connectionEnded(Connection* c, bool host_failed, const Outcome* why) {
  auto it = destinations_.end();
  for (auto i = destinations_.begin(); i != destinations_.end(); ++i) {
    auto& idle = i->second->idle;
    idle.erase(std::remove(idle.begin(), idle.end(), c), idle.end());
  }
  Destination* d = nullptr;
  for (auto i = destinations_.begin(); i != destinations_.end(); ++i) {
    if (i->second.get() == c->destination()) {
      it = i;
      d = i->second.get();
    }
  }
  --connections_;
  all_.erase(c);
  if (d != nullptr) {
    --d->connections;
    if (host_failed && why != nullptr) {
      // The destination is down: the jobs behind this connection would meet the same fate.
      while (!d->waiting.empty()) {
        Pending p = std::move(d->waiting.front());
        d->waiting.pop_front();
        RelayResult r;
        for (const auto& rcpt : p.job.job.recipients) {
          Outcome o = *why;
          o.recipient = rcpt.recipient.text;
          r.outcomes.push_back(std::move(o));
        }
        p.done(std::move(r));
      }
    }
    while (!d->waiting.empty() && d->connections < d->concurrency && !stopping_) {
      startConnection(*d);
    }
    if (d->connections == 0 && d->waiting.empty()) destinations_.erase(it);
  }
  maybeStopped();
}

void RelayAgent::stop(std::function<void()> done) {
  stopping_ = true;
  stopped_ = std::move(done);
  for (auto& [_, d] : destinations_) {
    while (!d->waiting.empty()) {
      Pending p = std::move(d->waiting.front());
      d->waiting.pop_front();
      p.done(RelayResult{});  // nothing was tried
    }
  }
  auto all = all_;
  for (Connection* c : all) c->abort();
  maybeStopped();
}

void RelayAgent::maybeStopped() {
  if (stopping_ && connections_ == 0 && stopped_) {
    auto fn = std::move(stopped_);
    stopped_ = nullptr;
    fn();
  }
}

size_t RelayAgent::connections() const { return connections_; }

size_t RelayAgent::waiting() const {
  size_t n = 0;
  for (const auto& [_, d] : destinations_) n += d->waiting.size();
  return n;
}

}  // namespace petrel::server
