// DNS messages to and from octets with ldns; the only file that includes <ldns/ldns.h>.
//
// Every ldns object is freed before a function returns: nothing from ldns escapes, so the
// rest of the area works on plain values (wire.h says why that matters for BoringSSL).
#include "wire.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ldns/ldns.h>

#include <cstdlib>
#include <memory>

namespace petrel::dns::wire {
namespace {

struct PktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktFree>;

std::string lowerAscii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return s;
}

// ldns prints names in presentation form with escapes (\. inside a label, \DDD for odd
// octets), absolute ("example.org."); we keep that escaping and drop the final dot.
std::string dnameText(const ldns_rdf* rdf) {
  if (rdf == nullptr) return {};
  char* text = ldns_rdf2str(rdf);
  if (text == nullptr) return {};
  std::string s(text);
  std::free(text);
  return normalizedName(s);
}

std::string addressText(const ldns_rdf* rdf, int family, size_t size) {
  if (rdf == nullptr || ldns_rdf_size(rdf) != size) return {};
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(family, ldns_rdf_data(rdf), buf, sizeof buf) == nullptr) return {};
  return buf;
}

uint32_t int32Field(const ldns_rdf* rdf) {
  return rdf != nullptr && ldns_rdf_size(rdf) == 4 ? ldns_rdf2native_int32(rdf) : 0;
}

Record toRecord(const ldns_rr* rr) {
  Record r;
  r.owner = dnameText(ldns_rr_owner(rr));
  r.type = uint16_t(ldns_rr_get_type(rr));
  r.klass = uint16_t(ldns_rr_get_class(rr));
  r.ttl = ldns_rr_ttl(rr);
  size_t n = ldns_rr_rd_count(rr);
  auto rdf = [&](size_t i) -> const ldns_rdf* { return i < n ? ldns_rr_rdf(rr, i) : nullptr; };
  switch (r.type) {
    case TypeA:
      r.data = addressText(rdf(0), AF_INET, 4);
      break;
    case TypeAAAA:
      r.data = addressText(rdf(0), AF_INET6, 16);
      break;
    case TypeCNAME:
    case TypePTR:
    case TypeNS:
      r.data = dnameText(rdf(0));
      break;
    case TypeMX:
      if (rdf(0) != nullptr && ldns_rdf_size(rdf(0)) == 2) {
        r.preference = ldns_rdf2native_int16(rdf(0));
        r.data = dnameText(rdf(1));
      }
      break;
    case TypeTXT:
      // Each RDATA field is one <character-string>: a length octet, then that many octets.
      for (size_t i = 0; i < n; ++i) {
        const ldns_rdf* f = rdf(i);
        size_t size = ldns_rdf_size(f);
        const uint8_t* d = ldns_rdf_data(f);
        if (size == 0) continue;
        size_t len = std::min<size_t>(d[0], size - 1);
        r.data.append(reinterpret_cast<const char*>(d + 1), len);
      }
      break;
    case TypeSOA:
      r.data = dnameText(rdf(0));
      r.soa_minimum = int32Field(rdf(6));
      break;
    default:
      break;
  }
  return r;
}

std::vector<Record> section(const ldns_rr_list* list) {
  std::vector<Record> out;
  size_t n = list != nullptr ? ldns_rr_list_rr_count(list) : 0;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(toRecord(ldns_rr_list_rr(list, i)));
  return out;
}

Result<std::vector<uint8_t>> toWire(const ldns_pkt* pkt) {
  uint8_t* wire = nullptr;
  size_t size = 0;
  ldns_status st = ldns_pkt2wire(&wire, pkt, &size);
  if (st != LDNS_STATUS_OK) {
    return Error::permanent(
        fmt::format("cannot encode DNS message: {}", ldns_get_errorstr_by_id(st)));
  }
  std::vector<uint8_t> out(wire, wire + size);
  std::free(wire);  // LDNS_MALLOC is malloc
  return out;
}

Result<ldns_rdf*> toDname(std::string_view name) {
  std::string text(name);
  if (text.empty() || text.back() != '.') text += '.';  // always absolute
  ldns_rdf* rdf = nullptr;
  ldns_status st = ldns_str2rdf_dname(&rdf, text.c_str());
  if (st != LDNS_STATUS_OK || rdf == nullptr) {
    return Error::permanent(
        fmt::format("invalid domain name '{}': {}", name, ldns_get_errorstr_by_id(st)));
  }
  return rdf;
}

}  // namespace

std::string rcodeName(uint16_t rcode) {
  switch (rcode) {
    case NoError:
      return "NOERROR";
    case FormErr:
      return "FORMERR";
    case ServFail:
      return "SERVFAIL";
    case NxDomain:
      return "NXDOMAIN";
    case NotImp:
      return "NOTIMP";
    case Refused:
      return "REFUSED";
    default:
      return fmt::format("RCODE{}", rcode);
  }
}

std::string normalizedName(std::string_view name) {
  if (name.size() > 1 && name.back() == '.' && name[name.size() - 2] != '\\') {
    name.remove_suffix(1);
  }
  if (name.empty()) return ".";
  return lowerAscii(std::string(name));
}

