// ReloadableResolver: the one Resolver a loop hands out, whose servers can
// change on reload.
//
// Everything on a loop (the SMTP sessions' checks now; SPF, DNSBL and DKIM key
// lookups next) keeps a plain `Resolver&` to this object for the loop's whole
// life. It forwards each query to the resolver installed now; replace()
// installs another (a reload with other dns.servers) without touching the
// queries already asked: each of them keeps the resolver it started on alive
// until it has answered or its handle was destroyed, so a reload never drops an
// answer. It owns no sockets and no cache itself, and it does not create
// resolvers: its owner makes them (Resolver::create may read /etc/resolv.conf)
// and passes them in.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "petrel/dns/resolver.h"

namespace petrel::dns {

class ReloadableResolver final : public Resolver {
 public:
  // `initial` lives on the loop this object is used on. Not null.
  explicit ReloadableResolver(std::shared_ptr<Resolver> initial);
  ~ReloadableResolver() override;

  // Later queries go to `next` (same loop, not null). The resolver replaced is
  // destroyed once its last query in flight has answered or been cancelled (at
  // once when none is). Call on the loop's thread; inside a query callback is
  // fine.
  void replace(std::shared_ptr<Resolver> next);

  // For the loop's last turn before it stops: drops the installed resolver, so
  // that its sockets (lookups whose handles are gone may still be on the wire)
  // close in this turn. A query asked afterwards never calls back, which is
  // what any query does on a loop that no longer runs.
  void close();

  QueryHandlePtr query(std::string name, Type type, Callback done) override;
  // Those of the resolver installed now (a replaced one's counters are not
  // carried over); empty after close().
  ResolverStats stats() const override;
  std::vector<std::string> servers() const override;

 private:
  std::shared_ptr<Resolver> current_;
};

}  // namespace petrel::dns
