// What one DNS response means for the query that was sent (pure, no I/O).
//
// acceptResponse decides whether a datagram is the answer to our query at all (the spoofing
// checks after the socket's own: id, QR, opcode, question). interpret then turns an accepted
// response into an Outcome: an Answer for the caller, a CNAME target still to be looked up,
// or "ask another server". Records are taken only from the answer section and only along the
// CNAME chain that starts at the question; the authority section supplies only the SOA of a
// negative answer (RFC 2308), and only when its owner is an ancestor of the name; the
// additional section is never read. So an answer cannot plant records for unrelated names.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "petrel/dns/resolver.h"
#include "wire.h"

namespace petrel::dns {

// Why `response` is not the answer to the query (id, qname, qtype), or nullopt when it is.
// A truncated response (TC=1) may come without a question section (some servers send just a
// header); it is accepted when the id matches, since all it can do is send us to TCP.
std::optional<std::string> rejectReason(const wire::Message& response, uint16_t id,
                                        std::string_view qname, uint16_t qtype);

struct Outcome {
  enum class Kind {
    Final,  // `answer` is the answer (Found, NxDomain, NoData, or a TempFail of the data)
    Chase,  // the response ends in a CNAME to `chase_to` without its data: look that up
    Retry,  // this server could not answer (SERVFAIL, REFUSED, referral...): `error`
  };
  Kind kind = Kind::Retry;
  Answer answer;
  std::string chase_to;
  int hops = 0;                     // CNAMEs followed in this response
  uint32_t chain_ttl = UINT32_MAX;  // smallest TTL among them
  std::string error;
};

// `qname` normalized (wire::normalizedName). `max_hops` bounds the CNAMEs followed inside
// this one response; beyond it the Outcome is a Final TempFail.
Outcome interpret(const wire::Message& response, std::string_view qname, Type qtype,
                  int max_hops = MaxCnameHops);

// RFC 2181 8: a TTL with the top bit set is treated as zero.
inline uint32_t sanitizeTtl(uint32_t ttl) { return ttl > 0x7fffffffu ? 0 : ttl; }

// Whether `ancestor` is `name` or one of its parent domains (both normalized).
bool isSameOrAncestor(std::string_view ancestor, std::string_view name);

}  // namespace petrel::dns
