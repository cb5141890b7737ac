// A cache in front of a table (TableSpec::cache_ttl); used by makeTable. See cached_table.cc.
#pragma once

#include <cstdint>

#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {

TablePtr withCache(TablePtr inner, uint64_t ttl, uint64_t negative_ttl);

}  // namespace petrel::lookup
