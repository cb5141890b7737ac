// Session driver, the transaction half: the verdict of each stage (restriction lists, router),
// the actions accepted checks attach, the content pass, and the commit to the journal before
// the 250. The connection half (sockets, TLS, timers, AUTH) is in smtp_connection.cc.
#include <fmt/format.h>
#include <time.h>

#include <initializer_list>

#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"
#include "petrel/log/mail_log.h"
#include "petrel/server/content_stages.h"
#include "petrel/server/dmarc_probe.h"
#include "petrel/server/dkim_signing_stage.h"
#include "petrel/server/milter_stage.h"
#include "petrel/server/queue_manager.h"
#include "petrel/server/smtp_connection.h"
#include "petrel/server/stage_check.h"
#include "petrel/server/worker.h"

namespace petrel::server {

// Runs the stage's checks. Returns the verdict when they answered at once (no check waited);
// otherwise the answer arrives later through run().
std::optional<smtp::Verdict> SmtpConnection::askVerdict(const smtp::AskVerdict& ask) {
  const smtp::Envelope& env = session_->envelope();
  StageQuery q;
  q.stage = ask.stage;
  q.who.client_ip = client_ip_;
  q.who.helo = ask.stage == smtp::Stage::Helo ? ask.address : session_->helo();
  q.who.sasl_user = ask.stage == smtp::Stage::Auth ? ask.address : session_->authenticatedUser();
  q.who.sender = ask.stage == smtp::Stage::Mail ? ask.address : env.mail.sender.text;
  if (ask.stage == smtp::Stage::Rcpt || ask.stage == smtp::Stage::Vrfy) q.who.address = ask.address;
  q.who.client = clientFacts();
  q.message_size = env.body_size;
  q.declared_size = env.mail.size.value_or(0);
  if (ask.stage == smtp::Stage::EndOfData) {
    // The content stages speak first (they may wait for DNS answers); the end_of_data
    // restrictions only for a message they let in.
    if (!content_end_) {
      finishContent(env, [this, ask] {
        if (!content_waited_) return;  // answered at once: askVerdict goes on below
        content_waited_ = false;
        if (closing_ || session_->closed()) return maybeDestroy();
        if (auto v = askVerdict(ask)) run(session_->onVerdict(std::move(*v)));
        if (!closing_) {
          updateReading();
          armTimer();
        }
      });
      if (!content_end_) {
        content_waited_ = true;
        return std::nullopt;
      }
    }
    if (content_end_->refusal) {
      // Its cleanup line is the refusal's log line (pflogsumm counts each line once).
      end_refusal_logged_ = content_end_->logged.refusal;
      return smtp::Verdict::refuse(*content_end_->refusal);
    }
  }
  q.recipient_count = env.recipients.size();
  // Each stage starts from what the one before it left (smtpd_check.c): HELO from CONNECT's,
  // MAIL from HELO's (or CONNECT's without a HELO list), RCPT and VRFY from MAIL's.
  // (A stage without lists is not asked and leaves nothing: the one before it counts.)
  auto first = [](std::initializer_list<const std::optional<policy::Decision>*> stages)
      -> std::optional<policy::Decision> {
    for (const auto* d : stages) {
      if (*d) return *d;
    }
    return std::nullopt;
  };
  if (ask.stage == smtp::Stage::Helo) q.defer_if_permit = client_defer_if_permit_;
  if (ask.stage == smtp::Stage::Mail) {
    q.defer_if_permit = first({&helo_defer_if_permit_, &client_defer_if_permit_});
  }
  if (ask.stage == smtp::Stage::Rcpt || ask.stage == smtp::Stage::Vrfy) {
    q.defer_if_permit =
        first({&sender_defer_if_permit_, &helo_defer_if_permit_, &client_defer_if_permit_});
  }
  ++pending_ops_;
  verdict_in_place_ = true;
  checkStage(snap_, *listener_, std::move(q), services_, nullptr,
             [this, stage = ask.stage, address = ask.address](StageVerdict v) {
               --pending_ops_;
               if (verdict_in_place_) {
                 in_place_verdict_ = std::move(v);
                 return;
               }
               if (closing_ || session_->closed()) {
                 maybeDestroy();
                 return;
               }
               keepActions(stage, address, v);
               if (relayToMilters(stage, address, v.verdict)) return;  // they answer later
               if (relayToProxy(stage, v.verdict)) return;  // the filter's reply comes later
               run(session_->onVerdict(std::move(v.verdict)));
               if (!closing_) {
                 updateReading();
                 armTimer();
               }
             });
  verdict_in_place_ = false;
  if (!in_place_verdict_) return std::nullopt;
  StageVerdict answered = std::move(*in_place_verdict_);
  in_place_verdict_.reset();
  keepActions(ask.stage, ask.address, answered);
  if (relayToMilters(ask.stage, ask.address, answered.verdict)) return std::nullopt;
  if (relayToProxy(ask.stage, answered.verdict)) return std::nullopt;
  return std::move(answered.verdict);
}

// The connection's facts as they are now (protocol, SASL and TLS change during the session).
policy::ClientFacts SmtpConnection::clientFacts() const {
  policy::ClientFacts facts = client_facts_;
  if (!session_->helo().empty()) facts.protocol_name = session_->esmtp() ? "ESMTP" : "SMTP";
  facts.sasl_method = session_->authMechanism();
  facts.improper_pipelining = session_->improperPipelining();
  if (const tls::Engine* tls = stream_.engine(); tls && tls->handshakeDone()) {
    facts.tls_protocol = tls->version();
    facts.tls_cipher = tls->cipher();
    facts.tls_keysize = tls->cipherBits();
  }
  if (chain_) facts.queue_id = queue_id_;  // a message is being received
  // Postfix's policy instance: this connection's, and which of its transactions.
  facts.instance = fmt::format("{:x}.{:x}.{}", session_start_ms_,
                               reinterpret_cast<uintptr_t>(this) & 0xffffff, messages_);
  return facts;
}

// warn_if_reject's warnings, WARN and INFO lines, the checks' warnings (DNS lists) and
// configuration warnings are logged now,
// whatever the verdict. The other actions of an accepted stage wait for the message
// (PREPEND-style header fields go into the content pass, HOLD, DISCARD, REDIRECT and FILTER
// into the commit); a refusal's are dropped with it.
void SmtpConnection::keepActions(smtp::Stage stage, const std::string& address, StageVerdict& v) {
  using Kind = policy::PolicyAction::Kind;
  auto logged = [](Kind k) {
    return k == Kind::Warn || k == Kind::LogWarn || k == Kind::LogInfo ||
           k == Kind::ConfigWarning || k == Kind::LogWarning;
  };
  bool recipient = stage == smtp::Stage::Rcpt || stage == smtp::Stage::Vrfy;
  if (stage == smtp::Stage::Connect) client_defer_if_permit_ = std::move(v.defer_if_permit);
  if (stage == smtp::Stage::Helo) {
    helo_defer_if_permit_ = std::move(v.defer_if_permit);
    sender_defer_if_permit_.reset();  // a new HELO ends the transaction
  }
  if (stage == smtp::Stage::Mail) sender_defer_if_permit_ = std::move(v.defer_if_permit);
  const std::string from =
      stage == smtp::Stage::Mail ? address : session_->envelope().mail.sender.text;
  const std::string to = recipient ? address : std::string();
  const std::string helo = stage == smtp::Stage::Helo ? address : session_->helo();
  for (const auto& a : v.actions) {
    switch (a.kind) {
      case Kind::Warn:
        log::mail::rejectWarning(smtp::toString(stage), client_, a.text, from, to, protocol(),
                                 helo);
        break;
      case Kind::LogWarn:
      case Kind::LogInfo:
        log::mail::policyNotice(a.kind == Kind::LogWarn ? "warn" : "info", smtp::toString(stage),
                                client_, a.text, from, to, protocol(), helo);
        break;
      case Kind::ConfigWarning:
        log::mail::warning(log::Program::Smtpd, a.text);
        break;
      case Kind::LogWarning:
        log::mail::warning(log::Program::Smtpd, fmt::format("{}: {}", client_, a.text));
        break;
      default:
        break;
    }
  }
  if (!v.verdict.accepted()) {
    if (!v.rule.empty()) rt_->metrics.countCheckRejection(v.rule);
    return;
  }
  for (auto& a : v.actions) {
    if (!logged(a.kind)) tx_actions_.push_back(std::move(a));
  }
}

// RFC 3848 / RFC 6531 protocol names: ESMTP, plus S for TLS and A for AUTH.
std::string SmtpConnection::protocol() const {
  if (!session_ || !session_->esmtp()) return "SMTP";
  std::string p = session_->envelope().mail.smtputf8 ? "UTF8SMTP" : "ESMTP";
  if (session_->inTls()) p += "S";
  if (!session_->authenticatedUser().empty()) p += "A";
  return p;
}

// RFC 5321 4.4 trace header; one "for" clause only when there is exactly one recipient
// (naming several would disclose Bcc recipients to each other).
std::string SmtpConnection::receivedHeader(const smtp::Envelope& env) const {
  std::string h = fmt::format("Received: from {} ({} [{}])\r\n",
                              env.helo.empty() ? "unknown" : env.helo,
                              client_facts_.client_name, client_ip_);
  if (const tls::Engine* tls = stream_.engine(); tls && tls->handshakeDone()) {
    h += fmt::format("\t(using {} with cipher {} ({}/{} bits))\r\n", tls->version(),
                     tls->cipher(), tls->cipherBits(), tls->cipherBits());
  }
  h += fmt::format("\tby {} (Petrel) with {} id {}", snap_.config->hostname, protocol(),
                   queue_id_);
  if (env.recipients.size() == 1) {
    h += fmt::format("\r\n\tfor <{}>", env.recipients[0].params.recipient.text);
  }
  h += fmt::format(";\r\n\t{}\r\n", rfc5322Date(time(nullptr)));
  return h;
}

void SmtpConnection::startMessage() {
  queue_id_ = nextQueueId();
  arrival_us_ = nowMicros();
  // The content pass: the Received field on top, then what accepted checks asked to add.
  std::vector<std::string> fields{receivedHeader(session_->envelope())};
  for (const policy::PolicyAction& a : tx_actions_) {
    if (a.kind == policy::PolicyAction::Kind::AddHeader) fields.push_back(a.text + "\r\n");
  }
  if (proxy_) {
    // A before-queue filter gets the content as it streams in, with our fields; the checks,
    // milters and signing of the reinjection listener see what it hands back (Postfix
    // smtpd_proxy_filter does the same: cleanup runs behind the filter).
    std::vector<std::unique_ptr<content::ContentStage>> stages;
    stages.push_back(prependFields(std::move(fields)));
    chain_ = std::make_unique<content::ContentChain>(std::move(stages), *proxy_);
    content_end_.reset();
    return;
  }
  store_ = std::make_shared<MessageStore>(worker_->dispatcher(), *rt_->spool_slots);
  store_->onDrained([this] { updateReading(); });
  std::vector<std::string> auth_results;
  for (const policy::PolicyAction& a : tx_actions_) {
    if (a.kind == policy::PolicyAction::Kind::AuthResult) auth_results.push_back(a.text);
  }
  std::vector<std::unique_ptr<content::ContentStage>> stages;
  stages.push_back(prependFields(std::move(fields)));
  // Before the Authentication-Results stage, so that a REJECT saves its lookups.
  if (snap_.checks && !listener_->receive_override.no_header_body_checks) {
    stages.push_back(headerChecks(headerChecksSetup()));
  }
  if (auto auth = authenticationSettings(std::move(auth_results))) {
    stages.push_back(authenticationResults(std::move(*auth)));
  }
  // The milters (filters.milters): after every stage that adds fields when the header ends,
  // since their header indexes count in the header as stored.
  if (milters_) {
    updateMilterFacts(session_->envelope(), queue_id_);
    std::string proto = clientFacts().protocol_name;
    stages.push_back(milterStage(
        MilterSetup{milters_.get(), snap_.config->limits.message_size, queue_id_, client_,
                    proto.empty() ? "SMTP" : proto}));
  }
  // Last, so that it signs the header as the other stages leave it (dkim_signing_stage.h).
  if (auto sign = dkimSigningSetup(snap_, client_ip_, client_, protocol(),
                                   !session_->authenticatedUser().empty(), worker_->dispatcher(),
                                   queue_id_)) {
    stages.push_back(dkimSigning(std::move(*sign)));
  }
  chain_ = std::make_unique<content::ContentChain>(std::move(stages), *store_);
  content_end_.reset();
}

// The header and body checks' stage for this message: the tables and the log line's facts.
HeaderChecksSetup SmtpConnection::headerChecksSetup() const {
  const smtp::Envelope& env = session_->envelope();
  HeaderChecksSetup h;
  h.tables = snap_.checks;
  h.queue_id = queue_id_;
  h.client = client_;
  h.sender = env.mail.sender.text;
  if (!env.recipients.empty()) h.recipient = env.recipients[0].params.recipient.text;
  h.protocol = protocol();
  h.helo = env.helo;
  return h;
}

// What the Authentication-Results stage does for this message (nullopt: no stage): DKIM
// verification, the checks' results, and DMARC for mail from outside (not authenticated, not
// relay.mynetworks; a mynetworks table that would block counts as outside, as DMARC of a
// local client's mail only costs lookups).
std::optional<AuthenticationSettings> SmtpConnection::authenticationSettings(
    std::vector<std::string> results) const {
  const config::Config& cfg = *snap_.config;
  AuthenticationSettings a;
  a.authserv_id = cfg.hostname;
  a.dkim_verify = cfg.dkim.verify;
  a.results = std::move(results);
  bool local = !session_->authenticatedUser().empty() ||
               (snap_.mynetworks && snap_.mynetworks->contains(client_ip_)) ||
               (snap_.mynetworks_table && !snap_.mynetworks_table->blocking() &&
                snap_.mynetworks_table->lookup(client_ip_).status == lookup::LookupStatus::Found);
  if (snap_.public_suffixes && !local) {
    a.dmarc_psl = snap_.public_suffixes;
    a.dmarc_actions = dmarcActions(cfg.dmarc);
    const smtp::Envelope& env = session_->envelope();
    a.spf_helo_identity = env.mail.sender.text.empty();
    if (!env.mail.sender.text.empty() || !env.helo.empty()) {
      a.spf = spf::mailFromRequest(client_ip_, env.mail.sender.text, env.helo);
      a.spf->receiver = cfg.hostname;
    }
    // A report row names one recipient domain (RFC 7489 appendix C envelope_to).
    std::string to_domain;
    if (!env.recipients.empty()) {
      to_domain = std::string(MailAddress(env.recipients[0].params.recipient.text).domain());
    }
    a.on_dmarc = [id = queue_id_, reports = rt_->dmarc_reports,
                  dispatcher = &worker_->dispatcher(), helo = a.spf_helo_identity,
                  ip = client_ip_, to_domain](const dmarc::Evaluation& e, const dmarc::Verdict& v,
                                              const dmarc::AuthInputs& auth) {
      // "4F2a...: dmarc=fail (p=reject dis=reject) header.from=example.com"
      log::mail::info(log::Program::Smtpd,
                      fmt::format("{}: {}", id, dmarc::authResultsPart(e, v.applied)));
      if (!reports) return;
      auto row = dmarc::reportRecord(e, v, auth, helo, ip, to_domain, ::time(nullptr));
      if (!row) return;
      auto status = std::make_shared<Status>(okStatus());
      dispatcher->offload(
          [reports, row = std::move(*row), status] { *status = reports->add(row); },
          [status, id] {
            if (!*status) {
              log::mail::warning(log::Program::Smtpd,
                                 fmt::format("{}: DMARC report record not kept: {}", id,
                                             status->error().message()));
            }
          });
    };
  }
  if (!a.dkim_verify && a.results.empty() && !a.dmarc_psl) return std::nullopt;
  if (a.dkim_verify || a.dmarc_psl) a.resolver = services_.resolver;
  return a;
}

// The end of the content pass, once per message: the stages' verdict and their edits of the
// envelope (recipients, de-duplicated) and of the header. `then` runs once content_end_ is
// set, at once or (a stage waited) later; the connection is kept alive meanwhile.
void SmtpConnection::finishContent(const smtp::Envelope& env, std::function<void()> then) {
  final_recipients_.clear();
  for (const auto& r : env.recipients) {
    for (const auto& addr : r.expand) {
      final_recipients_.push_back({addr, r.params.recipient.text, r.params.dsn_notify,
                                   r.params.dsn_orcpt});
    }
  }
  ++pending_ops_;
  content_finishing_ = true;
  chain_->finish(final_recipients_, [this, then = std::move(then)](content::ContentChain::End end) {
    --pending_ops_;
    content_finishing_ = false;
    content_end_ = std::move(end);
    then();
  });
}

// A message that ended while the content stages waited: its chain (and the stages' lookups)
// go; the connection no longer waits for them.
void SmtpConnection::abandonContent() {
  if (content_finishing_) {
    content_finishing_ = false;
    content_waited_ = false;
    --pending_ops_;
  }
  chain_.reset();
  content_end_.reset();
}

void SmtpConnection::commit(smtp::Envelope envelope) {
  if (proxy_) return relayCommit(envelope);
  if (content_end_) return commitFinished(std::move(envelope));
  // No end-of-data verdict was asked (nothing may refuse), but a stage may still wait.
  auto env = std::make_shared<smtp::Envelope>(std::move(envelope));
  finishContent(*env, [this, env] {
    if (!content_waited_) return;
    content_waited_ = false;
    if (closing_ || session_->closed()) {
      // No 250 can reach the client any more: the message is not taken.
      if (store_) store_->abort();
      store_.reset();
      return maybeDestroy();
    }
    commitFinished(std::move(*env));
  });
  if (!content_end_) {
    content_waited_ = true;
    return;
  }
  commitFinished(std::move(*env));
}

// The after-queue content filter of the message being committed, as "transport:nexthop" (or
// empty): a header or body check's FILTER, else an access map's, else the listener's or
// filters.content_filter (docs/filters.md). A FILTER naming a transport the config does not
// have is logged and ignored, so a typo in a table never sends mail nowhere.
std::string SmtpConnection::contentFilter(const std::optional<policy::PolicyAction>& access,
                                          const std::optional<std::string>& check) const {
  for (const std::string* chosen : {check ? &*check : nullptr,
                                    access ? &access->target : nullptr}) {
    if (chosen == nullptr) continue;
    if (auto ref = snap_.config->transportRef(*chosen)) return ref->name + ":" + ref->nexthop;
    log::mail::warning(log::Program::Smtpd,
                       fmt::format("{}: FILTER {}: no such transport (built in or under "
                                   "transports:): ignored",
                                   queue_id_, *chosen));
  }
  std::optional<config::TransportRef> ref = config::listenerContentFilter(*snap_.config,
                                                                          *listener_);
  return ref ? ref->name + ":" + ref->nexthop : std::string();
}

void SmtpConnection::commitFinished(smtp::Envelope envelope) {
  const content::ContentChain::End& end = *content_end_;
  std::optional<std::string> header_problem;
  if (end.header) header_problem = store_->replaceHeader(end.replaced_octets, *end.header);
  if (!end.top_fields.empty()) store_->addTopFields(end.top_fields);
  chain_.reset();
  // HOLD, DISCARD, REDIRECT and FILTER of accepted checks (the first of each kind counts, as
  // Postfix's cleanup keeps one of each; of FILTER the last).
  const policy::PolicyAction* hold = nullptr;
  const policy::PolicyAction* discard = nullptr;
  const policy::PolicyAction* redirect = nullptr;
  const policy::PolicyAction* filter = nullptr;
  for (const policy::PolicyAction& a : tx_actions_) {
    using Kind = policy::PolicyAction::Kind;
    if (a.kind == Kind::Hold && hold == nullptr) hold = &a;
    if (a.kind == Kind::Discard && discard == nullptr) discard = &a;
    if (a.kind == Kind::Redirect && redirect == nullptr) redirect = &a;
    if (a.kind == Kind::Filter) filter = &a;  // FILTER: the last one wins (access(5))
  }
  std::optional<std::string> hold_reason, discard_reason;
  if (hold != nullptr) hold_reason = hold->text;
  // A content stage's (DMARC quarantine, a header check, a milter); logged here unless the
  // stage logged it in cleanup's format already.
  bool hold_logged = false, discard_logged = false;
  if (!hold_reason && end.hold) {
    hold_reason = end.hold;
    hold_logged = end.logged.hold;
  }
  if (discard != nullptr) discard_reason = discard->text;
  if (!discard_reason && end.discard) {
    discard_reason = end.discard;
    discard_logged = end.logged.discard;
  }
  if (end.sender) envelope.mail.sender.text = *end.sender;  // a milter's SMFIR_CHGFROM
  std::optional<policy::PolicyAction> redirect_action, filter_action;
  if (redirect != nullptr) redirect_action = *redirect;
  if (filter != nullptr) filter_action = *filter;
  std::string content_filter = contentFilter(filter_action, end.filter);
  tx_actions_.clear();
  if (redirect_action && !final_recipients_.empty()) {
    // Postfix REDIRECT: every recipient of the message is replaced by the one address; the
    // first original recipient stays as its orig_to.
    content::Recipient only = final_recipients_.front();
    only.address = redirect_action->target;
    if (only.orig_address.empty()) only.orig_address = final_recipients_.front().address;
    final_recipients_.assign(1, std::move(only));
  }
  auto store = std::move(store_);
  store_.reset();
  store->onDrained(nullptr);
  ++pending_ops_;
  auto m = std::make_shared<queue::StoredMessage>();
  m->id = queue_id_;
  m->arrival_us = arrival_us_;
  m->sender = envelope.mail.sender.text;
  m->client = client_;
  m->client_port = client_facts_.client_port;
  m->helo = envelope.helo;
  m->protocol = protocol();
  m->dsn_envid = envelope.mail.dsn_envid;
  m->dsn_ret = envelope.mail.dsn_ret;
  m->smtputf8 = envelope.mail.smtputf8;
  m->content_filter = std::move(content_filter);
  // One queue recipient per final address (the content pass removed duplicates: alice and an
  // alias to her collapse, as in Postfix's cleanup).
  int64_t idx = 0;
  for (content::Recipient& r : final_recipients_) {
    queue::StoredRecipient sr;
    sr.idx = idx++;
    sr.address = std::move(r.address);
    sr.orig_address = std::move(r.orig_address);
    sr.dsn_notify = std::move(r.dsn_notify);
    sr.dsn_orcpt = std::move(r.dsn_orcpt);
    m->recipients.push_back(std::move(sr));
  }
  content_end_.reset();
  if (header_problem) {
    store->abort();
    worker_->dispatcher().post([this, id = m->id, why = *header_problem] {
      committed(Error::temporary(why), id);
    });
    return;
  }
  if (discard_reason) {
    // Postfix's DISCARD: the client is told the message was taken; nothing is queued.
    store->abort();
    log::mail::client(m->id, m->client, session_->authMechanism(), session_->authenticatedUser());
    if (!discard_logged) {
      log::mail::policyAction(m->id, "discard", client_, *discard_reason, m->sender,
                              m->protocol, m->helo);
    }
    worker_->dispatcher().post([this, id = m->id] { committed(okStatus(), id); });
    return;
  }
  m->held = hold_reason.has_value();
  store->finish([this, store, m, hold_reason, hold_logged, redirect_action,
                 filter_action](Status st) {
    if (!st) {
      store->abort();
      committed(st, m->id);
      return;
    }
    m->size = store->size();
    if (store->inlined()) {
      m->body = store->takeInlineBody();
    } else {
      m->spool_path = store->spoolPath();
      m->header_prefix = store->topFields();
    }
    auto* dispatcher = &worker_->dispatcher();
    Runtime* rt = rt_;
    rt_->journal->submit(
        [m](queue::Db& db) { return queue::Journal::insertMessage(db, *m); },
        [this, dispatcher, rt, m, store, hold_reason, hold_logged, redirect_action, filter_action,
         sasl_method = session_->authMechanism(),
         sasl_user = session_->authenticatedUser()](const Status& st) {
          // Journal thread: the row is durable (or not). Log in Postfix order, then hand the
          // message to the queue manager and the reply to the session.
          if (st) {
            log::mail::client(m->id, m->client, sasl_method, sasl_user);
            if (hold_reason && !hold_logged) {
              log::mail::policyAction(m->id, "hold", m->client, *hold_reason, m->sender,
                                      m->protocol, m->helo);
            }
            if (redirect_action) {
              log::mail::policyAction(m->id, "redirect", m->client, redirect_action->text,
                                      m->sender, m->protocol, m->helo);
            }
            if (filter_action) {
              log::mail::policyAction(m->id, "filter", m->client, filter_action->text,
                                      m->sender, m->protocol, m->helo);
            }
            log::mail::queued(m->id, m->sender, m->size, m->recipients.size());
            rt->main->post([rt, id = m->id, arrival = m->arrival_us, held = m->held] {
              rt->queue_manager->enqueued(id, arrival, held);
            });
          }
          m->body.clear();
          dispatcher->post([this, st, id = m->id, store] {
            if (!st) store->abort();
            committed(st, id);
          });
        });
  });
}

void SmtpConnection::committed(const Status& st, const std::string& id) {
  --pending_ops_;
  if (st) rt_->metrics.messages_received++;
  if (!st) {
    log::mail::warning(log::Program::Smtpd,
                       fmt::format("{}: {}: queue write failed: {}", id, client_,
                                   st.error().message()));
  }
  if (closing_ || session_->closed()) {
    maybeDestroy();
    return;
  }
  if (st) {
    ++messages_;
    run(session_->onCommitted(id));
  } else {
    run(session_->onCommitFailed(smtp::Reply(451, "4.3.0", "Error: queue file write error")));
  }
  if (!closing_) {
    updateReading();
    armTimer();
  }
}

}  // namespace petrel::server
