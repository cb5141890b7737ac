// The client's name at connect (Postfix smtpd_peer.c semantics): PTR, then forward
// confirmation. See client_name.h.
//
//   askPtr --NXDOMAIN/NODATA/no usable name--> NoPtr
//          --TempFail--> TempFail
//          --names--> askForward(name 1) --address listed--> Verified
//                                        --not listed / failed--> askForward(name 2) ...
//                                        --no name left--> TempFail (one failed) | NotConfirmed
#include "petrel/server/client_name.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "petrel/core/strings.h"
#include "petrel/dns/names.h"

namespace petrel::server {

namespace {

using NameStatus = policy::ClientFacts::NameStatus;

// A PTR name fit for the audit trail (Postfix valid_hostname, and no numeric names: a PTR of
// "192.0.2.1" would pass for an address in access maps): labels of letters, digits, '-' and
// '_', not starting or ending with '-', not all numeric.
bool usableName(std::string_view name) {
  if (name.empty() || name.size() > 253 || IpAddress::parse(name)) return false;
  bool all_numeric = true;
  for (std::string_view label : split(name, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      auto u = static_cast<unsigned char>(c);
      if (!std::isalnum(u) && c != '-' && c != '_') return false;
      if (!std::isdigit(u)) all_numeric = false;
    }
  }
  return !all_numeric;
}

// A name from the DNS as the log may show it: anything but printable ASCII becomes '?'.
std::string printable(std::string_view name) {
  std::string out(name.substr(0, 255));
  for (char& c : out) {
    if (c < 0x21 || c > 0x7e) c = '?';
  }
  return out;
}

bool sameAddress(const IpAddress& a, std::string_view text) {
  auto b = IpAddress::parse(text);
  if (!b) return false;
  IpAddress u = b->unmapped();
  return u.v6 == a.v6 && u.bytes == a.bytes;
}

}  // namespace

std::optional<ClientName> nameFromHosts(const dns::HostsFile& hosts, std::string_view ip) {
  auto address = IpAddress::parse(ip);
  if (!address) return std::nullopt;
  auto name = hosts.nameOf(*address);
  if (!name || !usableName(*name) || !hosts.lists(*name, *address)) return std::nullopt;
  ClientName found;
  found.client_name = *name;
  found.reverse_client_name = *name;
  found.status = NameStatus::Verified;
  return found;
}

std::unique_ptr<ClientNameLookup> ClientNameLookup::start(dns::Resolver& resolver,
                                                          std::string_view ip, Done done) {
  auto address = IpAddress::parse(ip);
  if (!address) return nullptr;
  IpAddress unmapped = address->unmapped();
  // The PTR name of the unmapped address: an IPv4 client on a dual-stack socket
  // (::ffff:192.0.2.1) has its name under in-addr.arpa.
  auto ptr_name = dns::reverseName(
      unmapped.v6 ? std::string(ip)
                  : fmt::format("{}.{}.{}.{}", unmapped.bytes[0], unmapped.bytes[1],
                                unmapped.bytes[2], unmapped.bytes[3]));
  if (!ptr_name) return nullptr;
  auto lookup =
      std::make_unique<ClientNameLookup>(resolver, std::string(ip), unmapped, std::move(done));
  lookup->askPtr(*ptr_name);
  return lookup;
}

ClientNameLookup::ClientNameLookup(dns::Resolver& resolver, std::string ip, IpAddress address,
                                   Done done)
    : resolver_(resolver), ip_(std::move(ip)), address_(address), done_(std::move(done)) {}

// Dropping pending_ cancels the query in flight, so no callback reaches a destroyed lookup.
ClientNameLookup::~ClientNameLookup() = default;

void ClientNameLookup::askPtr(const std::string& ptr_name) {
  pending_ =
      resolver_.query(ptr_name, dns::Type::PTR, [this](dns::Answer a) { onPtr(std::move(a)); });
}

void ClientNameLookup::onPtr(dns::Answer a) {
  if (a.status == dns::Answer::Status::TempFail) {
    result_.status = NameStatus::TempFail;
    return finish();
  }
  for (const std::string& n : a.ptr) {
    if (names_.size() == MaxPtrNames) break;
    if (usableName(n) && std::find(names_.begin(), names_.end(), n) == names_.end()) {
      names_.push_back(n);
    }
  }
  if (names_.empty()) {
    result_.status = NameStatus::NoPtr;
    if (a.found()) {
      result_.warning = fmt::format("malformed or numeric hostname {} for address {}: ignored",
                                    a.ptr.empty() ? std::string("(none)") : printable(a.ptr[0]),
                                    ip_);
    }
    return finish();
  }
  result_.reverse_client_name = names_.front();
  askForward();
}

void ClientNameLookup::askForward() {
  if (next_name_ == names_.size()) {
    result_.status = soft_ ? NameStatus::TempFail : NameStatus::NotConfirmed;
    return finish();
  }
  pending_ = resolver_.query(names_[next_name_], address_.v6 ? dns::Type::AAAA : dns::Type::A,
                             [this](dns::Answer a) { onForward(std::move(a)); });
}

void ClientNameLookup::onForward(dns::Answer a) {
  const std::string& name = names_[next_name_++];
  if (std::any_of(a.addresses.begin(), a.addresses.end(),
                  [this](const std::string& ip) { return sameAddress(address_, ip); })) {
    result_.client_name = name;
    result_.status = NameStatus::Verified;
    result_.warning.clear();
    return finish();
  }
  // Postfix's warning, with glibc's getaddrinfo texts for the failures; for the first name
  // only (the one Postfix would have tried).
  if (result_.warning.empty()) {
    std::string why = a.status == dns::Answer::Status::TempFail
                          ? ": Temporary failure in name resolution"
                      : a.found() ? ""
                                  : ": Name or service not known";
    result_.warning = fmt::format("hostname {} does not resolve to address {}{}", name, ip_, why);
  }
  if (a.status == dns::Answer::Status::TempFail) soft_ = true;
  askForward();
}

void ClientNameLookup::finish() {
  // `done` may destroy this object: nothing of it is touched afterwards.
  auto done = std::move(done_);
  done_ = nullptr;
  if (done) done(std::move(result_));
}

}  // namespace petrel::server
