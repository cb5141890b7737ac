// The public ARC test suite (test/testdata/arc/, ValiMail arc_test_suite, MIT licence in
// LICENSE.txt) run against arc::Validator and arc::Sealer: one gtest per case, named
// <Validation|Sign>/<case>; a case name the YAML repeats (as_fields_b_head_case and three more
// appear twice in "Arc Seal Fields") runs under <case>_2 for its second entry.
//
// How the YAML becomes input:
// - "message" is LF-separated text; it is turned into CRLF (the wire form) and split into the
//   header fields and the body as the content pass does (content::HeaderSection).
// - "txt-records" are the key records; their line breaks are YAML folding of long base64, not
//   part of the TXT text, so they are removed. A key name not listed is NXDOMAIN.
// Validation: the expected cv is None, Pass, Fail, or empty. Empty marks a chain whose newest
// or an older ARC-Seal already says cv=fail (the suite's dkimpy runner prints nothing for a
// chain that "has ended"); RFC 8617 5.2 gives cv=fail there, and so do we (`ended` too when
// it is the newest seal).
// Sign: the chain is validated first with the same key records, its result is the new cv=, the
// AAR text is the consolidation of the srv-id's Authentication-Results (as the suite's README
// asks), the key and t= are the scenario's. The expected AS, AMS and AAR are compared as the
// suite's harness does, with all whitespace removed; that makes b= byte-exact. The unfolded
// form (fold = false) is the one the suite assumes; the folded one must give the same AMS and
// AAR, and its ARC-Seal must validate (the new chain passes, or has ended for cv=fail). An
// empty expected set means no set may be added: finish() must refuse.
// No case is left out.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <ostream>
#include <set>

#include "petrel/arc/sealer.h"
#include "petrel/arc/validator.h"
#include "petrel/content/header_section.h"

