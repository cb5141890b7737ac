// The `inline` backend: a map written directly in the YAML config (TableSpec::entries).
//
// Keys are lower-cased once at construction; the map is immutable afterwards, so lookups
// take no lock. It changes only when the whole config is reloaded (a new table is built);
// refresh() has nothing to do.
#include <fmt/format.h>

#include "petrel/core/strings.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {

namespace {

class InlineTable final : public LookupTable {
 public:
  InlineTable(const config::TableSpec& spec, const Warn& warn)
      : description_("inline:" + spec.name) {
    for (const auto& [key, raw_value] : spec.entries) {
      std::string_view value = trim(raw_value);
      if (value.empty()) {
        report(warn,
               fmt::format("table {}: key \"{}\": missing value: skipping", description_, key));
        continue;
      }
      // std::map keys are unique, so a duplicate can only differ in case.
      if (!map_.insert(key, std::string(value))) {
        report(warn, fmt::format("table {}: key \"{}\": duplicate key (keys ignore case): "
                                 "keeping the first",
                                 description_, key));
      }
    }
  }

  LookupResult lookup(std::string_view key) const override {
    const std::string* value = map_.find(key);
    return value ? LookupResult::found(*value) : LookupResult::notFound();
  }

  std::string describe() const override { return description_; }

 private:
  static void report(const Warn& warn, const std::string& message) {
    if (warn) {
      warn(message);
    }
  }

  const std::string description_;
  KeyValueMap map_;
};

}  // namespace

TablePtr makeInlineTable(const config::TableSpec& spec, const Warn& warn) {
  return std::make_shared<InlineTable>(spec, warn);
}

}  // namespace petrel::lookup
