// Greylisting's pure part (policy/greylist.h): triplets, sender normalisation and the decision
// over a triplet's stored state. No I/O; the store (greylist_store.cc) applies the decision.
#include "petrel/policy/greylist.h"

#include <algorithm>
#include <ctime>

#include "petrel/core/cidr.h"
#include "petrel/core/strings.h"

namespace petrel::policy {

namespace {

bool isWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool isDigit(char c) { return c >= '0' && c <= '9'; }

// A BATV tag value: ten or more characters of [0-9a-z] at its start (postgrey's test).
bool looksLikeBatvTag(std::string_view s) {
  if (s.size() < 10) return false;
  return std::all_of(s.begin(), s.begin() + 10,
                     [](char c) { return isDigit(c) || (c >= 'a' && c <= 'z'); });
}

// "prvs=TAG=user" (RFC draft order) or "prvs=user=TAG" (seen in the wild) -> "user".
std::string withoutBatv(std::string local) {
  if (!local.starts_with("prvs=")) return local;
  std::string_view rest = std::string_view(local).substr(5);
  size_t eq = rest.find('=');
  if (eq == std::string_view::npos || rest.find('=', eq + 1) != std::string_view::npos) {
    return local;
  }
  std::string_view a = rest.substr(0, eq), b = rest.substr(eq + 1);
  // Whichever part is not a tag is the address; when both or neither look like one, the
  // standard order (tag first).
  if (looksLikeBatvTag(b) && !looksLikeBatvTag(a)) return std::string(a);
  return std::string(b);
}

// Digits that stand alone as a word ("12345" in "bounce-12345-x") become one '#'.
std::string digitRunsReplaced(std::string_view local) {
  std::string out;
  out.reserve(local.size());
  for (size_t i = 0; i < local.size();) {
    if (!isDigit(local[i]) || (i > 0 && isWordChar(local[i - 1]))) {
      out.push_back(local[i++]);
      continue;
    }
    size_t end = i;
    while (end < local.size() && isDigit(local[end])) ++end;
    if (end < local.size() && isWordChar(local[end])) {
      out.append(local.substr(i, end - i));  // part of a longer word ("12ab")
    } else {
      out.push_back('#');
    }
    i = end;
  }
  return out;
}

}  // namespace

int64_t systemClock() { return static_cast<int64_t>(std::time(nullptr)); }

std::optional<std::string> clientNetwork(std::string_view ip, const GreylistSettings& settings) {
  std::optional<IpAddress> parsed = IpAddress::parse(ip);
  if (!parsed) return std::nullopt;
  IpAddress a = parsed->unmapped();
  Cidr net;
  net.v6 = a.v6;
  net.prefix = std::clamp(a.v6 ? settings.ipv6_prefix : settings.ipv4_prefix, 0, a.v6 ? 128 : 32);
  int bits = net.prefix;
  for (size_t i = 0; i < (a.v6 ? 16u : 4u); ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : uint8_t(0xff << (8 - bits));
    net.addr[i] = a.bytes[i] & mask;
  }
  return net.toString();
}

std::string normalizeSender(std::string_view sender) {
  std::string lower = toLower(sender);
  size_t at = lower.rfind('@');
  std::string local = at == std::string::npos ? lower : lower.substr(0, at);
  std::string domain = at == std::string::npos ? std::string() : lower.substr(at);
  local = withoutBatv(std::move(local));
  if (size_t plus = local.find('+'); plus != std::string::npos) local.resize(plus);
  return digitRunsReplaced(local) + domain;
}

std::optional<Triplet> makeTriplet(std::string_view client_ip, std::string_view sender,
                                   std::string_view recipient, const GreylistSettings& settings) {
  std::optional<std::string> network = clientNetwork(client_ip, settings);
  if (!network) return std::nullopt;
  return Triplet{std::move(*network), normalizeSender(sender), toLower(recipient)};
}

GreylistStep decideGreylist(const std::optional<TripletState>& triplet,
                            const std::optional<NetworkState>& network, int64_t now,
                            const GreylistSettings& settings) {
  using Kind = GreylistAnswer::Kind;
  auto fresh = [&](int64_t last_seen) { return now - last_seen <= settings.max_age; };
  GreylistStep step;
  const bool whitelisted = settings.auto_whitelist_after > 0 && network &&
                           fresh(network->last_seen) &&
                           network->passes >= int64_t(settings.auto_whitelist_after);
  if (whitelisted) {
    step.answer.kind = Kind::Whitelisted;
    if (now - network->last_seen >= settings.touch_interval || now < network->last_seen) {
      step.network = NetworkState{network->passes, now};
    }
    // The triplet is left alone: the network's entry is what keeps its mail flowing.
    return step;
  }
  if (!triplet || !fresh(triplet->last_seen)) {
    step.answer = {Kind::DeferNew, settings.delay};
    step.triplet = TripletState{now, now, 0};
    return step;
  }
  if (triplet->passes > 0 && now >= triplet->last_seen &&
      now - triplet->last_seen < settings.touch_interval) {
    step.answer.kind = Kind::Pass;  // seen a moment ago: not worth a write
    return step;
  }
  TripletState t = *triplet;
  t.first_seen = std::min(t.first_seen, now);  // a clock that went back
  t.last_seen = now;
  const int64_t waited = now - t.first_seen;
  if (t.passes == 0 && waited < settings.delay) {
    step.answer = {Kind::DeferEarly, settings.delay - waited};
    step.triplet = t;
    return step;
  }
  if (t.passes == 0) {
    // The triplet's first pass: one more good triplet for its network (postgrey counts a
    // client once per triplet that made it through, not once per message).
    NetworkState n = network && fresh(network->last_seen) ? *network : NetworkState{};
    n.passes += 1;
    n.last_seen = now;
    step.network = n;
  }
  t.passes += 1;
  step.answer.kind = Kind::Pass;
  step.triplet = t;
  return step;
}

}  // namespace petrel::policy
