// Resolver: asynchronous DNS lookups on one libuv loop (A, AAAA, MX, TXT, PTR, NS, CNAME chasing).
//
// The interface and its value types. The implementation (source/dns/resolver.cc) builds and
// parses messages with ldns, sends them over UDP with libuv (TCP when an answer comes back
// truncated), retries across servers, and keeps a TTL-honouring cache; docs/dns.md describes
// the behaviour. Nothing here blocks: every answer arrives later, on the resolver's loop,
// through Dispatcher::post, even when it came from the cache.
//
// What it deliberately does not do: DNSSEC validation, search domains and ndots (names are
// always absolute), /etc/hosts, and deciding what an answer means for mail (null MX, MX
// fallback to A): that is the router's job, helped by mx.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::event {
class Dispatcher;
}

namespace petrel::dns {

// The record types a caller may ask for (values are the RFC 1035/3596 type codes). CNAMEs are
// followed, never asked for.
enum class Type : uint16_t { A = 1, NS = 2, PTR = 12, MX = 15, TXT = 16, AAAA = 28 };

std::string_view typeName(Type type);  // "A", "MX", ...

struct MxRecord {
  uint16_t preference = 0;
  std::string exchange;  // lower case, no trailing dot; the root (null MX) is "."

  bool operator==(const MxRecord&) const = default;
};

// The result of one query. Exactly one of the record lists is filled, the one that matches
// the type asked for, and only when status == Found.
struct Answer {
  enum class Status {
    Found,     // records of the asked type exist (at the end of any CNAME chain)
    NxDomain,  // the name (or the CNAME target) does not exist; also a name that cannot exist
               // (bad syntax), with `error` saying so
    NoData,    // the name exists but has no records of this type (NOERROR, empty answer)
    TempFail,  // no usable answer: timeout, network error, SERVFAIL, REFUSED, FORMERR, NOTIMP,
               // CNAME loop or chain longer than MaxCnameHops. Never a reason to bounce mail.
  };

  Status status = Status::TempFail;
  std::vector<std::string> addresses;  // A / AAAA, as text ("192.0.2.1", "2001:db8::1")
  std::vector<MxRecord> mx;            // in the order the server sent them; see sortMx()
  std::vector<std::string> txt;        // one string per TXT record, its strings concatenated
  std::vector<std::string> ptr;        // names, lower case, no trailing dot
  std::vector<std::string> ns;         // NS host names, lower case, no trailing dot
  // Seconds this answer stays valid: the smallest TTL of the records used (CNAMEs included);
  // for NxDomain/NoData the negative TTL of RFC 2308 (0 when the server sent no SOA). A cached
  // answer carries what is left of it. 0 for TempFail.
  uint32_t ttl = 0;
  std::string error;           // why, for TempFail (and for NxDomain of a malformed name)
  std::string canonical_name;  // the name the records belong to, after CNAMEs (lower case)

  bool found() const { return status == Status::Found; }
};

std::string_view statusName(Answer::Status status);  // "Found", "NxDomain", ...

// Returned by every query. Destroying it cancels the query: the callback is dropped at once
// (and so is everything it captured) and will never run. Destroy it on the resolver's loop
// thread; it may outlive the resolver. Destroying it inside its own callback is fine.
class QueryHandle {
 public:
  virtual ~QueryHandle() = default;
};
using QueryHandlePtr = std::unique_ptr<QueryHandle>;

struct ResolverOptions {
  // "ip[:port]" entries: "192.0.2.53", "192.0.2.53:5353", "2001:db8::53", "[2001:db8::53]:5353".
  // Empty: the nameserver lines of `resolv_conf` (the first three, as glibc does), and
  // 127.0.0.1:53 when it names none or cannot be read.
  // Default: empty. Config: dns.servers.
  std::vector<std::string> servers;
  std::string resolv_conf = "/etc/resolv.conf";
  // How long one try (one server, UDP or TCP) may take. Default: 2 s.
  std::chrono::milliseconds timeout{2000};
  // Rounds over the server list: each round tries every server once, in order. Default: 2.
  int attempts = 2;
  // EDNS(0) UDP payload size advertised (RFC 6891); 0 sends plain RFC 1035 queries (512 octets).
  // Default: 1232, the DNS flag day 2020 value that avoids IP fragmentation.
  uint16_t edns_udp_size = 1232;
  // Upper bound on the cache's memory (approximate bytes of names and records); 0 disables it.
  // Default: 4 MiB (roughly 20,000 answers).
  size_t cache_max_bytes = 4u << 20;
  // TTL caps: positive answers are kept at most max_ttl seconds, NxDomain/NoData at most
  // max_negative_ttl (RFC 2308 5 suggests one to three hours). Defaults: 86400, 10800.
  uint32_t max_ttl = 86400;
  uint32_t max_negative_ttl = 10800;
};

// Counters, for logs, the status endpoint and tests.
struct ResolverStats {
  uint64_t queries = 0;         // query() calls
  uint64_t cache_hits = 0;      // answers (or CNAME steps) served from the cache
  uint64_t coalesced = 0;       // queries that joined a lookup already in flight
  uint64_t tries = 0;           // UDP/TCP exchanges started
  uint64_t timeouts = 0;        // tries that got no valid answer in time
  uint64_t network_errors = 0;  // tries that failed at the socket (refused, unreachable, EOF)
  uint64_t rejected = 0;        // responses ignored: wrong id, question, QR bit, malformed
  uint64_t tcp_fallbacks = 0;   // truncated UDP answers retried over TCP
};

// Maximum number of CNAMEs followed for one query.
inline constexpr int MaxCnameHops = 8;

class Resolver {
 public:
  using Callback = std::function<void(Answer)>;

  // Reads the server list (options.servers, else options.resolv_conf: a blocking file read,
  // meant for startup and reload, not for a running loop). Errors are Config errors naming
  // the bad entry. The resolver lives on dispatcher.loop(); every call must come from that
  // loop's thread, and `dispatcher` must outlive it. After destroying it, run the loop once
  // more so that its sockets finish closing.
  static Result<std::unique_ptr<Resolver>> create(event::Dispatcher& dispatcher,
                                                  ResolverOptions options);
  static Result<std::unique_ptr<Resolver>> create(event::Dispatcher& dispatcher,
                                                  std::vector<std::string> servers);

  virtual ~Resolver() = default;

  // Looks up `name` (absolute, with or without the trailing dot, any case) and calls `done`
  // exactly once, later, on the loop, unless the returned handle is destroyed first.
  virtual QueryHandlePtr query(std::string name, Type type, Callback done) = 0;

  virtual ResolverStats stats() const = 0;
  // The servers in use, as "ip:port" ("[ip]:port" for IPv6).
  virtual std::vector<std::string> servers() const = 0;
};

using ResolverPtr = std::unique_ptr<Resolver>;

}  // namespace petrel::dns
