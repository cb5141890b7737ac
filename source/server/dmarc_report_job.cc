// DmarcReportJob; see headers/petrel/server/dmarc_report_job.h.
#include "petrel/server/dmarc_report_job.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <map>

#include "petrel/core/strings.h"
#include "petrel/dmarc/report.h"
#include "petrel/dmarc/report_mail.h"
#include "petrel/log/mail_log.h"
#include "petrel/server/message_injector.h"
#include "petrel/server/queue_manager.h"

namespace petrel::server {

namespace {
constexpr int64_t Day = 86400;
}  // namespace

struct DmarcReportJob::Batch {
  struct Mail {
    queue::StoredMessage message;
    std::string policy_domain;
    std::string to;
    std::string authorization;  // the 7.1 TXT name to ask; empty: same organizational domain
    bool authorized = true;
    size_t rows = 0;
  };
  int64_t end = 0;  // rows before this are reported, then deleted
  std::vector<Mail> mails;
  std::function<void(Result<size_t>)> done;
  dns::ResolverPtr resolver;  // external destinations' checks
  std::vector<dns::QueryHandlePtr> queries;
  size_t answers_pending = 0;
  std::optional<Error> failure;  // reading the store failed
};

DmarcReportJob::DmarcReportJob(event::Dispatcher& main, Runtime& rt, QueueManager& queue)
    : main_(main), rt_(rt), queue_(queue) {}

DmarcReportJob::~DmarcReportJob() = default;

void DmarcReportJob::tick() {
  if (!rt_.dmarc_reports || running_) return;
  int64_t day = int64_t(::time(nullptr)) / Day;
  if (day == last_day_) return;
  last_day_ = day;
  run(false, [](Result<size_t> r) {
    if (!r) {
      log::mail::warning(log::Program::Master,
                         fmt::format("DMARC aggregate reports: {}", r.error().message()));
    }
  });
}

void DmarcReportJob::run(bool all, std::function<void(Result<size_t>)> done) {
  std::shared_ptr<dmarc::ReportStore> store = rt_.dmarc_reports;
  if (!store) return done(Error::permanent("dmarc.reports is not enabled (or not since start)"));
  if (running_) return done(Error::temporary("a report run is in progress"));
  Snapshot snap = rt_.snapshot();
  if (!snap.public_suffixes) return done(Error::permanent("dmarc.verify is off"));
  running_ = true;
  auto batch = std::make_shared<Batch>();
  int64_t now = int64_t(::time(nullptr));
  batch->end = all ? now + 1 : now / Day * Day;
  batch->done = std::move(done);
  main_.offload(
      [batch, store, snap] {
        const config::Config& cfg = *snap.config;
        auto domains = store->policyDomains(0, batch->end);
        if (!domains) {
          batch->failure = domains.error();
          return;
        }
        for (const std::string& domain : *domains) {
          auto rows = store->records(domain, 0, batch->end);
          if (!rows) {
            batch->failure = rows.error();
            return;
          }
          if (rows->empty()) continue;
          // The record as last seen names where the report goes.
          auto published = dmarc::parseRecord(rows->back().published);
          if (!published) continue;
          int64_t first = rows->front().time;
          for (const auto& r : *rows) first = std::min(first, r.time);
          dmarc::ReportMeta meta;
          meta.org_name = cfg.dmarc.reports.org_name;
          meta.email = cfg.dmarc.reports.email;
          meta.begin = first / Day * Day;
          meta.end = batch->end;
          meta.report_id = fmt::format("{}.{}.{}", meta.end, domain, cfg.hostname);
          dmarc::ReportMailInput in;
          in.from = cfg.dmarc.reports.email;
          in.org_name = meta.org_name;
          in.receiver = cfg.hostname;
          in.policy_domain = domain;
          in.report_id = meta.report_id;
          in.begin = meta.begin;
          in.end = meta.end;
          in.date = rfc5322Date(int64_t(::time(nullptr)));
          in.xml = dmarc::composeAggregateReport(meta, domain, *published, *rows);
          for (const auto& dest :
               dmarc::reportDestinations(published->aggregate, domain, *snap.public_suffixes)) {
            Batch::Mail mail;
            mail.policy_domain = domain;
            mail.to = dest.address;
            mail.rows = rows->size();
            std::string text = dmarc::composeReportMail(in, dest.address);
            if (dest.max_size != 0 && text.size() > dest.max_size) {
              mail.authorized = false;  // over the destination's limit (7.2.1.1)
              log::mail::info(log::Program::Master,
                              fmt::format("DMARC aggregate report for {} not sent to <{}>: {} "
                                          "octets, over its limit of {}",
                                          domain, dest.address, text.size(), dest.max_size));
              continue;
            }
            if (dest.external) {
              mail.authorization = dmarc::externalAuthorizationName(
                  domain, dest.address.substr(dest.address.rfind('@') + 1));
            }
            queue::StoredMessage& m = mail.message;
            MessageInjector::stamp(m);
            m.client = "local";
            m.helo = cfg.hostname;
            m.protocol = "LOCAL";
            m.sender = cfg.dmarc.reports.email;
            m.body = std::move(text);
            m.size = m.body.size();
            queue::StoredRecipient r;
            r.idx = 0;
            r.address = dest.address;
            m.recipients.push_back(std::move(r));
            batch->mails.push_back(std::move(mail));
          }
        }
      },
      [this, batch, snap] {
        if (batch->failure) return finish(batch, *batch->failure);
        auto resolver = dns::Resolver::create(main_, snap.config->dns.servers);
        if (!resolver) return finish(batch, resolver.error());
        batch->resolver = std::move(resolver.value());
        authorize(batch);
      });
}

// RFC 7489 7.1: a destination in another organizational domain must agree to receive the
// reports of this policy domain.
void DmarcReportJob::authorize(std::shared_ptr<Batch> batch) {
  for (Batch::Mail& mail : batch->mails) {
    if (mail.authorization.empty()) continue;
    ++batch->answers_pending;
    Batch::Mail* m = &mail;
    batch->queries.push_back(batch->resolver->query(
        mail.authorization, dns::Type::TXT, [this, batch, m](dns::Answer a) {
          m->authorized = dmarc::authorizesReports(dmarc::fromDnsAnswer(a));
          if (!m->authorized) {
            log::mail::info(log::Program::Master,
                            fmt::format("DMARC aggregate report for {} not sent to <{}>: {} has "
                                        "no v=DMARC1 record (RFC 7489 7.1)",
                                        m->policy_domain, m->to, m->authorization));
          }
          if (--batch->answers_pending == 0) queue(batch);
        }));
  }
  if (batch->answers_pending == 0) queue(batch);
}

void DmarcReportJob::queue(std::shared_ptr<Batch> batch) {
  auto messages = std::make_shared<std::vector<queue::StoredMessage>>();
  for (Batch::Mail& mail : batch->mails) {
    if (!mail.authorized) continue;
    log::mail::info(log::Program::Master,
                    fmt::format("{}: DMARC aggregate report for {} ({} message{}) to <{}>",
                                mail.message.id, mail.policy_domain, mail.rows,
                                mail.rows == 1 ? "" : "s", mail.to));
    messages->push_back(std::move(mail.message));
  }
  queue_.inject(messages, [this, batch, messages](Status st) {
    if (!st) return finish(batch, st.error());
    // Sent (or refused by the rules above): the rows are done with.
    std::shared_ptr<dmarc::ReportStore> store = rt_.dmarc_reports;
    auto purged = std::make_shared<Result<size_t>>(size_t{0});
    main_.offload([store, purged, end = batch->end] { *purged = store->purge(end); },
                  [this, batch, purged, count = messages->size()] {
                    if (!*purged) return finish(batch, purged->error());
                    finish(batch, count);
                  });
  });
}

void DmarcReportJob::finish(std::shared_ptr<Batch> batch, Result<size_t> result) {
  running_ = false;
  batch->queries.clear();
  auto done = std::move(batch->done);
  // The resolver's sockets close on the loop's next turn; the batch keeps it until then.
  main_.post([batch] { batch->resolver.reset(); });
  done(std::move(result));
}

}  // namespace petrel::server
