// The DKIM signing stage of the content pass; see dkim_signing_stage.h.
//
// Per message:
//   onHeader    which entries may sign (the author domain's; all of them when canonical maps
//               may still change the From: address), one Signer each; the header as stored
//   onBody      every Signer hashes the body
//   onEndAsync  on the pool: is the client ours (a mynetworks table), the header as delivered
//               (canonical maps), the author domain of that header, sign -> on the loop: the
//               fields go on top, one log line each, then `done`
#include "petrel/server/dkim_signing_stage.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>

#include "petrel/core/strings.h"
#include "petrel/delivery/header_rewrite.h"
#include "petrel/log/mail_log.h"
#include "petrel/server/canonical_headers.h"

namespace petrel::server {

namespace {

// A domain as compared: lower case, without a final dot.
std::string normalDomain(std::string_view d) {
  std::string out = toLower(d);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// Text from the message or the config that goes into a log line: no control characters.
std::string loggable(std::string_view text) {
  std::string out;
  for (char c : text) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  return out;
}

// One message's end-of-data work, shared between the stage (on the loop) and the thread pool.
// The pool touches only this object; `stage` is cleared when the stage goes first.
struct SigningJob {
  // In
  std::shared_ptr<const DkimSigningKeys> keys;
  std::string queue_id;
  bool ours = false;
  std::function<Result<bool>()> ours_on_pool;
  std::function<Result<std::string>(const std::string&)> delivered_header;
  std::string header;           // fields as delivered before the rewrite, + CRLF
  std::vector<size_t> entries;  // the entry each signer stands for
  std::vector<dkim::Signer> signers;
  // Out
  std::vector<std::string> fields;  // DKIM-Signature fields, in entry order
  std::vector<std::pair<std::string, std::string>> signed_;  // selector, domain per field
  std::vector<std::string> warnings;                         // each a whole warning text

  void run();
};

void SigningJob::run() {
  if (!ours) {
    if (!ours_on_pool) return;
    Result<bool> in = ours_on_pool();
    if (!in) {
      warnings.push_back(fmt::format("{}: not DKIM-signed: relay.mynetworks lookup failed: {}",
                                     queue_id, loggable(in.error().message())));
      return;
    }
    if (!*in) return;
  }
  std::string delivered = header;
  if (delivered_header) {
    // A rewrite that fails now may succeed at delivery, which would then write fields other
    // than those signed: no signature rather than a broken one.
    Result<std::string> r = delivered_header(header);
    if (!r) {
      warnings.push_back(fmt::format("{}: not DKIM-signed: canonical header rewrite failed: {}",
                                     queue_id, loggable(r.error().message())));
      return;
    }
    delivered = std::move(*r);
  }
  content::HeaderSection section(delivered.size() + 1);
  section.feed(delivered);
  if (!section.complete()) section.end();
  const std::vector<content::HeaderField>& delivered_fields = section.fields();
  std::optional<std::string> author = authorDomain(delivered_fields);
  if (!author) return;
  for (size_t entry : signingEntriesFor(*keys, *author)) {
    auto at = std::find(entries.begin(), entries.end(), entry);
    if (at == entries.end()) continue;  // not a candidate at the header's end: nothing hashed
    const dkim::SignSpec& spec = (*keys)[entry];
    Result<std::string> field = signers[size_t(at - entries.begin())].finish(delivered_fields);
    if (!field) {
      warnings.push_back(fmt::format("{}: not DKIM-signed with s={}, d={}: {}", queue_id,
                                     loggable(spec.selector), loggable(spec.domain),
                                     loggable(field.error().message())));
      continue;
    }
    fields.push_back(std::move(*field));
    signed_.emplace_back(loggable(spec.selector), loggable(spec.domain));
  }
}

class DkimSigningStage final : public content::ContentStage {
 public:
  explicit DkimSigningStage(DkimSigningSetup setup) : setup_(std::move(setup)) {}
  ~DkimSigningStage() override {
    if (job_) job_->stage = nullptr;
  }

  void onHeader(const std::vector<content::HeaderField>& fields,
                content::HeaderEdits& edits) override {
    if (!setup_.keys || setup_.keys->empty()) return;
    const DkimSigningKeys& keys = *setup_.keys;
    std::vector<size_t> candidates;
    if (setup_.delivered_header) {
      // The canonical maps may give From: another domain; which one is known only at the end.
      for (size_t i = 0; i < keys.size(); ++i) candidates.push_back(i);
    } else if (auto author = authorDomain(fields)) {
      candidates = signingEntriesFor(keys, *author);
    }
    if (candidates.empty()) return;
    // The header as the store keeps it: the fields as received with the earlier stages' edits
    // (the Received field on top). This stage is last, so those are all of them.
    stored_ = fields;
    content::applyHeaderEdits(stored_, edits, "");
    for (size_t i : candidates) {
      entries_.push_back(i);
      signers_.emplace_back(keys[i], setup_.now);
    }
  }

  void onBody(std::string_view bytes) override {
    for (dkim::Signer& s : signers_) s.feedBody(bytes);
  }

  void onEndAsync(std::vector<content::Recipient>&, content::EndEdits& edits,
                  EndDone done) override {
    if (signers_.empty()) return done(std::nullopt);
    if (edits.body) {
      // A milter replaced the body (SMFIR_REPLBODY): the signature covers the new one.
      signers_.clear();
      for (size_t i : entries_) {
        signers_.emplace_back((*setup_.keys)[i], setup_.now);
        signers_.back().feedBody(*edits.body);
      }
    }
    auto job = std::make_shared<Shared>();
    job->stage = this;
    SigningJob& w = job->work;
    w.keys = setup_.keys;
    w.queue_id = setup_.queue_id;
    w.ours = setup_.ours;
    w.ours_on_pool = setup_.ours_on_pool;
    w.delivered_header = setup_.delivered_header;
    // The end-of-data edits so far (fields on top, and any replaced or removed) are part of
    // what is delivered.
    w.header = content::applyHeaderEdits(stored_, edits.header, "\r\n");
    stored_.clear();
    w.entries = std::move(entries_);
    w.signers = std::move(signers_);
    edits_ = &edits;
    waiting_ = std::move(done);
    job_ = job;
    auto work = [job] { job->work.run(); };
    auto answered = [job] {
      if (job->stage != nullptr) job->stage->answer(job->work);
    };
    if (setup_.offload) {
      setup_.offload(std::move(work), std::move(answered));
    } else {
      work();
      answered();
    }
  }

 private:
  struct Shared {
    SigningJob work;
    DkimSigningStage* stage = nullptr;
  };

  void answer(SigningJob& w) {
    for (const std::string& warning : w.warnings) {
      log::mail::warning(log::Program::Cleanup, warning);
    }
    for (size_t i = 0; i < w.fields.size(); ++i) {
      edits_->header.prepend.push_back(std::move(w.fields[i]));
      log::mail::dkimSignatureAdded(w.queue_id, w.signed_[i].first, w.signed_[i].second);
    }
    job_.reset();
    auto done = std::move(waiting_);
    waiting_ = nullptr;
    done(std::nullopt);
  }

  DkimSigningSetup setup_;
  std::vector<content::HeaderField> stored_;
  std::vector<size_t> entries_;
  std::vector<dkim::Signer> signers_;
  content::EndEdits* edits_ = nullptr;
  EndDone waiting_;
  std::shared_ptr<Shared> job_;  // while the pool works
};

}  // namespace

std::shared_ptr<const DkimSigningKeys> loadDkimSigningKeys(
    const config::Config& cfg, const std::function<void(const std::string&)>& warn) {
  auto keys = std::make_shared<DkimSigningKeys>();
  for (const config::Dkim::SignEntry& e : cfg.dkim.sign) {
    dkim::SignSpec spec;
    spec.domain = normalDomain(e.domain);
    spec.selector = e.selector;
    spec.headers = e.headers;
    if (auto alg = dkim::parseAlgorithm(e.algorithm)) spec.algorithm = *alg;
    if (auto key = tls::PrivateKey::fromPemFile(e.key)) {
      spec.key = std::move(*key);
    } else if (warn) {
      warn(fmt::format("dkim.sign: {}: {}: messages of {} go without this signature", e.origin,
                       key.error().message(), spec.domain));
    }
    keys->push_back(std::move(spec));
  }
  return keys;
}

std::optional<std::string> authorDomain(const std::vector<content::HeaderField>& fields) {
  const content::HeaderField* from = nullptr;
  for (const content::HeaderField& f : fields) {
    if (!iequals(f.name, "From")) continue;
    if (from != nullptr) return std::nullopt;  // RFC 5322 3.6: at most one From:
    from = &f;
  }
  if (from == nullptr) return std::nullopt;
  auto addresses = delivery::findHeaderAddresses(from->value());
  if (!addresses) return std::nullopt;
  std::optional<std::string> domain;
  for (const delivery::HeaderAddress& a : *addresses) {
    size_t at = a.address.rfind('@');
    if (at == std::string::npos) continue;
    std::string d = normalDomain(std::string_view(a.address).substr(at + 1));
    if (d.empty()) continue;
    if (domain && *domain != d) return std::nullopt;
    domain = std::move(d);
  }
  return domain;
}

std::vector<size_t> signingEntriesFor(const DkimSigningKeys& keys, std::string_view author_domain) {
  std::string domain = normalDomain(author_domain);
  // From the author domain up, label by label; the first level with entries wins.
  for (std::string_view d = domain; !d.empty();) {
    std::vector<size_t> out;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].domain == d) out.push_back(i);
    }
    if (!out.empty()) return out;
    size_t dot = d.find('.');
    if (dot == std::string_view::npos) break;
    d.remove_prefix(dot + 1);
  }
  return {};
}

