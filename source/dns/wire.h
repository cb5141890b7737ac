// DNS wire format: the only code that includes <ldns/ldns.h> (wire.cc).
//
// buildQuery turns (name, type, id) into the octets of a recursive query; parseMessage turns
// received octets into a Message of plain C++ values. No ldns (or OpenSSL) type crosses this
// header, on purpose: in the BoringSSL variant wire.cc, libldns and OpenSSL 3 will be sealed
// in one relocatable object that exports only the symbols of this namespace (docs/dns.md,
// "Building with BoringSSL"). What a message means for a query is interpret.h's business.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::dns::wire {

// Type and class codes used here (RFC 1035 3.2.2, RFC 3596).
inline constexpr uint16_t TypeA = 1;
inline constexpr uint16_t TypeNS = 2;
inline constexpr uint16_t TypeCNAME = 5;
inline constexpr uint16_t TypeSOA = 6;
inline constexpr uint16_t TypePTR = 12;
inline constexpr uint16_t TypeMX = 15;
inline constexpr uint16_t TypeTXT = 16;
inline constexpr uint16_t TypeAAAA = 28;
inline constexpr uint16_t TypeOPT = 41;
inline constexpr uint16_t ClassIN = 1;

// RFC 1035 4.1.1 (and RFC 6895 for the rest of the numbers).
enum Rcode : uint16_t {
  NoError = 0,
  FormErr = 1,
  ServFail = 2,
  NxDomain = 3,
  NotImp = 4,
  Refused = 5,
};
std::string rcodeName(uint16_t rcode);  // "NOERROR", "SERVFAIL", ..., "RCODE12"

struct Question {
  std::string name;  // normalized: lower case, no trailing dot, root "."
  uint16_t type = 0;
  uint16_t klass = 0;
};

// One resource record. Names are normalized like Question::name; `data` holds the decoded
// RDATA of the types the resolver uses, and is empty for any other type.
struct Record {
  std::string owner;
  uint16_t type = 0;
  uint16_t klass = 0;
  uint32_t ttl = 0;
  // A, AAAA: the address as text; CNAME, PTR, NS: the target name; MX: the exchange; TXT: the
  // character-strings concatenated (RFC 7208 3.3); SOA: the primary server name.
  std::string data;
  uint16_t preference = 0;   // MX
  uint32_t soa_minimum = 0;  // SOA MINIMUM, the negative-caching TTL of RFC 2308 4
};

struct Message {
  uint16_t id = 0;
  bool qr = false;  // a response
  bool aa = false;
  bool tc = false;
  bool rd = false;
  bool ra = false;
  uint8_t opcode = 0;
  uint16_t rcode = NoError;
  std::vector<Question> questions;
  std::vector<Record> answer;
  std::vector<Record> authority;
  // The additional section is never used (nothing there is trusted or cached), so not kept.
};

// A recursive (RD) query for one question of class IN. edns_udp_size > 0 adds an OPT record
// advertising it (RFC 6891). `name` is presentation form (escapes allowed); an error (permanent)
// if ldns cannot make it a domain name.
Result<std::vector<uint8_t>> buildQuery(std::string_view name, uint16_t type, uint16_t id,
                                        uint16_t edns_udp_size);

// Parses a message; a permanent error for octets that are not one.
Result<Message> parseMessage(const uint8_t* data, size_t size);

// The normalized presentation form of a name ("Mail.Example.ORG." -> "mail.example.org").
std::string normalizedName(std::string_view name);

// Test hook: a response to `query` (its id and question are copied) with the given rcode,
// TC bit, and records in zone-file syntax ("example.org. 300 IN MX 10 mx.example.org.").
// `keep_question = false` leaves the question section empty, as some servers do for TC=1.
struct ResponseSpec {
  uint16_t rcode = NoError;
  bool tc = false;
  bool keep_question = true;
  std::vector<std::string> answer = {};
  std::vector<std::string> authority = {};
  std::vector<std::string> additional = {};
};
Result<std::vector<uint8_t>> makeResponseForTest(const Message& query, const ResponseSpec& spec);

// Test hook for the BoringSSL build, where wire.cc, libldns and OpenSSL 3's libcrypto are one
// sealed object (docs/dns.md, "Building with BoringSSL"): runs ldns's DNSSEC key code, which
// works on OpenSSL 3 key objects. Makes a key of DNSSEC algorithm `algorithm` (8 RSASHA256,
// 13 ECDSAP256SHA256, 15 ED25519) for the zone `owner`, turns it into its DNSKEY record
// (ldns_key2rr), signs a one-record RRset with it and verifies that signature against the
// DNSKEY. Returns the DNSKEY record in presentation form.
Result<std::string> dnssecKeyRoundTripForTest(std::string_view owner, uint8_t algorithm);

}  // namespace petrel::dns::wire
