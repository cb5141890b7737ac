// The LMTP agent: the nexthop parser, LmtpAgent (deliveries -> jobs -> reports) and
// LmtpClient's per destination bookkeeping (waiting jobs, idle connections, the concurrency
// limit, stopping). One connection's driver is in lmtp_connection.cc; see
// headers/petrel/server/lmtp_agent.h and docs/lmtp.md.
#include "petrel/server/lmtp_agent.h"

#include <fmt/format.h>

#include <algorithm>

#include "petrel/core/cidr.h"
#include "petrel/core/strings.h"
#include "petrel/log/mail_log.h"
#include "petrel/server/runtime.h"
#include "petrel/server/smtp_agent.h"

#include "lmtp_agent_internal.h"

namespace petrel::server {

using smtp::client::Outcome;

namespace {

// sockaddr_un's sun_path; Postfix refuses longer paths the same way.
constexpr size_t MaxSocketPath = 107;

Result<LmtpDestination> parseInet(std::string_view rest, std::string_view nexthop) {
  LmtpDestination d;
  d.kind = LmtpDestination::Kind::Inet;
  std::string_view host = rest, port;
  if (rest.starts_with('[')) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return Error::config(fmt::format("LMTP nexthop '{}': missing ']'", nexthop));
    }
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return Error::config(fmt::format("LMTP nexthop '{}': text after ']'", nexthop));
    }
    if (!after.empty()) port = after.substr(1);
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Error::config(
          fmt::format("LMTP nexthop '{}': write an IPv6 address in brackets", nexthop));
    }
  }
  if (host.empty() || host.find_first_of(" []/") != std::string_view::npos) {
    return Error::config(fmt::format("LMTP nexthop '{}': bad host", nexthop));
  }
  if (!port.empty() || rest.ends_with(':')) {
    auto p = parseUnsigned(port);
    if (!p || *p == 0 || *p > 65535) {
      return Error::config(fmt::format("LMTP nexthop '{}': bad port", nexthop));
    }
    d.port = uint16_t(*p);
  }
  d.host = std::string(host);
  return d;
}

}  // namespace

Result<LmtpDestination> parseLmtpNexthop(std::string_view nexthop) {
  std::string_view n = trim(nexthop);
  if (n.empty()) return Error::config("LMTP nexthop is empty (want unix:/path or inet:host:port)");
  if (hasControlCharacter(n)) return Error::config("LMTP nexthop has control characters");
  std::string_view rest = n;
  bool unix_socket = false;
  if (istartsWith(n, "unix:")) {
    rest = n.substr(5);
    unix_socket = true;
  } else if (istartsWith(n, "inet:")) {
    return parseInet(n.substr(5), n);
  } else if (n.starts_with('/')) {
    unix_socket = true;
  }
  if (!unix_socket) return parseInet(n, n);
  if (!rest.starts_with('/')) {
    return Error::config(
        fmt::format("LMTP nexthop '{}': the socket path must be absolute", std::string(n)));
  }
  if (rest.size() > MaxSocketPath) {
    return Error::config(fmt::format("LMTP nexthop '{}': unix-domain name too long", n));
  }
  LmtpDestination d;
  d.kind = LmtpDestination::Kind::Unix;
  d.path = std::string(rest);
  return d;
}

std::vector<std::string> lmtpLocalAddresses(std::string_view host, const dns::HostsFile* hosts) {
  if (IpAddress::parse(host)) return {std::string(host)};
  if (hosts == nullptr) return {};
  std::vector<std::string> out = hosts->addressesOf(host);
  if (out.size() > MaxLmtpAddresses) out.resize(MaxLmtpAddresses);
  return out;
}

Result<std::vector<std::string>> lmtpDnsAddresses(std::string_view host, const dns::Answer& a,
                                                  const dns::Answer& aaaa) {
  std::vector<std::string> out;
  for (const dns::Answer* answer : {&a, &aaaa}) {
    if (!answer->found()) continue;
    for (const std::string& ip : answer->addresses) {
      if (out.size() == MaxLmtpAddresses) break;
      if (std::find(out.begin(), out.end(), ip) == out.end()) out.push_back(ip);
    }
  }
  if (!out.empty()) return out;
  using S = dns::Answer::Status;
  const dns::Answer* temp = a.status == S::TempFail      ? &a
                            : aaaa.status == S::TempFail ? &aaaa
                                                         : nullptr;
  if (temp != nullptr) {
    return Error::temporary(fmt::format(
        "Host or domain name not found. Name service error for name={} type={}: Host not "
        "found, try again{}",
        host, temp == &a ? "A" : "AAAA", temp->error.empty() ? "" : " (" + temp->error + ")"));
  }
  return Error::temporary(fmt::format(
      "Host or domain name not found. Name service error for name={} type=A: Host not found",
      host));
}

