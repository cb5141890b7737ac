// MailboxQuota: delivery.quota's limits and decisions; see headers/petrel/delivery/quota.h.
#include "petrel/delivery/quota.h"

#include <fmt/format.h>

#include <charconv>

#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"

namespace petrel::delivery {

namespace {

std::optional<uint64_t> decimal(std::string_view text) {
  text = trim(text);
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A table's value in an error message: bounded, control characters as '?'.
std::string printable(std::string_view text) {
  std::string out(text.substr(0, 64));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

}  // namespace

Result<QuotaLimit> parseQuotaValue(std::string_view value) {
  std::string_view bytes = value;
  std::string_view messages;
  if (size_t comma = value.find(','); comma != std::string_view::npos) {
    bytes = value.substr(0, comma);
    messages = value.substr(comma + 1);
  }
  auto b = decimal(bytes);
  auto m = messages.empty() && value.find(',') == std::string_view::npos
               ? std::optional<uint64_t>(0)
               : decimal(messages);
  if (!b || !m) {
    return Error::permanent(fmt::format("quota \"{}\" is not <bytes> or <bytes>,<messages>",
                                        printable(value)));
  }
  return QuotaLimit{*b, *m};
}

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
  auto limit = limitFor(address);
  if (!limit) return limit.error();
  if (limit->unlimited()) return false;
  auto usage = maildirUsage(maildir, *limit, now);
  if (!usage) return usage.error();
  return quotaFull(*limit, *usage);
}

void MailboxQuota::refreshTables() const {
  if (table_) table_->refresh();
}

MailboxQuotaPtr makeMailboxQuota(const config::Config& cfg, lookup::Warn warn) {
  if (!cfg.delivery.quota.enabled) return nullptr;
  return std::make_shared<const MailboxQuota>(cfg, std::move(warn));
}

}  // namespace petrel::delivery
