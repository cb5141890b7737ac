// Router's SRS decisions for forwarded mail (headers/petrel/delivery/router.h, docs/srs.md):
// which recipients are forwarded, and the envelope sender they get. The address arithmetic is
// srs/; the reversal of SRS addresses at RCPT time is part of the expansion (router.cc).
//
// "Forwarded" is decided per recipient from what the queue keeps: the address as given in
// RCPT TO (StoredRecipient::orig_address) was one of ours, and its final address goes out by
// smtp. That covers aliases to outside addresses and a catch-all to one; mail a client relays
// through us (mynetworks, SASL) was given at the outside domain and keeps its sender.
#include <fmt/format.h>

#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"
#include "petrel/delivery/router.h"

namespace petrel::delivery {

bool Router::forwarded(std::string_view orig_address, const DeliveryTarget& target) const {
  if (target.transport != Transport::Smtp) {
    return false;
  }
  std::string_view text = trim(orig_address);
  if (iequals(text, "postmaster")) {
    return true;  // RFC 5321 4.5.1: the bare form is our postmaster
  }
  MailAddress a(text);
  return a.hasDomain() && classifyDomain(a.domain()).kind == DomainKind::Local;
}

std::string Router::forwardingSender(std::string_view sender) const {
  std::string unchanged(sender);
  if (!srs_ || sender.empty()) {
    return unchanged;
  }
  MailAddress a(sender);
  if (!a.hasDomain() || a.local().empty()) {
    return unchanged;
  }
  std::string domain = toLower(a.domain());
  for (const std::string& x : srs_exclude_) {
    // postsrsd's SRS_EXCLUDE_DOMAINS: ".example.com" is every domain below it, not itself.
    bool hit = x.front() == '.' ? domain.size() > x.size() && domain.ends_with(x) : domain == x;
    if (hit) {
      return unchanged;
    }
  }
  // Our own domains are covered by our SPF record; a table that fails counts as not ours
  // (rewriting is always safe: the bounce comes back through srs.domain).
  if (classifyDomain(domain).kind == DomainKind::Local) {
    return unchanged;
  }
  auto rewritten = srs_->forward(sender, now_());
  return rewritten ? *rewritten : unchanged;
}

}  // namespace petrel::delivery