std::unique_ptr<content::ContentStage> dkimSigning(DkimSigningSetup setup) {
  return std::make_unique<DkimSigningStage>(std::move(setup));
}

std::optional<DkimSigningSetup> dkimSigningSetup(const Snapshot& snap, const std::string& client_ip,
                                                 const std::string& client,
                                                 const std::string& protocol, bool authenticated,
                                                 event::Dispatcher& dispatcher,
                                                 std::string queue_id) {
  if (!snap.dkim_signing || snap.dkim_signing->empty()) return std::nullopt;
  DkimSigningSetup s;
  s.keys = snap.dkim_signing;
  s.queue_id = std::move(queue_id);
  s.now = uint64_t(::time(nullptr));
  // The same clients as canonical.headers: local and permit_mynetworks/permit_sasl_authenticated.
  s.ours = authenticated || (snap.mynetworks && snap.mynetworks->contains(client_ip));
  if (!s.ours && snap.mynetworks_table) {
    if (!snap.mynetworks_table->blocking()) {
      s.ours = snap.mynetworks_table->lookup(client_ip).status == lookup::LookupStatus::Found;
    } else {
      s.ours_on_pool = [table = snap.mynetworks_table, client_ip]() -> Result<bool> {
        lookup::LookupResult r = table->lookup(client_ip);
        if (r.status == lookup::LookupStatus::Found) return true;
        if (r.status == lookup::LookupStatus::NotFound) return false;
        return Error::temporary(r.error.empty() ? table->describe() + ": lookup failed" : r.error);
      };
    }
  }
  if (!s.ours && !s.ours_on_pool) return std::nullopt;
  if (snap.router && snap.router->hasCanonicalMaps() &&
      snap.config->canonical_headers != config::Config::HeaderRewriteClients::None) {
    // The rewrite delivery will do (QueueManager -> canonicalHeaders), over the same fields.
    s.delivered_header = [snap, client,
                          protocol](const std::string& header) -> Result<std::string> {
      queue::StoredMessage m;
      m.client = client;
      m.protocol = protocol;
      m.body = header;
      Result<delivery::RewrittenHeader> r = canonicalHeaders(snap, m);
      if (!r) return r.error();
      if (r->changed == 0) return header;
      return r->header + header.substr(r->original_size);
    };
  }
  s.offload = [&dispatcher](std::function<void()> work, std::function<void()> done) {
    dispatcher.offload(std::move(work), std::move(done));
  };
  return s;
}

}  // namespace petrel::server
