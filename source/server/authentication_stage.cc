// The Authentication-Results stage of the content pass (RFC 8601): DKIM verification of every
// incoming message (RFC 6376, dkim/verifier.h) while it streams, the results of the methods
// the restriction checks ran (SPF's check_spf), and one Authentication-Results field on top
// with our hostname as authserv-id. Fields that the client sent claiming our authserv-id are
// removed (RFC 8601 5: they would be taken for ours).
//
// The key lookups start as soon as the header section is complete, so they usually have
// answered when the message ends; if not, end of data waits for them (onEndAsync) without
// blocking the loop. Destroying the stage cancels the lookups.
#include <fmt/format.h>
#include <time.h>

#include "petrel/core/strings.h"
#include "petrel/dkim/auth_results.h"
#include "petrel/dkim/key_lookup.h"
#include "petrel/dkim/verifier.h"
#include "petrel/server/content_stages.h"

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

class AuthenticationStage final : public content::ContentStage {
 public:
  AuthenticationStage(dns::Resolver* resolver, bool verify, std::string authserv_id,
                      std::vector<std::string> results)
      : resolver_(resolver),
        verify_(verify),
        authserv_id_(std::move(authserv_id)),
        results_(std::move(results)) {}

  void onHeader(const std::vector<content::HeaderField>& fields,
                content::HeaderEdits& edits) override {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (iequals(fields[i].name, "Authentication-Results") &&
          iequals(authservId(fields[i].value()), authserv_id_)) {
        edits.remove.push_back(i);
      }
    }
    keys_answered_ = true;
    if (!verify_) return;
    dkim::VerifyOptions options;
    options.now = uint64_t(::time(nullptr));
    verifier_.emplace(fields, options);
    if (resolver_ != nullptr) {
      lookup_ = dkim::lookupKeys(*resolver_, *verifier_, [this] {
        keys_answered_ = true;
        if (waiting_) answer();
      });
    }
    keys_answered_ = lookup_ == nullptr;  // nullptr: nothing to look up
  }

  void onBody(std::string_view bytes) override {
    if (verifier_) verifier_->feedBody(bytes);
  }

  void onEndAsync(std::vector<content::Recipient>&, content::EndEdits& edits,
                  EndDone done) override {
    if (verifier_) verifier_->endBody();
    edits_ = &edits;
    waiting_ = std::move(done);
    if (keys_answered_) answer();
  }

 private:
  void answer() {
    std::string field = fmt::format("Authentication-Results: {}", authserv_id_);
    if (verifier_) field += ";\r\n\t" + dkim::authResultsDkim(verifier_->results());
    for (const std::string& r : results_) field += ";\r\n\t" + r;
    field += "\r\n";
    edits_->header.prepend.push_back(std::move(field));
    auto done = std::move(waiting_);
    waiting_ = nullptr;
    lookup_.reset();
    done(std::nullopt);
  }

  dns::Resolver* resolver_;
  bool verify_;  // dkim.verify
  std::string authserv_id_;
  std::vector<std::string> results_;  // other methods' resinfo ("spf=pass ...")
  std::optional<dkim::Verifier> verifier_;
  bool keys_answered_ = false;
  EndDone waiting_;
  content::EndEdits* edits_ = nullptr;
  dkim::KeyLookupPtr lookup_;  // last: destroyed first, so no callback outlives the rest
};

}  // namespace

std::unique_ptr<content::ContentStage> authenticationResults(dns::Resolver* resolver, bool verify,
                                                            std::string authserv_id,
                                                            std::vector<std::string> results) {
  return std::make_unique<AuthenticationStage>(resolver, verify, std::move(authserv_id),
                                               std::move(results));
}

}  // namespace petrel::server
