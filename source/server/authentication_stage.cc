// The Authentication-Results stage of the content pass (RFC 8601): DKIM verification of every
// incoming message (RFC 6376, dkim/verifier.h) and of its ARC chain (RFC 8617, arc/validator.h)
// while it streams, the results of the methods
// the restriction checks ran (SPF's check_spf), DMARC (RFC 7489, dmarc/evaluate.h) over both,
// and one Authentication-Results field on top with our hostname as authserv-id. Fields that
// the client sent claiming our authserv-id are removed (RFC 8601 5: they would be taken for
// ours).
//
//   header end ─┬─ DKIM key lookups ──────────┐
//               └─ SPF (only when DMARC needs ├─ end of data ─> DMARC record lookups
//                  it and no list ran it)  ───┘                 ─> field, and the verdict:
//                                                               reject 550 5.7.1, hold, accept
//
// The lookups start as soon as the header section is complete, so they usually have answered
// when the message ends; if not, end of data waits for them (onEndAsync) without blocking the
// loop. Destroying the stage cancels every lookup (the handles are members).
#include <fmt/format.h>
#include <time.h>

#include "petrel/arc/key_lookup.h"
#include "petrel/arc/validator.h"
#include "petrel/core/strings.h"
#include "petrel/dkim/auth_results.h"
#include "petrel/dkim/key_lookup.h"
#include "petrel/dkim/verifier.h"
#include "petrel/server/content_stages.h"
#include "petrel/spf/auth_results.h"

namespace petrel::server {

namespace {

// The authserv-id of an Authentication-Results field body: the first token, up to ';' or
// white space (a version after it is allowed, RFC 8601 2.2), comments skipped.
std::string_view authservId(std::string_view value) {
  value = trim(value);
  while (!value.empty() && value.front() == '(') {
    size_t close = value.find(')');
    if (close == std::string_view::npos) return {};
    value = trim(value.substr(close + 1));
  }
  size_t end = value.find_first_of("; \t\r\n(");
  return value.substr(0, end);
}

// DMARC's SPF input from the resinfo check_spf wrote ("spf=pass smtp.mailfrom=example.org",
// spf/auth_results.h): nullopt when `resinfo` is another method's.
std::optional<dmarc::SpfInput> spfInputOf(std::string_view resinfo) {
  if (!resinfo.starts_with("spf=")) return std::nullopt;
  std::string_view rest = resinfo.substr(4);
  size_t space = rest.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  dmarc::SpfInput in{std::string(rest.substr(0, space)), ""};
  rest = rest.substr(space + 1);
  size_t eq = rest.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  std::string_view value = rest.substr(eq + 1);
  if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
  in.domain = std::string(value);
  return in;
}

class AuthenticationStage final : public content::ContentStage {
 public:
  explicit AuthenticationStage(AuthenticationSettings settings) : s_(std::move(settings)) {
    for (const std::string& r : s_.results) {
      if (auto in = spfInputOf(r)) spf_ = std::move(in);
    }
  }

  void onHeader(const std::vector<content::HeaderField>& fields,
                content::HeaderEdits& edits) override {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (iequals(fields[i].name, "Authentication-Results") &&
          iequals(authservId(fields[i].value()), s_.authserv_id)) {
        edits.remove.push_back(i);
      }
    }
    if (s_.dmarc_psl) {
      from_ = dmarc::fromDomains(fields);
      if (!spf_ && s_.spf && s_.resolver != nullptr) startSpf();
    }
    if (!s_.dkim_verify) return;
    dkim::VerifyOptions options;
    options.now = uint64_t(::time(nullptr));
    verifier_.emplace(fields, options);
    arc_.emplace(fields, arc::ValidateOptions{options.now});
    if (s_.resolver != nullptr) {
      ++pending_;
      key_lookup_ = dkim::lookupKeys(*s_.resolver, *verifier_, [this] { answered(); });
      if (key_lookup_ == nullptr) --pending_;  // nothing to look up
      ++pending_;
      arc_lookup_ = arc::lookupKeys(*s_.resolver, *arc_, [this] { answered(); });
      if (arc_lookup_ == nullptr) --pending_;
    }
  }

  void onBody(std::string_view bytes) override {
    if (verifier_) verifier_->feedBody(bytes);
    if (arc_) arc_->feedBody(bytes);
  }

  bool mayRefuse() const override {
    return s_.dmarc_psl && s_.dmarc_actions.on_reject == dmarc::OnReject::Reject;
  }

  void onEndAsync(std::vector<content::Recipient>&, content::EndEdits& edits,
                  EndDone done) override {
    if (verifier_) verifier_->endBody();
    if (arc_) arc_->endBody();
    edits_ = &edits;
    waiting_ = std::move(done);
    ended_ = true;
    if (pending_ == 0) proceed();
  }

