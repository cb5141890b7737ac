// The OpenSPF test suites (test/testdata/spf/rfc7208-tests.yml and rfc4408-tests.yml, BSD
// licensed, see their .LICENSE files) run against spf::checkHost: one gtest per case, named
// <suite>_<section>_<case>, with a FakeResolver fed from the scenario's zonedata.
//
// How zonedata becomes DNS, as the suite's own driver (pyspf's test/testspf.py) does it:
// - A, AAAA, MX [pref, name], PTR, CNAME and TXT records go into the FakeResolver; TXT
//   strings of one record are joined; "TXT: NONE" means no TXT record.
// - SPF (type 99) records are never queried (RFC 7208 removed the type); a name with SPF
//   records and no TXT entry gets them as TXT records, as the suite's header asks.
// - TIMEOUT: a query at that name times out unless a record of the asked type was listed
//   before the TIMEOUT line.
// - Names the FakeResolver's zone syntax cannot hold (spaces, '%') are answered by the
//   SuiteResolver wrapper from the same data.
// A case passes when the result is one of those listed, and, when an explanation is given,
// it is the one found ("DEFAULT": none from exp=). Cases left out are in Skipped, with why.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <ostream>
#include <set>

#include "fakes/fake_resolver.h"
#include "petrel/dns/names.h"
#include "petrel/spf/check_host.h"

