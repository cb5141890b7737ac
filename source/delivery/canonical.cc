// Router: canonical address rewriting (canonical.sender, canonical.recipient), envelope only.
#include <fmt/format.h>

#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"
#include "petrel/delivery/router.h"

namespace petrel::delivery {

namespace {

Result<std::string> rewrite(const lookup::TablePtr& table, std::string_view address) {
  if (!table || address.empty()) return std::string(address);
  MailAddress parts(address);
  std::string local(parts.local());
  std::string domain = parts.lowerDomain();
  std::vector<std::string> keys{toLower(local) + (domain.empty() ? "" : "@" + domain)};
  if (!domain.empty()) keys.push_back("@" + domain);
  for (const std::string& key : keys) {
    lookup::LookupResult r = table->lookup(key);
    if (r.status == lookup::LookupStatus::NotFound) continue;
    if (r.status != lookup::LookupStatus::Found) {
      return Error::temporary(r.error.empty() ? table->describe() + ": lookup failed" : r.error);
    }
    std::string value(trim(r.value));
    if (value.starts_with('@')) return local + value;  // "@other.example": keep the user part
    if (value.empty() || value.find('@') == std::string::npos ||
        value.find_first_of(" \t,<>") != std::string::npos || hasControlCharacter(value)) {
      return Error::temporary(
          fmt::format("{}: entry for {} is not an address: \"{}\"", table->describe(), key, value));
    }
    return value;
  }
  return std::string(address);
}

}  // namespace

Result<std::string> Router::canonicalRecipient(std::string_view address) const {
  return rewrite(canonical_recipient_, address);
}

Result<std::string> Router::canonicalSender(std::string_view address) const {
  return rewrite(canonical_sender_, address);
}

}  // namespace petrel::delivery