namespace petrel::arc {
namespace {

const std::string DataDir = std::string(PETREL_SOURCE_ROOT) + "/test/testdata/arc/";
constexpr uint64_t Now = 1700000000;

struct Case {
  std::string kind;  // "Validation" or "Sign"
  std::string name;  // gtest-safe, unique
  std::string message;
  std::map<std::string, std::string> txt;
  std::string cv;  // validation: expected
  // sign:
  uint64_t t = 0;
  std::string headers, srv_id, as, ams, aar, domain, selector, key;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.kind << "/" << c.name; }

std::string crlf(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::string noSpace(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out += c;
  }
  return out;
}

std::map<std::string, std::string> txtRecords(const YAML::Node& n) {
  std::map<std::string, std::string> out;
  if (!n || !n.IsMap()) return out;
  for (const auto& kv : n) {
    std::string v;
    for (char c : kv.second.as<std::string>()) {
      if (c != '\n') v += c;
    }
    out[kv.first.as<std::string>()] = v;
  }
  return out;
}

std::vector<Case> load(const std::string& kind, const std::string& file) {
  std::vector<Case> cases;
  std::set<std::string> names;
  for (const auto& doc : YAML::LoadAllFromFile(DataDir + file)) {
    auto txt = txtRecords(doc["txt-records"] ? doc["txt-records"] : doc["txt_records"]);
    for (const auto& kv : doc["tests"]) {
      Case c;
      c.kind = kind;
      c.name = kv.first.as<std::string>();
      for (int n = 2; names.count(c.name); ++n) c.name = fmt::format("{}_{}", kv.first.as<std::string>(), n);
      names.insert(c.name);
      const YAML::Node& t = kv.second;
      c.message = t["message"].as<std::string>("");
      c.txt = txt;
      if (kind == "Validation") {
        c.cv = t["cv"].IsNull() ? "" : t["cv"].as<std::string>("");
      } else {
        c.t = t["t"].as<uint64_t>();
        c.headers = t["sig-headers"].as<std::string>();
        c.srv_id = t["srv-id"].as<std::string>();
        c.as = t["AS"].as<std::string>("");
        c.ams = t["AMS"].as<std::string>("");
        c.aar = t["AAR"].as<std::string>("");
        c.domain = doc["domain"].as<std::string>();
        c.selector = doc["sel"].as<std::string>();
        c.key = doc["privatekey"].as<std::string>();
      }
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

struct Message {
  std::string wire;
  std::vector<content::HeaderField> fields;
  std::string body;
};

Message split(const std::string& text) {
  Message m;
  m.wire = crlf(text);
  content::HeaderSection h(1u << 20);
  size_t n = h.feed(m.wire);
  if (!h.complete()) h.end();
  m.fields = h.fields();
  m.body = m.wire.substr(n);
  return m;
}

ChainResult validate(const Message& m, const std::map<std::string, std::string>& txt) {
  Validator v(m.fields, {.now = Now});
  v.feedBody(m.body);
  v.endBody();
  for (const auto& name : v.keyNames()) {
    dkim::KeyAnswer a;
    auto it = txt.find(name);
    if (it == txt.end()) {
      a.status = dkim::KeyAnswer::Status::NotFound;
    } else {
      a.status = dkim::KeyAnswer::Status::Found;
      a.txt = {it->second};
    }
    v.provideKey(name, a);
  }
  return v.result();
}

std::string expectedStatus(const std::string& cv) {
  if (cv.empty()) return "fail";  // the chain had ended: see the header comment
  std::string lower;
  for (char c : cv) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

class ArcSuite : public ::testing::TestWithParam<Case> {};

TEST_P(ArcSuite, Case) {
  const Case& c = GetParam();
  Message m = split(c.message);
  ChainResult chain = validate(m, c.txt);
  if (c.kind == "Validation") {
    EXPECT_EQ(chainStatusName(chain.status), expectedStatus(c.cv)) << chain.reason;
    return;
  }
  auto key = tls::PrivateKey::fromPem(c.key);
  ASSERT_TRUE(key) << key.error().message();
  auto ar = consolidatedAuthResults(m.fields, c.srv_id);
  ASSERT_TRUE(ar.has_value());
  for (bool fold : {false, true}) {
    SCOPED_TRACE(fold ? "folded" : "unfolded");
    SealSpec spec;
    spec.domain = c.domain;
    spec.selector = c.selector;
    spec.key = *key;
    size_t pos = 0;
    while (pos <= c.headers.size()) {
      size_t end = c.headers.find(':', pos);
      if (end == std::string::npos) end = c.headers.size();
      spec.headers.push_back(c.headers.substr(pos, end - pos));
      pos = end + 1;
    }
    spec.fold = fold;
    Sealer sealer(spec, c.t);
    sealer.feedBody(m.body);
    auto set = sealer.finish(m.fields, *ar, chain);
    if (noSpace(c.as).empty()) {
      EXPECT_FALSE(set) << "a set was added: " << set->text();
      continue;
    }
    ASSERT_TRUE(set) << set.error().message();
    auto value = [](const std::string& field) { return noSpace(field.substr(field.find(':') + 1)); };
    EXPECT_EQ(value(set->auth_results), noSpace(c.aar));
    EXPECT_EQ(value(set->message_signature), noSpace(c.ams));
    if (!fold) {
      EXPECT_EQ(value(set->seal), noSpace(c.as));
      continue;
    }
    // The folded set on top of the message: the new chain as a receiver sees it.
    std::string lf;
    for (char ch : set->text()) {
      if (ch != '\r') lf += ch;
    }
    ChainResult again = validate(split(lf + c.message), c.txt);
    if (set->cv == ChainStatus::Fail) {
      EXPECT_TRUE(again.ended) << again.reason;
    } else {
      EXPECT_EQ(again.status, ChainStatus::Pass) << again.reason;
      EXPECT_EQ(again.instances, set->instance);
    }
  }
}

std::string caseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Validation, ArcSuite,
                         ::testing::ValuesIn(load("Validation", "arc-draft-validation-tests.yml")),
                         caseName);
INSTANTIATE_TEST_SUITE_P(Sign, ArcSuite,
                         ::testing::ValuesIn(load("Sign", "arc-draft-sign-tests.yml")), caseName);

}  // namespace
}  // namespace petrel::arc
