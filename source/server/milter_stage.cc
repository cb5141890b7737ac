// The milter content stage; see milter_stage.h.
//
// Per message:
//   onHeader    the header as the chain stores it (the earlier stages' fields on top): what
//               the first milter is shown; each next one sees it with the earlier milters'
//               changes (milter::HeaderModel), as in Postfix
//   onBody      the body is kept
//   onEndAsync  milter 1 .. n over the session's connections (MilterClient::run): the
//               content steps of its milter::Session, each answer awaited with
//               milter_command_timeout or (body, end of message) milter_content_timeout ->
//               the outcome -> the next milter, or `done`
// The stage going away (the message abandoned) drops the answers still to come (alive_).
#include "petrel/server/milter_stage.h"

#include <fmt/format.h>

#include <algorithm>

#include "petrel/log/mail_log.h"

namespace petrel::server {

namespace {

using config::Filters;

std::string loggable(std::string_view text) {
  std::string out;
  for (char c : text) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  return out;
}

class MilterStage final : public content::ContentStage {
 public:
  explicit MilterStage(MilterSetup setup) : setup_(std::move(setup)) {}
  ~MilterStage() override {
    // Gone while a milter reads the header and body from here (the message was abandoned).
    if (running_) setup_.client->abandon(*running_);
  }

  void onHeader(const std::vector<content::HeaderField>& fields,
                content::HeaderEdits& edits) override {
    stored_ = fields;
    content::applyHeaderEdits(stored_, edits, "");
  }

  void onBody(std::string_view bytes) override { body_.append(bytes); }

  bool mayRefuse() const override { return true; }

  void onEndAsync(std::vector<content::Recipient>&, content::EndEdits& edits,
                  EndDone done) override {
    edits_ = &edits;
    done_ = std::move(done);
    next_ = 0;
    model_.emplace(stored_);
    if (const auto& stage = setup_.client->discarded()) {
      // A milter discarded the message at MAIL, RCPT or DATA.
      logVerdict("milter-discard", *stage, "milter triggers DISCARD action");
      edits_->discard = "milter triggers DISCARD action";
      edits_->logged.discard = true;
      return answer(std::nullopt);
    }
    runNext();
  }

 private:
  void runNext();
  void concluded(size_t i, const milter::Outcome& o);
  void answer(std::optional<smtp::Reply> refusal);
  void logVerdict(std::string_view action, const std::string& stage, const std::string& text);

