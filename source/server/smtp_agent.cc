// SmtpAgent: deliveries -> RelayJobs -> reports; see server/smtp_agent.h.
#include "petrel/server/smtp_agent.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "petrel/core/strings.h"
#include "petrel/server/runtime.h"

namespace petrel::server {

using delivery::RecipientReport;

std::vector<std::pair<std::string, std::string>> xforwardAttributes(const queue::StoredMessage& m) {
  std::string name, addr;
  size_t open = m.client.rfind('[');
  if (open != std::string::npos && m.client.ends_with(']')) {
    name = m.client.substr(0, open);
    addr = m.client.substr(open + 1, m.client.size() - open - 2);
    if (addr.find(':') != std::string::npos) addr = "IPV6:" + addr;  // as Postfix writes it
  }
  std::string proto;
  if (!m.protocol.empty()) proto = m.protocol == "SMTP" ? "SMTP" : "ESMTP";
  return {{"NAME", name},
          {"ADDR", addr},
          {"PORT", m.client_port != 0 ? std::to_string(m.client_port) : ""},
          {"PROTO", proto},
          {"HELO", m.helo},
          {"IDENT", m.id},
          {"SOURCE", m.client.empty() ? "LOCAL" : "REMOTE"}};
}

void loadAgentContent(delivery::AgentMessage& message,
                      const std::vector<delivery::Delivery*>& deliveries) {
  if (message.content) return;  // another agent of this message loaded it
  const queue::StoredMessage& m = *message.stored;
  auto content = std::make_shared<std::string>();
  if (m.spool_path.empty()) {
    *content = m.body;
  } else {
    *content = m.header_prefix;
    FILE* f = fopen(m.spool_path.c_str(), "rbe");  // e: no descriptor leaks into pipe children
    bool ok = f != nullptr;
    if (ok) {
      char buf[64 * 1024];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, f)) > 0) content->append(buf, n);
      ok = !ferror(f);
      fclose(f);
    }
    if (!ok) {
      RecipientReport r;
      r.dsn = "4.3.0";
      r.text = fmt::format("cannot read queue file {}: {}", m.spool_path, systemErrorText(errno));
      for (delivery::Delivery* d : deliveries) d->reports.assign(d->recipients.size(), r);
      return;
    }
  }
  if (message.header != nullptr && message.header->changed > 0) {
    // The rewritten header replaces the spool file's header, which follows the prefix.
    size_t at = m.spool_path.empty() ? 0 : m.header_prefix.size();
    content->replace(at, message.header->original_size, message.header->header);
  }
  message.content_8bit = std::any_of(content->begin(), content->end(),
                                     [](char c) { return static_cast<unsigned char>(c) > 127; });
  message.content = std::move(content);
}

void SmtpAgent::prepare(delivery::AgentMessage& message,
                        const std::vector<delivery::Delivery*>& deliveries) const {
  loadAgentContent(message, deliveries);
}

void reportRelayResult(delivery::Delivery& d, const RelayResult& r, double in_queue) {
  log::Delays delays;
  delays.in_queue = in_queue;
  delays.setup = r.setup;
  delays.transmission = r.transmission;
  std::string host = r.relay.substr(0, r.relay.find('['));
  d.reports.clear();
  for (size_t k = 0; k < d.recipients.size(); ++k) {
    RecipientReport rr;
    rr.relay = r.relay;
    rr.delays = delays;
    if (k >= r.outcomes.size()) {  // the agent stopped before trying
      rr.dsn = "4.3.2";
      rr.text = "delivery interrupted: mail system shutting down";
      d.reports.push_back(std::move(rr));
      continue;
    }
    const smtp::client::Outcome& o = r.outcomes[k];
    rr.status = o.status == smtp::client::RecipientStatus::Delivered
                    ? RecipientReport::Status::Delivered
                : o.status == smtp::client::RecipientStatus::Bounced
                    ? RecipientReport::Status::Bounced
                    : RecipientReport::Status::Deferred;
    rr.dsn = o.dsn;
    rr.text = describeOutcome(o, r.relay);
    if (o.reply) {
      rr.remote_mta = host;
      rr.diagnostic = o.reply->oneLine();
    }
    d.reports.push_back(std::move(rr));
  }
}

smtp::client::Job clientJob(const delivery::Delivery& d) {
  const delivery::AgentMessage& am = *d.message;
  const queue::StoredMessage& m = *am.stored;
  smtp::client::Job job;
  for (size_t index : d.recipients) {
    const queue::StoredRecipient& rcpt = m.recipients[index];
    smtp::RcptParams params;
    params.recipient.text = rcpt.address;
    params.dsn_notify = rcpt.dsn_notify;
    params.dsn_orcpt = rcpt.dsn_orcpt;
    job.recipients.push_back(std::move(params));
  }
  // A forwarded delivery carries its SRS sender (delivery::Router::forwardingSender).
  job.sender.text = d.target.sender.empty() ? am.sender : d.target.sender;
  job.size = d.top_fields.size() + am.content->size();
  job.is_8bit = am.content_8bit;
  job.needs_smtputf8 = m.smtputf8;
  job.dsn_ret = m.dsn_ret;
  job.dsn_envid = m.dsn_envid;
  return job;
}

void SmtpAgent::deliver(const std::vector<delivery::Delivery*>& deliveries, Done done) {
  struct Waiting {
    size_t jobs = 0;
    Done done;
  };
  auto waiting = std::make_shared<Waiting>();
  waiting->jobs = deliveries.size();
  waiting->done = std::move(done);
  int64_t start_us = nowMicros();
  for (delivery::Delivery* d : deliveries) {
    const delivery::AgentMessage& am = *d->message;
    const queue::StoredMessage& m = *am.stored;
    RelayJob job;
    job.queue_id = m.id;
    job.transport = options_.transport;
    job.hop = d->target.next_hop;
    job.tls = d->target.tls;
    job.job = clientJob(*d);
    if (options_.xforward) job.job.xforward = xforwardAttributes(m);
    job.content = am.content;
    job.top_fields = d->top_fields;
    double in_queue = double(start_us - m.arrival_us) / 1e6;
    relay_->submit(std::move(job), [d, waiting, in_queue](RelayResult r) {
      reportRelayResult(*d, r, in_queue);
      if (--waiting->jobs == 0) waiting->done();
    });
  }
}

}  // namespace petrel::server
