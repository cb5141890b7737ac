// SRS0/SRS1 forward and reverse (headers/petrel/srs/srs.h), field for field as the Guarded
// scheme of libsrs2 and python3-srs (SRS/Guarded.py, SRS/Shortcut.py) lays them out:
//   forward  plain  local@host -> SRS0<sep>hash(ts,host,local)=ts=host=local
//            SRS0<sep>rest@host -> SRS1<sep>hash(host,<sep>rest)=host=<sep>rest
//            SRS1<sep>x=h=rest  -> SRS1<sep>hash(h,rest)=h=rest   (the first forwarder kept)
//   reverse  SRS0: hash, then timestamp; SRS1: hash only, giving back SRS0<rest>@h.
// A quoted local part keeps its quotes around the new local part, as the libraries do.
#include "petrel/srs/srs.h"

#include <fmt/format.h>

#include "petrel/core/base64.h"
#include "petrel/core/strings.h"
#include "petrel/tls/crypto.h"

namespace petrel::srs {

namespace {

constexpr std::string_view Base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr int64_t SecondsPerDay = 86400;
constexpr int64_t TickSlots = 32 * 32;  // two base32 characters

bool isSeparator(char c) { return c == '=' || c == '+' || c == '-'; }

// "SRS0=" / "srs1-" ...: the tag digit ('0' or '1') when `local` starts with a tag and a
// separator, else 0.
char tagOf(std::string_view local) {
  if (local.size() < 5 || !istartsWith(local, "SRS") || !isSeparator(local[4])) {
    return 0;
  }
  return local[3] == '0' || local[3] == '1' ? local[3] : 0;
}

struct SplitAddress {
  std::string_view quotes;  // "\"" when the local part was quoted
  std::string_view local;
  std::string_view domain;
};

// At the last '@' (a quoted local part may hold one), as SRS/Base.py parse_addr.
std::optional<SplitAddress> splitAddress(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  SplitAddress s{{}, address.substr(0, at), address.substr(at + 1)};
  if (s.local.size() >= 2 && s.local.front() == '"' && s.local.back() == '"') {
    s.local = s.local.substr(1, s.local.size() - 2);
    s.quotes = "\"";
  }
  return s;
}

// Splits `text` at the first `count` '=' into count + 1 fields (the last keeps any further
// '='); nullopt when there are fewer.
std::optional<std::vector<std::string_view>> splitFields(std::string_view text, size_t count) {
  std::vector<std::string_view> fields;
  while (fields.size() < count) {
    size_t eq = text.find('=');
    if (eq == std::string_view::npos) {
      return std::nullopt;
    }
    fields.push_back(text.substr(0, eq));
    text = text.substr(eq + 1);
  }
  fields.push_back(text);
  return fields;
}

}  // namespace

std::string_view toString(Reversal::Status status) {
  switch (status) {
    case Reversal::Status::Ok:
      return "ok";
    case Reversal::Status::NotSrs:
      return "not an SRS address";
    case Reversal::Status::BadSyntax:
      return "bad syntax";
    case Reversal::Status::BadHash:
      return "invalid hash";
    case Reversal::Status::Expired:
      return "expired timestamp";
  }
  return "?";
}

std::string timestamp(int64_t unix_seconds) {
  int64_t day = unix_seconds / SecondsPerDay;
  return {Base32[(day >> 5) & 31], Base32[day & 31]};
}

bool timestampValid(std::string_view stamp, int64_t unix_seconds, int max_age_days) {
  // libsrs2 refuses any length but two (python3-srs would take more; we never make them).
  if (stamp.size() != 2) {
    return false;
  }
  int64_t then = 0;
  for (char c : stamp) {
    size_t v = Base32.find(static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
    if (v == std::string_view::npos) {
      return false;
    }
    then = then * 32 + static_cast<int64_t>(v);
  }
  int64_t now = (unix_seconds / SecondsPerDay) % TickSlots;
  // The stamp is in a cycle of 1024 days: one "later" than today was made before the wrap.
  while (now < then) {
    now += TickSlots;
  }
  return now <= then + max_age_days;
}

bool isSrsAddress(std::string_view address) {
  auto s = splitAddress(address);
  return s && tagOf(s->local) != 0;
}

Rewriter::Rewriter(Options options) : options_(std::move(options)) {}

std::string Rewriter::hash(std::string_view secret, const std::vector<std::string_view>& pieces,
                           size_t length) {
  std::string data;
  for (std::string_view p : pieces) {
    data += toLower(p);
  }
  std::string mac = base64Encode(tls::hmacSha1(secret, data));
  return mac.substr(0, std::min(length, mac.size()));
}

std::string Rewriter::sign(const std::vector<std::string_view>& pieces) const {
  return hash(options_.secrets.front(), pieces, static_cast<size_t>(options_.hash_length));
}

bool Rewriter::verify(std::string_view given, const std::vector<std::string_view>& pieces) const {
  if (given.size() < static_cast<size_t>(options_.hash_min) || given.size() > MaxHashLength) {
    return false;
  }
  // Case-insensitive, as libsrs2 compares: base64 is case-sensitive, but a relay that smashes
  // the case of a local part must not turn a bounce into a reject (the chance that another
  // case of the same letters is a valid hash is negligible at 4 characters of 64).
  for (const std::string& secret : options_.secrets) {
    if (iequals(hash(secret, pieces, given.size()), given)) {
      return true;
    }
  }
  return false;
}

Result<std::string> Rewriter::forward(std::string_view sender, int64_t unix_seconds) const {
  if (options_.secrets.empty()) {
    return Error::permanent("SRS: no secret");
  }
  auto s = splitAddress(sender);
  if (!s || s->local.empty() || s->domain.empty()) {
    return Error::permanent(fmt::format("SRS: cannot rewrite \"{}\": not local@domain", sender));
  }
  if (iequals(s->domain, options_.domain)) {
    return std::string(sender);
  }
  const std::string sep(1, options_.separator);
  std::string local;
  switch (tagOf(s->local)) {
    case '1': {
      // SRS1<sep>hash=first.host=rest: keep the first forwarder and what it made.
      auto f = splitFields(s->local.substr(5), 2);
      if (!f || (*f)[1].empty() || (*f)[2].empty()) {
        return Error::permanent(fmt::format("SRS: malformed SRS1 sender \"{}\"", sender));
      }
      local = fmt::format("SRS1{}{}={}={}", sep, sign({(*f)[1], (*f)[2]}), (*f)[1], (*f)[2]);
      break;
    }
    case '0': {
      // Only the tag goes: "<sep>hash=ts=host=user" is kept for the first forwarder to check.
      std::string_view rest = s->local.substr(4);
      local = fmt::format("SRS1{}{}={}={}", sep, sign({s->domain, rest}), s->domain, rest);
      break;
    }
    default: {
      std::string ts = timestamp(unix_seconds);
      local = fmt::format("SRS0{}{}={}={}={}", sep, sign({ts, s->domain, s->local}), ts, s->domain,
                          s->local);
      break;
    }
  }
  return fmt::format("{}{}{}@{}", s->quotes, local, s->quotes, options_.domain);
}

Reversal Rewriter::reverse(std::string_view address, int64_t unix_seconds) const {
  using Status = Reversal::Status;
  auto s = splitAddress(address);
  if (!s) {
    return {Status::NotSrs, {}};
  }
  char tag = tagOf(s->local);
  if (tag == 0) {
    return {Status::NotSrs, {}};
  }
  if (address.size() > MaxAddressLength || hasControlCharacter(address)) {
    return {Status::BadSyntax, {}};
  }
  std::string_view rest = s->local.substr(5);
  if (tag == '1') {
    auto f = splitFields(rest, 2);
    // A '.' in the hash field is a hashless SRS1 of the unsafe variant: never accepted.
    if (!f || (*f)[0].find('.') != std::string_view::npos || (*f)[1].empty() || (*f)[2].empty()) {
      return {Status::BadSyntax, {}};
    }
    if (!verify((*f)[0], {(*f)[1], (*f)[2]})) {
      return {Status::BadHash, {}};
    }
    return {Status::Ok, fmt::format("{}SRS0{}{}@{}", s->quotes, (*f)[2], s->quotes, (*f)[1])};
  }
  auto f = splitFields(rest, 3);
  if (!f || (*f)[2].empty() || (*f)[3].empty()) {
    return {Status::BadSyntax, {}};
  }
  if (!verify((*f)[0], {(*f)[1], (*f)[2], (*f)[3]})) {
    return {Status::BadHash, {}};
  }
  if (!timestampValid((*f)[1], unix_seconds, options_.max_age_days)) {
    return {Status::Expired, {}};
  }
  return {Status::Ok, fmt::format("{}{}{}@{}", s->quotes, (*f)[3], s->quotes, (*f)[2])};
}

}  // namespace petrel::srs
