// Response validation and interpretation; see interpret.h.
#include "interpret.h"

#include <fmt/format.h>

#include <algorithm>

namespace petrel::dns {
namespace {

bool usable(const wire::Record& r, uint16_t type) {
  // A TXT record may hold one empty string; for every other type empty data means RDATA we
  // could not decode (wrong length), which is skipped rather than passed on.
  return r.klass == wire::ClassIN && r.type == type && (type == wire::TypeTXT || !r.data.empty());
}

Outcome finalAnswer(Answer::Status status, std::string error = {}) {
  Outcome out;
  out.kind = Outcome::Kind::Final;
  out.answer.status = status;
  out.answer.error = std::move(error);
  return out;
}

}  // namespace

bool isSameOrAncestor(std::string_view ancestor, std::string_view name) {
  if (ancestor == "." || ancestor == name) return true;
  return name.size() > ancestor.size() && name.ends_with(ancestor) &&
         name[name.size() - ancestor.size() - 1] == '.';
}

std::optional<std::string> rejectReason(const wire::Message& response, uint16_t id,
                                        std::string_view qname, uint16_t qtype) {
  if (!response.qr) return std::string("QR bit clear (a query, not a response)");
  if (response.id != id) return fmt::format("id {} instead of {}", response.id, id);
  if (response.opcode != 0) return fmt::format("opcode {}", response.opcode);
  if (response.questions.empty()) {
    // Some servers drop the question from a truncated answer or from an error (FORMERR to an
    // EDNS query). Such a response carries no data; the worst a forger can do with it is
    // send us to TCP or to the next server, and he needs the id for that too.
    bool no_data =
        response.tc || (response.rcode != wire::NoError && response.rcode != wire::NxDomain);
    if (no_data && response.answer.empty()) return std::nullopt;
    return std::string("no question section");
  }
  if (response.questions.size() != 1) {
    return fmt::format("{} questions", response.questions.size());
  }
  const wire::Question& q = response.questions.front();
  if (q.name != qname || q.type != qtype || q.klass != wire::ClassIN) {
    return fmt::format("question {}/{}/{} instead of {}/{}/1", q.name, q.type, q.klass, qname,
                       qtype);
  }
  return std::nullopt;
}

Outcome interpret(const wire::Message& response, std::string_view qname, Type qtype, int max_hops) {
  const uint16_t rcode = response.rcode;
  if (rcode != wire::NoError && rcode != wire::NxDomain) {
    Outcome out;
    out.kind = Outcome::Kind::Retry;
    out.error = wire::rcodeName(rcode);
    return out;
  }
  const auto type = uint16_t(qtype);

  // Follow the CNAME chain from the question through the answer section (RFC 1034 3.6.2);
  // records whose owner is not on the chain are ignored.
  std::string current(qname);
  std::vector<std::string> visited{current};
  std::vector<const wire::Record*> data;
  uint32_t chain_ttl = UINT32_MAX;
  int hops = 0;
  for (;;) {
    for (const wire::Record& r : response.answer) {
      if (usable(r, type) && r.owner == current) data.push_back(&r);
    }
    if (!data.empty()) break;
    auto cname = std::find_if(response.answer.begin(), response.answer.end(), [&](auto& r) {
      return usable(r, wire::TypeCNAME) && r.owner == current;
    });
    if (cname == response.answer.end()) break;
    if (std::find(visited.begin(), visited.end(), cname->data) != visited.end()) {
      return finalAnswer(Answer::Status::TempFail, fmt::format("CNAME loop at {}", cname->data));
    }
    if (hops == max_hops) {
      return finalAnswer(Answer::Status::TempFail,
                         fmt::format("CNAME chain from {} longer than {}", qname, max_hops));
    }
    ++hops;
    chain_ttl = std::min(chain_ttl, sanitizeTtl(cname->ttl));
    current = cname->data;
    visited.push_back(current);
  }

  Outcome out;
  out.kind = Outcome::Kind::Final;
  out.hops = hops;
  out.chain_ttl = chain_ttl;
  Answer& a = out.answer;
  a.canonical_name = current;

  if (!data.empty()) {
    // Data wins over an NXDOMAIN rcode: the records are there.
    uint32_t ttl = chain_ttl;
    for (const wire::Record* r : data) {
      ttl = std::min(ttl, sanitizeTtl(r->ttl));
      switch (qtype) {
        case Type::A:
        case Type::AAAA:
          a.addresses.push_back(r->data);
          break;
        case Type::MX:
          a.mx.push_back({r->preference, r->data});
          break;
        case Type::TXT:
          a.txt.push_back(r->data);
          break;
        case Type::PTR:
          a.ptr.push_back(r->data);
          break;
        case Type::NS:
          a.ns.push_back(r->data);
          break;
      }
    }
    a.status = Answer::Status::Found;
    a.ttl = ttl;
    return out;
  }

  // A negative answer. RFC 2308 5: its TTL is the smaller of the SOA's own TTL and its MINIMUM
  // field, and without an SOA it is not cached (TTL 0). The SOA must belong to a zone that
  // contains the name, or it says nothing about it.
  auto soa = std::find_if(response.authority.begin(), response.authority.end(), [&](auto& r) {
    return r.klass == wire::ClassIN && r.type == wire::TypeSOA &&
           isSameOrAncestor(r.owner, current);
  });
  bool has_soa = soa != response.authority.end();
  uint32_t negative_ttl =
      has_soa ? std::min({sanitizeTtl(soa->ttl), sanitizeTtl(soa->soa_minimum), chain_ttl}) : 0;

  if (rcode == wire::NxDomain) {
    // RFC 6604 2.1: after CNAMEs the rcode describes the last name of the chain.
    a.status = Answer::Status::NxDomain;
    a.ttl = negative_ttl;
    return out;
  }
  if (hops > 0 && !has_soa) {
    // The server gave the alias but not the target's data (an authoritative server whose
    // zone does not hold the target): ask for the target itself.
    out.kind = Outcome::Kind::Chase;
    out.chase_to = current;
    out.answer = {};
    return out;
  }
  bool referral = !has_soa && std::any_of(response.authority.begin(), response.authority.end(),
                                          [](auto& r) { return r.type == wire::TypeNS; });
  if (referral) {
    // RFC 2308 2.2.1: NS without SOA is a referral, not NODATA. We asked for recursion; a
    // server that refers us elsewhere cannot answer, and taking it as "no data" could bounce
    // mail.
    Outcome retry;
    retry.kind = Outcome::Kind::Retry;
    retry.error = "referral (server does not recurse)";
    return retry;
  }
  a.status = Answer::Status::NoData;
  a.ttl = negative_ttl;
  return out;
}

}  // namespace petrel::dns
