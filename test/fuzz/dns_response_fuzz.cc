// libFuzzer target for DNS responses: the ldns codec (source/dns/wire.cc, parseMessage) and the
// interpretation of a response for a query (source/dns/interpret.cc). Input: 1 byte picking
// the query type (A, AAAA, MX, TXT, PTR, NS), then the response octets as they would arrive over
// UDP for a query of "example.test".
// Invariants: a Found answer fills exactly the list of the asked type, with no empty entry;
// TempFail always says why; a CNAME chase names a target; TTLs never have the top bit set.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "../../source/dns/interpret.h"
#include "../../source/dns/wire.h"

using namespace petrel::dns;

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const Type types[] = {Type::A, Type::AAAA, Type::MX, Type::TXT, Type::PTR, Type::NS};
  Type type = types[data[0] % 6];
  auto message = wire::parseMessage(data + 1, size - 1);
  if (!message) return 0;
  Outcome o = interpret(*message, "example.test", type);
  const Answer& a = o.answer;
  if (o.kind == Outcome::Kind::Final && a.status == Answer::Status::Found) {
    size_t filled = (a.addresses.empty() ? 0 : 1) + (a.mx.empty() ? 0 : 1) +
                    (a.txt.empty() ? 0 : 1) + (a.ptr.empty() ? 0 : 1) +
                    (a.ns.empty() ? 0 : 1);
    check(filled == 1);
    if (type == Type::MX) {
      check(!a.mx.empty());
      for (const auto& r : a.mx) check(!r.exchange.empty());
    }
    if (type == Type::A || type == Type::AAAA) {
      for (const auto& ip : a.addresses) check(!ip.empty());
    }
  }
  if (o.kind == Outcome::Kind::Final && a.status == Answer::Status::TempFail) {
    check(!a.error.empty());
  }
  if (o.kind == Outcome::Kind::Chase) check(!o.chase_to.empty());
  if (o.kind == Outcome::Kind::Retry) check(!o.error.empty());
  check(a.ttl <= 0x7fffffffu);
  return 0;
}