namespace {

void putU16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(uint8_t(v >> 8));
  out.push_back(uint8_t(v & 0xff));
}

// RFC 1035 4.1 written directly: a query is a header, one question and perhaps an OPT record,
// and building it with ldns (a packet, a name rdf, a compressing encoder) cost more than
// the rest of a connection's DNS work. Names with escapes (\. or \DDD) go through ldns's
// parser so that both paths accept the same names.
Result<std::vector<uint8_t>> encodeQuery(std::string_view name, uint16_t type, uint16_t id,
                                         uint16_t edns_udp_size) {
  if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
  std::vector<uint8_t> out;
  out.reserve(12 + name.size() + 2 + 4 + (edns_udp_size > 0 ? 11 : 0));
  putU16(out, id);
  putU16(out, 0x0100);  // QUERY, RD
  putU16(out, 1);
  putU16(out, 0);
  putU16(out, 0);
  putU16(out, edns_udp_size > 0 ? 1 : 0);
  if (name != ".") {
    size_t start = 0;
    while (start <= name.size()) {
      size_t dot = name.find('.', start);
      if (dot == std::string_view::npos) dot = name.size();
      size_t len = dot - start;
      if (len == 0 || len > 63) {
        return Error::permanent(fmt::format("invalid domain name '{}': {}", name,
                                            len == 0 ? "empty label" : "label over 63 octets"));
      }
      out.push_back(uint8_t(len));
      out.insert(out.end(), name.begin() + start, name.begin() + dot);
      start = dot + 1;
    }
  }
  out.push_back(0);
  if (out.size() - 12 > 255) {
    return Error::permanent(fmt::format("invalid domain name '{}': over 255 octets", name));
  }
  putU16(out, type);
  putU16(out, ClassIN);
  if (edns_udp_size > 0) {
    out.push_back(0);  // root owner
    putU16(out, TypeOPT);
    putU16(out, edns_udp_size);
    putU16(out, 0);  // extended RCODE, version 0
    putU16(out, 0);  // no flags
    putU16(out, 0);  // no options
  }
  return out;
}

}  // namespace

Result<std::vector<uint8_t>> buildQuery(std::string_view name, uint16_t type, uint16_t id,
                                        uint16_t edns_udp_size) {
  if (name.find('\\') == std::string_view::npos) {
    return encodeQuery(name, type, id, edns_udp_size);
  }
  auto dname = toDname(name);
  if (!dname) return dname.error();
  // ldns_pkt_query_new takes ownership of the name.
  PktPtr pkt(ldns_pkt_query_new(*dname, ldns_rr_type(type), LDNS_RR_CLASS_IN, LDNS_RD));
  if (!pkt) {
    ldns_rdf_deep_free(*dname);
    return Error::temporary("cannot allocate a DNS query");
  }
  ldns_pkt_set_id(pkt.get(), id);
  if (edns_udp_size > 0) ldns_pkt_set_edns_udp_size(pkt.get(), edns_udp_size);
  return toWire(pkt.get());
}

Result<Message> parseMessage(const uint8_t* data, size_t size) {
  ldns_pkt* raw = nullptr;
  ldns_status st = ldns_wire2pkt(&raw, data, size);
  PktPtr pkt(raw);
  if (st != LDNS_STATUS_OK || !pkt) {
    return Error::permanent(
        fmt::format("malformed DNS message ({} octets): {}", size, ldns_get_errorstr_by_id(st)));
  }
  Message m;
  m.id = ldns_pkt_id(pkt.get());
  m.qr = ldns_pkt_qr(pkt.get());
  m.aa = ldns_pkt_aa(pkt.get());
  m.tc = ldns_pkt_tc(pkt.get());
  m.rd = ldns_pkt_rd(pkt.get());
  m.ra = ldns_pkt_ra(pkt.get());
  m.opcode = uint8_t(ldns_pkt_get_opcode(pkt.get()));
  m.rcode = uint16_t(ldns_pkt_get_rcode(pkt.get()));
  const ldns_rr_list* q = ldns_pkt_question(pkt.get());
  for (size_t i = 0, n = q != nullptr ? ldns_rr_list_rr_count(q) : 0; i < n; ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(q, i);
    m.questions.push_back({dnameText(ldns_rr_owner(rr)), uint16_t(ldns_rr_get_type(rr)),
                           uint16_t(ldns_rr_get_class(rr))});
  }
  m.answer = section(ldns_pkt_answer(pkt.get()));
  m.authority = section(ldns_pkt_authority(pkt.get()));
  return m;
}