  MilterSetup setup_;
  std::vector<content::HeaderField> stored_;
  std::string body_;
  std::vector<content::HeaderField> shown_;   // what the milter in turn is shown
  std::optional<milter::HeaderModel> model_;  // the header as the milters so far changed it
  content::EndEdits* edits_ = nullptr;
  EndDone done_;
  size_t next_ = 0;
  std::optional<size_t> running_;  // the milter that is being shown the message
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

void MilterStage::runNext() {
  MilterClient& client = *setup_.client;
  while (next_ < client.size()) {
    const size_t i = next_++;
    if (client.failed(i)) {
      if (auto d = client.defaultReply()) {
        logVerdict("milter-reject", "END-OF-MESSAGE", d->enhanced + " " + d->lines[0]);
        edits_->logged.refusal = true;
        return answer(std::move(*d));
      }
      continue;
    }
    if (client.idleForMessage(i)) continue;  // it decided earlier (SMFIR_ACCEPT)
    shown_ = model_->fields();
    std::weak_ptr<bool> alive = alive_;
    running_ = i;
    client.run(
        i, [this](milter::Session& s) { return s.content(shown_, body_); },
        [this, alive, i](milter::Outcome o) {
          if (alive.expired()) return;
          running_.reset();
          concluded(i, o);
        });
    return;
  }
  model_->writeEdits(edits_->header);
  answer(std::nullopt);
}

void MilterStage::logVerdict(std::string_view action, const std::string& stage,
                             const std::string& text) {
  const milter::MessageFacts& f = setup_.client->facts();
  std::string to = f.recipients.empty() ? "" : f.recipients[0].address;
  log::mail::milterAction(setup_.queue_id, action, stage.empty() ? "END-OF-MESSAGE" : stage,
                          setup_.client_log, text, f.sender, to, setup_.proto, f.helo);
}

void MilterStage::concluded(size_t i, const milter::Outcome& o) {
  MilterClient& client = *setup_.client;
  using V = milter::Outcome::Verdict;
  std::vector<std::string> warnings = o.warnings;
  auto warn = [&] {
    for (const std::string& w : warnings) {
      log::mail::warning(log::Program::Cleanup, fmt::format("{}: milter {}: {}", setup_.queue_id,
                                                            client.name(i), loggable(w)));
    }
  };
  switch (o.verdict) {
    case V::Continue:
    case V::Accept: {
      model_->apply(o, *edits_, warnings);
      warn();
      const bool replaced =
          std::any_of(o.modifications.begin(), o.modifications.end(),
                      [](const auto& m) { return m.kind == milter::reply::ReplaceBody; });
      if (replaced) {
        size_t header = 0;
        for (const auto& f : model_->fields()) header += f.raw.size();
        if (setup_.max_message_size != 0 &&
            header + edits_->body->size() > setup_.max_message_size) {
          // It would never fit: as cleanup's "message size exceeds limit".
          log::mail::warning(log::Program::Cleanup,
                             fmt::format("{}: milter {}: the replacement body makes the message "
                                         "larger than limits.message_size",
                                         setup_.queue_id, client.name(i)));
          edits_->body.reset();
          return answer(smtp::Reply(552, "5.3.4", "Message size exceeds fixed limit"));
        }
        body_ = *edits_->body;  // what the next milter is shown
      }
      if (edits_->hold && edits_->hold->starts_with("milter triggers HOLD")) {
        logVerdict("milter-hold", o.stage, loggable(*edits_->hold));
        edits_->logged.hold = true;
      }
      return runNext();
    }
    case V::Reject:
    case V::Tempfail: {
      warn();
      smtp::Reply reply = *o.reply;
      std::string text = reply.enhanced.empty() ? "" : reply.enhanced + " ";
      text += reply.lines.empty() ? "" : reply.lines[0];
      logVerdict("milter-reject", o.stage, loggable(text));
      edits_->logged.refusal = true;
      return answer(std::move(reply));
    }
    case V::Discard:
      warn();
      logVerdict("milter-discard", o.stage, "milter triggers DISCARD action");
      edits_->discard = "milter triggers DISCARD action";
      edits_->logged.discard = true;
      return answer(std::nullopt);
    case V::Failed:
      break;
  }
  client.markFailed(i, o.failure, setup_.queue_id);
  auto d = client.defaultReply();
  if (!d) return runNext();
  logVerdict("milter-reject", o.stage, d->enhanced + " " + d->lines[0]);
  edits_->logged.refusal = true;
  answer(std::move(*d));
}

void MilterStage::answer(std::optional<smtp::Reply> refusal) {
  auto done = std::move(done_);
  done_ = nullptr;
  if (done) done(std::move(refusal));
}

}  // namespace

milter::MilterRecipient milterRecipient(const smtp::RcptParams& r) {
  milter::MilterRecipient mr;
  mr.address = r.recipient.text;
  if (!r.dsn_notify.empty()) mr.args.push_back("NOTIFY=" + r.dsn_notify);
  if (!r.dsn_orcpt.empty()) mr.args.push_back("ORCPT=" + r.dsn_orcpt);
  return mr;
}

milter::MessageFacts milterFacts(const MilterInputs& in, const smtp::Envelope& env) {
  const config::Config& cfg = *in.config;
  milter::MessageFacts f;
  f.client_name = in.client.client_name;
  f.client_addr = in.client_addr;
  f.client_port = in.client.client_port;
  f.family = in.client_addr.find(':') != std::string::npos ? '6' : '4';
  f.helo = env.helo;
  f.sender = env.mail.sender.text;
  if (env.mail.size) f.sender_args.push_back(fmt::format("SIZE={}", *env.mail.size));
  if (!env.mail.body.empty()) f.sender_args.push_back("BODY=" + env.mail.body);
  if (env.mail.smtputf8) f.sender_args.push_back("SMTPUTF8");
  if (!env.mail.dsn_ret.empty()) f.sender_args.push_back("RET=" + env.mail.dsn_ret);
  for (const auto& r : env.recipients) f.recipients.push_back(milterRecipient(r.params));
  // The values of Postfix's milter macros (MILTER_README "Macros"), those we know.
  auto& m = f.macros;
  m["j"] = cfg.hostname;
  m["{daemon_name}"] = in.listener ? in.listener->name : "";
  m["{daemon_addr}"] = in.client.server_address;
  m["{daemon_port}"] = in.client.server_port ? fmt::format("{}", in.client.server_port) : "";
  m["v"] = "Petrel";
  m["_"] = fmt::format("{} [{}]", in.client.client_name, in.client_addr);
  m["{client_addr}"] = in.client_addr;
  m["{client_name}"] = in.client.client_name;
  m["{client_ptr}"] = in.client.reverse_client_name;
  m["{client_port}"] = fmt::format("{}", in.client.client_port);
  m["{client_connections}"] = "";
  m["{tls_version}"] = in.client.tls_protocol;
  m["{cipher}"] = in.client.tls_cipher;
  m["{cipher_bits}"] = in.client.tls_keysize ? fmt::format("{}", in.client.tls_keysize) : "";
  m["i"] = in.queue_id;
  m["{auth_type}"] = in.client.sasl_method;
  m["{auth_authen}"] = in.auth_user;
  m["{mail_addr}"] = env.mail.sender.text;
  m["{mail_mailer}"] = "smtp";
  m["{rcpt_mailer}"] = "smtp";
  return f;
}

std::unique_ptr<content::ContentStage> milterStage(MilterSetup setup) {
  return std::make_unique<MilterStage>(std::move(setup));
}

}  // namespace petrel::server
