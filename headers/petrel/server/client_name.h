// ClientNameLookup: the client's name at connect, as Postfix's smtpd_peername_lookup finds it:
// the PTR names of the client address, then the A (IPv4 client) or AAAA (IPv6 client) records
// of each, until one leads back to the address (forward-confirmed reverse DNS). The result
// fills policy::ClientFacts (client_name, reverse_client_name, client_name_status), the log's
// "name[ip]" and the Received header.
//
// It owns its query in flight and nothing else: no timer (the session driver bounds the whole
// lookup with its own), no logging (it hands back the warning Postfix would log). Pure over
// dns::Resolver, so tests drive it with the FakeResolver.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/cidr.h"
#include "petrel/dns/hosts.h"
#include "petrel/dns/resolver.h"
#include "petrel/policy/check.h"

namespace petrel::server {

struct ClientName {
  std::string client_name = "unknown";          // verified, else "unknown"
  std::string reverse_client_name = "unknown";  // the first usable PTR name, else "unknown"
  policy::ClientFacts::NameStatus status = policy::ClientFacts::NameStatus::NotLooked;
  // What Postfix logs as a warning when the name is not confirmed ("hostname x does not
  // resolve to address 192.0.2.1"); empty when there is nothing to say.
  std::string warning;
};

// The name of `ip` from the hosts file, as the C library's resolver (and so Postfix) finds it
// before any DNS query: the canonical name of the address's line, confirmed by the same line.
// nullopt when the file does not list the address (then ClientNameLookup asks DNS).
std::optional<ClientName> nameFromHosts(const dns::HostsFile& hosts, std::string_view ip);

class ClientNameLookup {
 public:
  using Done = std::function<void(ClientName)>;
  // At most this many PTR names are tried (a client may publish many; each costs a query).
  static constexpr size_t MaxPtrNames = 3;

  // Starts the lookup of `ip` on `resolver`. `done` runs once, later, on the resolver's loop,
  // unless the returned object is destroyed first (that cancels the lookup); `done` may
  // destroy it. Null when `ip` is no IP address (nothing to look up; `done` never runs).
  static std::unique_ptr<ClientNameLookup> start(dns::Resolver& resolver, std::string_view ip,
                                                 Done done);

  ClientNameLookup(dns::Resolver& resolver, std::string ip, IpAddress address, Done done);
  ~ClientNameLookup();
  ClientNameLookup(const ClientNameLookup&) = delete;
  ClientNameLookup& operator=(const ClientNameLookup&) = delete;

 private:
  void askPtr(const std::string& ptr_name);
  void onPtr(dns::Answer a);
  void askForward();
  void onForward(dns::Answer a);
  void finish();

  dns::Resolver& resolver_;
  std::string ip_;
  IpAddress address_;
  Done done_;
  ClientName result_;
  std::vector<std::string> names_;  // PTR names still to confirm, in order
  size_t next_name_ = 0;
  bool soft_ = false;  // a forward lookup failed temporarily
  dns::QueryHandlePtr pending_;
};

}  // namespace petrel::server
