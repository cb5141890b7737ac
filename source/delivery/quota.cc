// MailboxQuota: delivery.quota's limits and decisions; see headers/petrel/delivery/quota.h.
#include "petrel/delivery/quota.h"

#include <fmt/format.h>

#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"

namespace petrel::delivery {

MailboxQuota::MailboxQuota(const config::Config& cfg, lookup::Warn warn)
    : delimiters_(cfg.recipient_delimiter),
      default_bytes_(cfg.delivery.quota.default_bytes),
      bounce_(cfg.delivery.quota.bounce) {
  if (cfg.delivery.quota.table) table_ = lookup::makeTable(*cfg.delivery.quota.table, warn);
}

Result<QuotaLimit> MailboxQuota::limitFor(std::string_view address) const {
  if (!table_) return QuotaLimit{default_bytes_, 0};
  std::string full = toLower(address);
  std::vector<std::string> keys{full};
  if (!delimiters_.empty()) {
    std::string bare = toLower(MailAddress(address).withoutExtension(delimiters_));
    if (bare != full) keys.push_back(std::move(bare));
  }
  for (const std::string& key : keys) {
    lookup::LookupResult r = table_->lookup(key);
    switch (r.status) {
      case lookup::LookupStatus::Found: {
        auto limit = parseQuotaValue(r.value);
        if (!limit) {
          // A typo in the database must not bounce mail: it waits for the admin.
          return Error::temporary(fmt::format("{}: {}: {}", table_->describe(), key,
                                              limit.error().message()));
        }
        return *limit;
      }
      case lookup::LookupStatus::NotFound:
        continue;
      case lookup::LookupStatus::TempFail:
      case lookup::LookupStatus::ConfigError:
        return Error::temporary(fmt::format("{}: {}", table_->describe(), r.error));
    }
  }
  return QuotaLimit{default_bytes_, 0};
}

Result<bool> MailboxQuota::full(std::string_view address, const std::string& maildir,
                                int64_t now) const {
  return wouldExceed(address, maildir, now, 0);
}

Result<bool> MailboxQuota::wouldExceed(std::string_view address, const std::string& maildir,
                                       int64_t now, uint64_t bytes) const {
  auto limit = limitFor(address);
  if (!limit) return limit.error();
  if (limit->unlimited()) return false;
  auto usage = maildirUsage(maildir, *limit, now);
  if (!usage) return usage.error();
  // Dovecot's quota-status service (quota_test_alloc) with the size Postfix passes: the
  // message and its one file must fit. Without a size only a mailbox already full is refused.
  if (bytes == 0) return quotaFull(*limit, *usage);
  return !quotaFits(*limit, *usage, bytes, 1);
}

void MailboxQuota::refreshTables() const {
  if (table_) table_->refresh();
}

MailboxQuotaPtr makeMailboxQuota(const config::Config& cfg, lookup::Warn warn) {
  if (!cfg.delivery.quota.enabled) return nullptr;
  return std::make_shared<const MailboxQuota>(cfg, std::move(warn));
}

}  // namespace petrel::delivery