Result<std::vector<uint8_t>> makeResponseForTest(const Message& query, const ResponseSpec& spec) {
  PktPtr pkt(ldns_pkt_new());
  if (!pkt) return Error::temporary("cannot allocate a DNS message");
  ldns_pkt_set_id(pkt.get(), query.id);
  ldns_pkt_set_qr(pkt.get(), true);
  ldns_pkt_set_rd(pkt.get(), query.rd);
  ldns_pkt_set_ra(pkt.get(), true);
  ldns_pkt_set_tc(pkt.get(), spec.tc);
  ldns_pkt_set_rcode(pkt.get(), uint8_t(spec.rcode));
  if (spec.keep_question) {
    for (const Question& q : query.questions) {
      auto owner = toDname(q.name);
      if (!owner) return owner.error();
      ldns_rr* rr = ldns_rr_new();
      ldns_rr_set_owner(rr, *owner);
      ldns_rr_set_type(rr, ldns_rr_type(q.type));
      ldns_rr_set_class(rr, ldns_rr_class(q.klass));
      ldns_rr_set_question(rr, true);
      ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_QUESTION, rr);
    }
  }
  auto add = [&](ldns_pkt_section where, const std::vector<std::string>& lines) -> Status {
    for (const std::string& line : lines) {
      ldns_rr* rr = nullptr;
      ldns_status st = ldns_rr_new_frm_str(&rr, line.c_str(), 3600, nullptr, nullptr);
      if (st != LDNS_STATUS_OK) {
        return Error::permanent(
            fmt::format("bad record '{}': {}", line, ldns_get_errorstr_by_id(st)));
      }
      ldns_pkt_push_rr(pkt.get(), where, rr);
    }
    return okStatus();
  };
  if (auto s = add(LDNS_SECTION_ANSWER, spec.answer); !s) return s.error();
  if (auto s = add(LDNS_SECTION_AUTHORITY, spec.authority); !s) return s.error();
  if (auto s = add(LDNS_SECTION_ADDITIONAL, spec.additional); !s) return s.error();
  return toWire(pkt.get());
}

Result<std::string> dnssecKeyRoundTripForTest(std::string_view owner, uint8_t algorithm) {
  if (!ldns_key_algo_supported(algorithm)) {
    return Error::permanent(fmt::format("DNSSEC algorithm {} is not supported", algorithm));
  }
  uint16_t bits = algorithm == LDNS_SIGN_RSASHA256 ? 1024 : 256;
  ldns_key* key = ldns_key_new_frm_algorithm(ldns_signing_algorithm(algorithm), bits);
  if (key == nullptr) {
    return Error::temporary(fmt::format("cannot make a key of DNSSEC algorithm {}", algorithm));
  }
  // The key list owns the key from here on (ldns_key_list_free frees its keys).
  std::unique_ptr<ldns_key_list, void (*)(ldns_key_list*)> keys(ldns_key_list_new(),
                                                                ldns_key_list_free);
  if (!keys || !ldns_key_list_push_key(keys.get(), key)) {
    ldns_key_deep_free(key);
    return Error::temporary("cannot allocate a key list");
  }
  std::string zone_name = normalizedName(owner);
  auto zone = toDname(zone_name);
  if (!zone) return zone.error();
  ldns_key_set_pubkey_owner(key, *zone);
  ldns_key_set_flags(key, LDNS_KEY_ZONE_KEY);

  using RrList = std::unique_ptr<ldns_rr_list, void (*)(ldns_rr_list*)>;
  RrList dnskeys(ldns_rr_list_new(), ldns_rr_list_deep_free);
  ldns_rr* dnskey = ldns_key2rr(key);
  if (dnskey == nullptr || !dnskeys || !ldns_rr_list_push_rr(dnskeys.get(), dnskey)) {
    if (dnskey != nullptr) ldns_rr_free(dnskey);
    return Error::temporary("ldns_key2rr failed");
  }
  ldns_key_set_keytag(key, ldns_calc_keytag(dnskey));

  RrList rrset(ldns_rr_list_new(), ldns_rr_list_deep_free);
  ldns_rr* a = nullptr;
  std::string line = fmt::format("{}. 300 IN A 192.0.2.1", zone_name);
  if (!rrset || ldns_rr_new_frm_str(&a, line.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK ||
      !ldns_rr_list_push_rr(rrset.get(), a)) {
    if (a != nullptr) ldns_rr_free(a);
    return Error::temporary("cannot make the RRset to sign");
  }
  RrList sigs(ldns_sign_public(rrset.get(), keys.get()), ldns_rr_list_deep_free);
  if (!sigs || ldns_rr_list_rr_count(sigs.get()) != 1) {
    return Error::temporary("ldns_sign_public made no signature");
  }
  ldns_status st = ldns_verify(rrset.get(), sigs.get(), dnskeys.get(), nullptr);
  if (st != LDNS_STATUS_OK) {
    return Error::permanent(
        fmt::format("the signature does not verify: {}", ldns_get_errorstr_by_id(st)));
  }
  char* text = ldns_rr2str(dnskey);
  if (text == nullptr) return Error::temporary("cannot print the DNSKEY record");
  std::string out(text);
  std::free(text);
  // ldns ends the line with a comment (" ;{id = 4711 (zsk), size = 256b}") and a newline.
  if (size_t comment = out.find(" ;"); comment != std::string::npos) out.resize(comment);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace petrel::dns::wire