namespace petrel::spf {
namespace {

const std::string DataDir = std::string(PETREL_SOURCE_ROOT) + "/test/testdata/spf/";

// Cases not run, with the reason. RFC 4408 cases where RFC 7208 changed the answer are run
// from rfc7208-tests.yml instead.
const std::map<std::string, std::string> Skipped = {};

struct Case {
  std::string suite;    // "rfc7208"
  std::string section;  // the scenario's description
  std::string name;
  std::string helo, host, mailfrom;
  std::vector<std::string> results;
  std::optional<std::string> explanation;
  std::string zone;  // FakeResolver text
  // (name, type) answered by the wrapper instead of the fake.
  std::map<std::pair<std::string, dns::Type>, dns::Answer> overrides;
  std::string test_name;  // gtest-safe
};

// gtest prints this instead of the object's bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.suite << "/" << c.name; }

std::string quoteTxt(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string txtValue(const YAML::Node& v) {
  if (v.IsSequence()) {
    std::string joined;
    for (const auto& part : v) joined += part.as<std::string>();
    return joined;
  }
  return v.as<std::string>();
}

std::optional<dns::Type> typeOf(const std::string& t) {
  if (t == "A") return dns::Type::A;
  if (t == "AAAA") return dns::Type::AAAA;
  if (t == "MX") return dns::Type::MX;
  if (t == "TXT") return dns::Type::TXT;
  if (t == "PTR") return dns::Type::PTR;
  return std::nullopt;
}

// Fills c.zone and c.overrides from one scenario's zonedata.
void loadZone(const YAML::Node& zonedata, Case& c) {
  for (const auto& entry : zonedata) {
    std::string name = dns::normalizeName(entry.first.as<std::string>());
    bool plain = dns::checkQueryName(name).ok();
    struct Rr {
      std::string type;
      std::string data;  // zone-text data
      std::string value;
      uint16_t pref = 0;
    };
    std::vector<Rr> rrs;
    std::vector<std::string> spf;
    bool has_txt = false;
    std::set<dns::Type> before_timeout;
    bool timeout = false;
    for (const auto& rec : entry.second) {
      if (rec.IsScalar()) {
        if (rec.as<std::string>() == "TIMEOUT") timeout = true;
        continue;
      }
      for (const auto& kv : rec) {
        std::string type = kv.first.as<std::string>();
        const YAML::Node& v = kv.second;
        if (type == "SPF") {
          if (!(v.IsScalar() && v.as<std::string>() == "NONE")) spf.push_back(txtValue(v));
          continue;
        }
        if (type == "TXT") {
          has_txt = true;
          if (v.IsScalar() && v.as<std::string>() == "NONE") continue;
          std::string t = txtValue(v);
          rrs.push_back({"TXT", quoteTxt(t), t});
        } else if (type == "MX") {
          rrs.push_back({"MX", fmt::format("{} {}", v[0].as<int>(), v[1].as<std::string>()),
                         dns::normalizeName(v[1].as<std::string>()), uint16_t(v[0].as<int>())});
        } else {
          std::string value = v.as<std::string>();
          if (value == "NONE") continue;
          rrs.push_back(
              {type, value, type == "A" || type == "AAAA" ? value : dns::normalizeName(value)});
        }
        if (auto t = typeOf(type); t && !timeout) before_timeout.insert(*t);
      }
    }
    if (!has_txt) {
      for (const auto& s : spf) rrs.push_back({"TXT", quoteTxt(s), s});
      if (!spf.empty() && !timeout) before_timeout.insert(dns::Type::TXT);
    }
    std::map<dns::Type, dns::Answer> own;  // for names the fake cannot hold
    for (const auto& rr : rrs) {
      std::string line = fmt::format("{} {} {}\n", name, rr.type, rr.data);
      dns::FakeResolver probe;
      if (plain && probe.load(line).ok()) {
        c.zone += line;
        continue;
      }
      auto t = typeOf(rr.type);
      if (!t) continue;
      dns::Answer& a = own[*t];
      a.status = dns::Answer::Status::Found;
      a.canonical_name = name;
      switch (*t) {
        case dns::Type::A:
        case dns::Type::AAAA:
          a.addresses.push_back(rr.value);
          break;
        case dns::Type::MX:
          a.mx.push_back({rr.pref, rr.value});
          break;
        case dns::Type::TXT:
          a.txt.push_back(rr.value);
          break;
        case dns::Type::PTR:
          a.ptr.push_back(rr.value);
          break;
      }
    }
    for (dns::Type t :
         {dns::Type::A, dns::Type::AAAA, dns::Type::MX, dns::Type::TXT, dns::Type::PTR}) {
      if (timeout && before_timeout.count(t) == 0) {
        dns::Answer a;
        a.status = dns::Answer::Status::TempFail;
        a.error = "timeout (suite TIMEOUT)";
        c.overrides[{name, t}] = a;
      } else if (own.count(t) != 0) {
        c.overrides[{name, t}] = own[t];
      } else if (!plain) {
        {
          dns::Answer a;
          a.status = rrs.empty() ? dns::Answer::Status::NxDomain : dns::Answer::Status::NoData;
          a.canonical_name = name;
          c.overrides[{name, t}] = a;
        }
      }
    }
  }
}

std::string safeName(std::string s) {
  for (char& ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return s;
}

std::vector<Case> loadSuite(const std::string& suite) {
  std::vector<Case> out;
  std::vector<YAML::Node> docs = YAML::LoadAllFromFile(DataDir + suite + "-tests.yml");
  int section = 0;
  for (const auto& doc : docs) {
    ++section;
    Case base;
    base.suite = suite;
    base.section = doc["description"].as<std::string>();
    loadZone(doc["zonedata"], base);
    for (const auto& t : doc["tests"]) {
      Case c = base;
      c.name = t.first.as<std::string>();
      const YAML::Node& v = t.second;
      c.helo = v["helo"] ? v["helo"].as<std::string>() : "";
      c.host = v["host"].as<std::string>();
      c.mailfrom = v["mailfrom"] ? v["mailfrom"].as<std::string>() : "";
      if (v["result"].IsSequence()) {
        for (const auto& r : v["result"]) c.results.push_back(r.as<std::string>());
      } else {
        c.results.push_back(v["result"].as<std::string>());
      }
      if (v["explanation"]) c.explanation = v["explanation"].as<std::string>();
      c.test_name = safeName(fmt::format("{}_{:02d}_{}", suite, section, c.name));
      out.push_back(std::move(c));
    }
  }
  return out;
}

// The FakeResolver, with the answers it cannot give itself (per-type timeouts, names outside
// its zone syntax) replaced; still delivered by the fake's runPending().
class SuiteResolver final : public dns::Resolver {
 public:
  SuiteResolver(dns::FakeResolver& fake, const Case& c) : fake_(fake), case_(c) {}
  dns::QueryHandlePtr query(std::string name, dns::Type type, Callback done) override {
    auto it = case_.overrides.find({dns::normalizeName(name), type});
    if (it == case_.overrides.end()) return fake_.query(std::move(name), type, std::move(done));
    dns::Answer a = it->second;
    return fake_.query("override..invalid", type,
                       [a, done = std::move(done)](dns::Answer) { done(a); });
  }
  dns::ResolverStats stats() const override { return fake_.stats(); }
  std::vector<std::string> servers() const override { return fake_.servers(); }

 private:
  dns::FakeResolver& fake_;
  const Case& case_;
};

class OpenSpfSuite : public ::testing::TestWithParam<Case> {};

TEST_P(OpenSpfSuite, Case) {
  const Case& c = GetParam();
  if (auto skip = Skipped.find(c.suite + "/" + c.name); skip != Skipped.end()) {
    GTEST_SKIP() << skip->second;
  }
  dns::FakeResolver fake;
  ASSERT_TRUE(fake.load(c.zone).ok()) << c.zone;
  SuiteResolver resolver(fake, c);
  Request request = mailFromRequest(c.host, c.mailfrom, c.helo);
  std::optional<Report> report;
  auto evaluation = checkHost(resolver, request, [&report](Report r) { report = std::move(r); });
  EXPECT_FALSE(report) << "done ran inside checkHost()";
  fake.runPending();
  ASSERT_TRUE(report) << "no result after every answer was delivered";
  std::string got(outcomeName(report->result));
  std::string trace;
  for (const auto& r : report->records)
    trace += fmt::format("  {} {}: {}\n", r.via, r.domain, r.record);
  for (const auto& l : report->lookups) {
    trace += fmt::format("  {} {} -> {}\n", l.name, dns::typeName(l.type), l.answer);
  }
  EXPECT_TRUE(std::find(c.results.begin(), c.results.end(), got) != c.results.end())
      << c.section << " / " << c.name << ": got " << got << " (" << report->problem
      << "), expected " << fmt::format("{}", fmt::join(c.results, " or ")) << "\n"
      << trace;
  if (c.explanation && got == "fail") {
    std::string want = *c.explanation == "DEFAULT" ? "" : *c.explanation;
    EXPECT_EQ(report->explanation, want) << c.name << "\n" << trace;
  }
}

std::string caseName(const ::testing::TestParamInfo<Case>& info) { return info.param.test_name; }

INSTANTIATE_TEST_SUITE_P(Rfc7208, OpenSpfSuite, ::testing::ValuesIn(loadSuite("rfc7208")),
                         caseName);
INSTANTIATE_TEST_SUITE_P(Rfc4408, OpenSpfSuite, ::testing::ValuesIn(loadSuite("rfc4408")),
                         caseName);

}  // namespace
}  // namespace petrel::spf
