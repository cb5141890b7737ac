// MX helpers for the router (pure, no I/O): the delivery order of an MX set (RFC 5321 5.1)
// and the null MX of RFC 7505.
//
// They work on what Resolver returns for an MX query; they do not resolve the exchanges nor
// decide whether to fall back to the domain's A/AAAA records when there is no MX at all
// (Answer::Status::NoData), which is the router's part of RFC 5321 5.1.
#pragma once

#include <algorithm>
#include <random>
#include <type_traits>
#include <vector>

#include "petrel/dns/resolver.h"

namespace petrel::dns {

// Ascending preference; records of equal preference are shuffled with `rng` so that load
// spreads across equal MX hosts (RFC 5321 5.1: "the SMTP client SHOULD try them in random
// order"). Exchanges are kept as they are, "." included: a null MX mixed with other records
// is a broken zone and the caller skips the "." entry.
template <typename Rng>
requires std::uniform_random_bit_generator<std::remove_cvref_t<Rng>> std::vector<MxRecord> sortMx(
    std::vector<MxRecord> mx, Rng&& rng) {
  std::stable_sort(mx.begin(), mx.end(), [](const MxRecord& a, const MxRecord& b) {
    return a.preference < b.preference;
  });
  for (auto first = mx.begin(); first != mx.end();) {
    auto last = std::find_if(first, mx.end(),
                             [&](const MxRecord& r) { return r.preference != first->preference; });
    std::shuffle(first, last, rng);
    first = last;
  }
  return mx;
}

// RFC 7505 3: a domain that accepts no mail publishes a single MX record with preference 0
// and the root as exchange ("."). Only that exact shape counts; a "." among other MX records
// is not a null MX (the RFC forbids the mix, and bouncing on a broken zone would lose mail).
bool isNullMx(const std::vector<MxRecord>& mx);

}  // namespace petrel::dns