 private:
  void startSpf() {
    bool helo_identity = s_.spf_helo_identity;
    ++pending_;
    spf_lookup_ = spf::checkHost(*s_.resolver, *s_.spf, [this, helo_identity](spf::Report r) {
      spf_ = dmarc::SpfInput{std::string(spf::outcomeName(r.result)), s_.spf->domain};
      own_spf_part_ = spf::authResultsPart(r.result, helo_identity, s_.spf->domain);
      answered();
    });
  }

  // One of the lookups started at header end answered.
  void answered() {
    if (--pending_ == 0 && ended_) proceed();
  }

  // Everything DKIM and SPF needed is in: DMARC, when on, or the field at once.
  void proceed() {
    if (!s_.dmarc_psl || s_.resolver == nullptr || dmarc_started_) return answer();
    dmarc_started_ = true;
    dmarc::AuthInputs inputs;
    inputs.spf = spf_;
    if (verifier_) {
      for (const dkim::SignatureResult& r : verifier_->results()) {
        inputs.dkim.push_back({r.domain, std::string(dkim::outcomeName(r.outcome))});
      }
    }
    if (!from_.ok()) {
      inputs_ = std::move(inputs);
      evaluation_ = dmarc::noFromDomain(from_);
      return answer();
    }
    inputs_ = inputs;
    dmarc_lookup_ = dmarc::evaluate(*s_.resolver, s_.dmarc_psl, from_, std::move(inputs),
                                    [this](dmarc::Evaluation e) {
                                      evaluation_ = std::move(e);
                                      answer();
                                    });
  }

  void answer() {
    std::string field = fmt::format("Authentication-Results: {}", s_.authserv_id);
    if (verifier_) field += ";\r\n\t" + dkim::authResultsDkim(verifier_->results());
    for (const std::string& r : s_.results) field += ";\r\n\t" + r;
    if (!own_spf_part_.empty()) field += ";\r\n\t" + own_spf_part_;
    if (arc_) {
      arc::ChainResult chain = arc_->result();
      // Only a message that came with a chain says arc= (most mail has none).
      if (chain.instances > 0 || chain.status != arc::ChainStatus::None) {
        field += ";\r\n\t" + arc::authResultsArc(chain);
      }
    }
    std::optional<smtp::Reply> refusal;
    if (evaluation_) {
      dmarc::Verdict verdict = dmarc::action(*evaluation_, s_.dmarc_actions);
      field += ";\r\n\t" + dmarc::authResultsPart(*evaluation_, verdict.applied);
      if (s_.on_dmarc) s_.on_dmarc(*evaluation_, verdict, inputs_);
      switch (verdict.action) {
        case dmarc::Action::Reject:
          refusal = smtp::Reply(550, "5.7.1", dmarc::rejectText(*evaluation_));
          break;
        case dmarc::Action::Hold:
          if (!edits_->hold) {
            edits_->hold = fmt::format("quarantined by DMARC policy for {}",
                                       evaluation_->from_domain);
          }
          break;
        case dmarc::Action::Header:
        case dmarc::Action::Accept:
          break;
      }
    }
    field += "\r\n";
    edits_->header.prepend.push_back(std::move(field));
    auto done = std::move(waiting_);
    waiting_ = nullptr;
    done(std::move(refusal));
  }

  AuthenticationSettings s_;
  std::optional<dkim::Verifier> verifier_;
  std::optional<arc::Validator> arc_;  // with dkim.verify: the ARC chain (RFC 8617 5.2)
  dmarc::FromDomains from_;
  std::optional<dmarc::SpfInput> spf_;  // from the lists, or evaluated here
  std::string own_spf_part_;            // "spf=..." when evaluated here
  dmarc::AuthInputs inputs_;  // what DMARC was fed
  std::optional<dmarc::Evaluation> evaluation_;
  int pending_ = 0;  // lookups started at header end, not answered yet
  bool ended_ = false;
  bool dmarc_started_ = false;
  EndDone waiting_;
  content::EndEdits* edits_ = nullptr;
  // Last: destroyed first, so no callback outlives the rest.
  dkim::KeyLookupPtr key_lookup_;
  dkim::KeyLookupPtr arc_lookup_;
  spf::EvaluationPtr spf_lookup_;
  dmarc::LookupPtr dmarc_lookup_;
};

}  // namespace

std::unique_ptr<content::ContentStage> authenticationResults(AuthenticationSettings settings) {
  return std::make_unique<AuthenticationStage>(std::move(settings));
}

}  // namespace petrel::server