// ---- the agent --------------------------------------------------------------------------

void LmtpAgent::prepare(delivery::AgentMessage& message,
                        const std::vector<delivery::Delivery*>& deliveries) const {
  loadAgentContent(message, deliveries);
}

void LmtpAgent::deliver(const std::vector<delivery::Delivery*>& deliveries, Done done) {
  struct Waiting {
    size_t jobs = 0;
    Done done;
  };
  auto waiting = std::make_shared<Waiting>();
  waiting->jobs = deliveries.size();
  waiting->done = std::move(done);
  int64_t start_us = nowMicros();
  for (delivery::Delivery* d : deliveries) {
    const queue::StoredMessage& m = *d->message->stored;
    double in_queue = double(start_us - m.arrival_us) / 1e6;
    auto finished = [d, waiting, in_queue](RelayResult r) {
      reportRelayResult(*d, r, in_queue);
      for (auto& report : d->reports) report.program = log::Program::Lmtp;
      if (--waiting->jobs == 0) waiting->done();
    };
    Result<LmtpDestination> where = parseLmtpNexthop(d->target.nexthop);
    if (!where) {
      // Postfix: "4.3.5 Server configuration error"; the mail waits for the admin.
      log::mail::warning(log::Program::Lmtp, fmt::format("{}: transport {}: {}", m.id, transport_,
                                                         where.error().message()));
      RelayResult r;
      for (size_t k = 0; k < d->recipients.size(); ++k) {
        Outcome o;
        o.dsn = "4.3.5";
        o.detail = fmt::format("Server configuration error: {}", where.error().message());
        r.outcomes.push_back(std::move(o));
      }
      finished(std::move(r));
      continue;
    }
    LmtpClient::Job job;
    job.queue_id = m.id;
    job.key = fmt::format("{}|{}", transport_, d->target.nexthop);
    job.destination = std::move(*where);
    job.settings = settings_;
    job.job = clientJob(*d);
    job.content = d->message->content;
    client_->submit(std::move(job), std::move(finished));
  }
}

// ---- the client's bookkeeping -------------------------------------------------------------

LmtpClient::LmtpClient(event::Dispatcher& loop, LmtpNameService names)
    : loop_(&loop), names_(std::move(names)) {}

LmtpClient::~LmtpClient() = default;

void LmtpClient::submit(Job job, Done done) {
  if (stopping_) {
    // Nothing was tried; the queue keeps the mail. Never inside the caller's call.
    loop_->post([done = std::move(done)] { done(RelayResult{}); });
    return;
  }
  auto& slot = destinations_[job.key];
  if (!slot) {
    slot = std::make_unique<Destination>();
    slot->key = job.key;
  }
  Destination& d = *slot;
  uint32_t limit = job.settings->lmtp.concurrency;
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
  if (d.connections < limit) startConnection(d);
}

void LmtpClient::startConnection(Destination& d) {
  Pending p = std::move(d.waiting.front());
  d.waiting.pop_front();
  ++d.connections;
  ++connections_;
  auto* c = new Connection(*this, d, std::move(p));
  all_.insert(c);
  c->start();
}

void LmtpClient::connectionEnded(Connection* c, const Outcome* host_failure) {
  all_.erase(c);
  --connections_;
  auto it = destinations_.end();
  for (auto i = destinations_.begin(); i != destinations_.end(); ++i) {
    auto& idle = i->second->idle;
    idle.erase(std::remove(idle.begin(), idle.end(), c), idle.end());
    if (i->second.get() == c->destination()) it = i;
  }
  if (it == destinations_.end()) return maybeStopped();
  Destination& d = *it->second;
  --d.connections;
  if (host_failure != nullptr) {
    // The server is down or refuses us: the jobs behind this one would meet the same fate.
    while (!d.waiting.empty()) {
      Pending p = std::move(d.waiting.front());
      d.waiting.pop_front();
      RelayResult r;
      r.relay = "none";
      for (const auto& rcpt : p.job.job.recipients) {
        Outcome o = *host_failure;
        o.recipient = rcpt.recipient.text;
        r.outcomes.push_back(std::move(o));
      }
      p.done(std::move(r));
    }
  }
  while (!d.waiting.empty() && !stopping_ &&
         d.connections < d.waiting.front().job.settings->lmtp.concurrency) {
    startConnection(d);
  }
  if (d.connections == 0 && d.waiting.empty()) destinations_.erase(it);
  maybeStopped();
}

void LmtpClient::stop(std::function<void()> done) {
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

void LmtpClient::maybeStopped() {
  if (stopping_ && connections_ == 0 && stopped_) {
    auto fn = std::move(stopped_);
    stopped_ = nullptr;
    fn();
  }
}

}  // namespace petrel::server
