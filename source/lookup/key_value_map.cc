// KeyValueMap: the case-insensitive exact-match map behind the inline and file backends.
// It owns only the map; loading, reloading and warnings belong to the backends.
#include <algorithm>

#include "petrel/core/strings.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {

bool KeyValueMap::insert(std::string_view key, std::string value) {
  return map_.try_emplace(toLower(key), std::move(value)).second;
}

const std::string* KeyValueMap::find(std::string_view key) const {
  // Callers normally pass lower-case keys; only allocate when they did not.
  bool has_upper = std::any_of(key.begin(), key.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  auto it = has_upper ? map_.find(toLower(key)) : map_.find(key);
  return it == map_.end() ? nullptr : &it->second;
}

}  // namespace petrel::lookup
