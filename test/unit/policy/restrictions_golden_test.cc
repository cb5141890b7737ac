// Golden files for restriction lists, as Postfix tests smtpd_check with smtpd_check.in/.ref:
// test/testdata/policy/NN-name.in sets up tables, networks, domains and a list, then asks
// questions; NN-name.ref is the transcript with the decision and the rule that made it.
//
// Script lines (.in):
//   # text                      comment; blank lines are ignored
//   mynetworks: CIDR...         relay.mynetworks (Default: 127.0.0.1/32 ::1/128)
//   parent_domain_matches_subdomains: yes|no   for the access maps of the lists after it
//                               (smtp.parent_domain_matches_subdomains; Default: yes)
//   recipient_delimiter: CHARS  likewise, recipient_delimiter (Default: none)
//   mx_backup_networks: CIDR... likewise, smtp.permit_mx_backup_networks (Default: none)
//   domains: DOMAIN...          the domains is_our_destination accepts (local or relay)
//   owner: ADDRESS USER...      reject_sender_login_mismatch: USERs may send as ADDRESS
//   table NAME: KEY VALUE       one entry of the inline table NAME (access maps name it)
//   dns: NAME [TTL] TYPE DATA   one record (or NXDOMAIN, SERVFAIL, TIMEOUT) of the fake DNS
//                               the checks resolve with (fakes/fake_resolver.h's zone syntax)
//   mailboxes: ADDRESS...       the addresses of `domains` that exist (reject_unlisted_*);
//                               any other address of those domains is unlisted
//   listing_fails: DOMAIN...    looking up an address of DOMAIN fails temporarily
//   me: HOSTNAME IP...          our host name and addresses (permit_mx_backup)
//   policy ENDPOINT: REPLY      what the policy service at ENDPOINT ("inet:127.0.0.1:10023")
//                               answers from now on: an action ("DUNNO", "REJECT text"), sent
//                               as "action=REPLY\n\n"; "!fail TEXT" fails the request (the
//                               transport's error), "!raw TEXT" sends TEXT as the whole reply
//   list STAGE: CHECK, CHECK    the list to evaluate from now on (stage: client, helo, sender,
//                               recipient, data, end_of_data)
//   greylisting: KEY=VALUE...   an empty in-memory greylist for the lists after it (keys delay,
//                               max_age, auto_whitelist_after, ipv4, ipv6; seconds and prefix
//                               lengths; Default: policy::GreylistSettings)
//   clock: +SECONDS             advances the greylist's fake clock
//   class NAME: CHECK, CHECK    a restriction class (restriction_classes) the lists built
//                               after it may name in table values
//   list STAGE: CHECK, CHECK    the list to evaluate from now on (stage: client, helo, sender,
//                               recipient, data, end_of_data)
//   lists STAGE STAGE...        evaluate the lists of these stages as one stage's evaluation
//                               (evaluateLists, as RCPT with delay_reject); each from the last
//                               `list STAGE:` line of that stage
//   stages STAGE STAGE...       evaluate the lists of these stages one after another as the
//                               SMTP stages of a session with delay_reject off: each alone,
//                               the first refusal ends it; a DEFER_IF_PERMIT pending after a
//                               client, helo or sender stage is carried on and applied at
//                               recipient (not carried into data, end_of_data)
//   ? key=value ...             evaluate: client=IP helo=NAME user=SASL sender=ADDR rcpt=ADDR
//                               (sender= and rcpt= may be empty), client_name=NAME
//                               reverse_name=NAME name_status=verified|tempfail|noptr|
//                               notconfirmed, count=N (recipients so far), size=N,
//                               pipelined=1 (the client pipelined improperly)
// Transcript: each script line, then "  . dns NAME TYPE" for each DNS query the checks made,
// "  . policy ENDPOINT protocol_state=S" for each policy service request,
// "  -> permit|reject|defer|dunno [by RULE][: CODE X.Y.Z text]" after each question (with
// `stages`, first "  . STAGE -> ..." for each stage that ran, "[pending: CODE X.Y.Z text]"
// when it left a DEFER_IF_PERMIT pending), and
// "  + add header|hold|discard|warn|log warn|log info|redirect|filter|config warning: text" for
// each action; "!! what" for a script error (the
// test fails on any).
//
// Regenerating: PETREL_UPDATE_GOLDEN=1 ./petrel-unit --gtest_filter='RestrictionGolden*';
// review every changed .ref against postconf(5) before committing it.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fakes/fake_resolver.h"
#include "petrel/policy/policy_service.h"
#include "petrel/config/config.h"
#include "petrel/core/strings.h"
#include "petrel/policy/restrictions.h"

namespace petrel::policy {
namespace {

const std::filesystem::path GoldenDir =
    std::filesystem::path(PETREL_SOURCE_ROOT) / "test" / "testdata" / "policy";

std::optional<Stage> stageNamed(std::string_view name) {
  for (Stage s : {Stage::Client, Stage::Helo, Stage::Sender, Stage::Recipient, Stage::Data,
                  Stage::EndOfData}) {
    if (toString(s) == name) return s;
  }
  return std::nullopt;
}

std::string describe(const Decision& d) {
  std::string rule = d.rule.empty() ? "" : " by " + d.rule;
  switch (d.kind) {
    case Decision::Kind::Permit: return "permit" + rule;
    case Decision::Kind::Dunno: return "dunno" + rule;
    case Decision::Kind::Reject:
    case Decision::Kind::Defer: break;
  }
  return fmt::format("{}{}: {} {} {}", d.kind == Decision::Kind::Reject ? "reject" : "defer", rule,
                     d.code, d.enhanced, d.text);
}

// The policy services of a script: answers each request on the next runPending(), as a loop
// would, with the reply its endpoint was given ("!fail" and no reply: a transport error).
class ScriptedPolicyClient final : public PolicyServiceClient {
 public:
  void request(const ServiceEndpoint& endpoint, const PolicyServiceSettings&,
               std::string request, Done done) override {
    std::string state = request.substr(request.find("protocol_state=") + 15);
    log.push_back(fmt::format("{} protocol_state={}", endpoint.toString(),
                              state.substr(0, state.find('\n'))));
    auto it = replies.find(endpoint.toString());
    std::string reply = it == replies.end() ? "!fail no reply scripted" : it->second;
    pending.emplace_back([reply, done = std::move(done)] {
      if (reply.starts_with("!fail")) return done(Error::temporary(reply.substr(5)));
      if (reply.starts_with("!raw ")) return done(reply.substr(5) + "\n\n");
      done("action=" + reply + "\n\n");
    });
  }
  size_t runPending() {
    auto now = std::move(pending);
    pending.clear();
    for (auto& fn : now) fn();
    return now.size();
  }
  std::map<std::string, std::string> replies;  // by endpoint
  std::vector<std::string> log;
  std::vector<std::function<void()>> pending;
};

std::string runScript(const std::string& script) {
  std::string out;
  std::vector<std::string> networks{"127.0.0.1/32", "::1/128"};
  std::vector<std::string> domains;
  std::map<std::string, std::vector<std::string>, std::less<>> owners;
  std::vector<std::string> mailboxes, listing_fails, my_addresses;
  std::string my_hostname;
  std::map<std::string, std::map<std::string, std::string>> entries;
  std::optional<RestrictionList> list;
  std::map<std::string, RestrictionList> by_stage;  // the last list of each stage
  std::vector<std::string> lists_run;                 // "lists": the stages, empty = `list`
  bool as_session = false;  // "stages": lists_run are a session's stages, not one stage
  RestrictionClasses::Spec classes;
  dns::FakeResolver resolver;
  ScriptedPolicyClient policy;
  std::shared_ptr<Greylist> greylist;
  int64_t now = 1'800'000'000;
  bool parent_matches = true;
  std::vector<Cidr> mx_backup_networks;
  std::string delimiter;
  std::istringstream in(script);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() == '#') continue;
    out += line + "\n";
    auto problem = [&out](std::string what) { out += "!! " + what + "\n"; };
    size_t colon = line.back() == ':' ? line.size() - 1 : line.find(": ");
    std::string_view head = std::string_view(line).substr(0, colon);
    std::string_view rest =
        colon == std::string::npos || colon + 2 > line.size() ? "" : std::string_view(line).substr(colon + 2);
    if (head == "mynetworks") {
      networks.clear();
      for (auto w : split(rest, ' ')) networks.emplace_back(w);
    } else if (head == "mx_backup_networks") {
      mx_backup_networks.clear();
      for (auto w : split(rest, ' ')) {
        auto c = Cidr::parse(trim(w));
        if (!c) {
          problem("mx_backup_networks: CIDR...");
        } else {
          mx_backup_networks.push_back(*c);
        }
      }
    } else if (head == "parent_domain_matches_subdomains") {
      if (rest != "yes" && rest != "no") problem("parent_domain_matches_subdomains: yes|no");
      parent_matches = rest == "yes";
    } else if (head == "recipient_delimiter") {
      delimiter = std::string(trim(rest));
    } else if (head == "domains") {
      for (auto w : split(rest, ' ')) domains.emplace_back(toLower(w));
    } else if (head == "owner") {
      auto words = split(rest, ' ');
      if (words.empty()) problem("owner: ADDRESS USER...");
      for (size_t i = 1; i < words.size(); ++i) {
        owners[toLower(words[0])].emplace_back(words[i]);
      }
    } else if (head == "mailboxes") {
      for (auto w : split(rest, ' ')) mailboxes.emplace_back(toLower(w));
    } else if (head == "listing_fails") {
      for (auto w : split(rest, ' ')) listing_fails.emplace_back(toLower(w));
    } else if (head == "me") {
      auto words = split(rest, ' ');
      if (words.empty()) problem("me: HOSTNAME IP...");
      for (size_t i = 0; i < words.size(); ++i) {
        (i == 0 ? my_hostname : my_addresses.emplace_back()) = std::string(words[i]);
      }
    } else if (head.starts_with("policy ")) {
      policy.replies[std::string(head.substr(7))] = std::string(rest);
    } else if (head == "dns") {
      if (Status st = resolver.load(rest); !st) problem(st.error().message());
    } else if (head == "greylisting") {
      greylist = std::make_shared<Greylist>();
      greylist->clock = [&now] { return now; };
      if (auto store = openGreylistStore(":memory:")) greylist->store = *store;
      GreylistSettings& g = greylist->settings;
      for (auto kv : split(rest, ' ')) {
        size_t eq = kv.find('=');
        std::string key(kv.substr(0, eq));
        int64_t value =
            eq == std::string_view::npos ? 0 : std::stoll(std::string(kv.substr(eq + 1)));
        if (key == "delay") g.delay = value;
        else if (key == "max_age") g.max_age = value;
        else if (key == "auto_whitelist_after") g.auto_whitelist_after = uint32_t(value);
        else if (key == "ipv4") g.ipv4_prefix = int(value);
        else if (key == "ipv6") g.ipv6_prefix = int(value);
        else problem("unknown greylisting key " + key);
      }
    } else if (head == "clock") {
      now += std::stoll(std::string(trim(rest)));
    } else if (head.starts_with("table ")) {
      size_t sp = rest.find(' ');
      if (sp == std::string_view::npos) {
        problem("table NAME: KEY VALUE");
        continue;
      }
      entries[std::string(head.substr(6))][std::string(rest.substr(0, sp))] =
          std::string(trim(rest.substr(sp + 1)));
    } else if (head.starts_with("class ")) {
      std::vector<std::string> checks;
      for (auto c : split(rest, ',')) {
        if (!trim(c).empty()) checks.emplace_back(trim(c));
      }
      classes[std::string(head.substr(6))] = std::move(checks);
    } else if (head.starts_with("lists ") || head.starts_with("stages ")) {
      lists_run.clear();
      as_session = head.starts_with("stages ");
      for (auto w : split(head.substr(head.find(' ') + 1), ' ')) {
        if (w.empty()) continue;
        if (!by_stage.contains(std::string(w))) problem("no list for stage " + std::string(w));
        lists_run.emplace_back(w);
      }
    } else if (head.starts_with("list ")) {
      lists_run.clear();
      auto stage = stageNamed(head.substr(5));
      if (!stage) {
        problem("unknown stage");
        continue;
      }
      std::vector<Cidr> blocks;
      for (const auto& n : networks) {
        if (auto c = Cidr::parse(n)) blocks.push_back(*c);
      }
      std::map<std::string, lookup::TablePtr> tables;
      for (const auto& [name, map] : entries) {
        config::TableSpec spec;
        spec.name = name;
        spec.type = "inline";
        spec.entries = map;
        tables[name] = lookup::makeTable(spec, nullptr);
      }
      std::vector<std::string> checks;
      for (auto c : split(rest, ',')) {
        if (!trim(c).empty()) checks.emplace_back(trim(c));
      }
      CheckEnvironment env(CidrList(std::move(blocks)), [tables](const std::string& ref) {
        auto it = tables.find(ref);
        return it == tables.end() ? nullptr : it->second;
      });
      env.greylist = greylist;
      env.parent_domain_matches_subdomains = parent_matches;
      env.recipient_delimiter = delimiter;
      env.mx_backup_networks = CidrList(mx_backup_networks);
      if (!classes.empty()) {
        auto built = RestrictionClasses::build(classes, env);
        if (!built) {
          out += "  -> config error: " + built.error().message() + "\n";
          list.reset();
          continue;
        }
        env.classes = *built;
      }
      auto parsed = RestrictionList::parse(*stage, checks, env);
      if (!parsed) {
        out += "  -> config error: " + parsed.error().message() + "\n";
        list.reset();
      } else {
        list = std::move(parsed.value());
        by_stage.insert_or_assign(std::string(toString(*stage)), *list);
      }
    } else if (head.starts_with("? ") || line == "?") {
      if (!list) {
        problem("? before a list");
        continue;
      }
      PolicyContext ctx;
      for (auto kv : split(std::string_view(line).substr(1), ' ')) {
        if (kv.empty()) continue;
        size_t eq = kv.find('=');
        std::string key(kv.substr(0, eq));
        std::string value(eq == std::string_view::npos ? "" : kv.substr(eq + 1));
        if (key == "client") ctx.client_ip = value;
        else if (key == "helo") ctx.helo = value;
        else if (key == "user") ctx.sasl_user = value;
        else if (key == "sender") ctx.sender = value;
        else if (key == "rcpt") ctx.recipient = value;
        else if (key == "client_name") ctx.client.client_name = value;
        else if (key == "reverse_name") ctx.client.reverse_client_name = value;
        else if (key == "name_status") {
          using NS = ClientFacts::NameStatus;
          const std::map<std::string, NS> names{{"verified", NS::Verified},
                                                {"tempfail", NS::TempFail},
                                                {"noptr", NS::NoPtr},
                                                {"notconfirmed", NS::NotConfirmed}};
          if (auto it = names.find(value); it != names.end()) {
            ctx.client.client_name_status = it->second;
          } else {
            problem("unknown name_status " + value);
          }
        } else if (key == "count") ctx.recipient_count = std::stoul(value);
        else if (key == "size") ctx.message_size = std::stoull(value);
        else if (key == "pipelined") ctx.client.improper_pipelining = value == "1";
        else problem("unknown key " + key);
      }
      ctx.is_our_destination = [&domains](std::string_view d) {
        return std::find(domains.begin(), domains.end(), d) != domains.end();
      };
      ctx.sender_owners = [&owners](std::string_view s) {
        auto it = owners.find(toLower(s));
        return it == owners.end() ? std::vector<std::string>{} : it->second;
      };
      ctx.address_listing = [&](std::string_view a) {
        std::string address = toLower(a);
        std::string domain = address.substr(address.rfind('@') + 1);
        auto has = [](const std::vector<std::string>& v, const std::string& x) {
          return std::find(v.begin(), v.end(), x) != v.end();
        };
        if (has(listing_fails, domain)) return AddressListing::TempFail;
        if (!has(domains, domain)) return AddressListing::NotOurs;
        return has(mailboxes, address) ? AddressListing::Listed : AddressListing::Unlisted;
      };
      if (!my_hostname.empty()) {
        ctx.is_our_hostname = [&my_hostname](std::string_view h) { return iequals(h, my_hostname); };
        ctx.is_our_address = [&my_addresses](std::string_view ip) {
          return std::find(my_addresses.begin(), my_addresses.end(), ip) != my_addresses.end();
        };
      }
      ctx.resolver = &resolver;
      ctx.policy_client = &policy;
      std::optional<Decision> decision;
      size_t asked = resolver.queries().size();
      size_t policy_asked = policy.log.size();
      std::string stage_lines;  // `stages`: each stage's outcome
      if (lists_run.empty()) {
        list->evaluate(ctx, [&decision](Decision d) { decision = std::move(d); });
      } else if (!as_session) {
        std::vector<const RestrictionList*> run;
        for (const std::string& st : lists_run) run.push_back(&by_stage.at(st));
        evaluateLists(run, ctx, nullptr, [&decision](Decision d) { decision = std::move(d); });
      } else {
        std::optional<Decision> carried;
        for (const std::string& st : lists_run) {
          const bool carries = st == "client" || st == "helo" || st == "sender";
          if (!carries && st != "recipient") carried.reset();  // Postfix starts DATA afresh
          std::optional<Decision> stage_decision;
          evaluateLists({&by_stage.at(st)}, ctx, std::move(carried), !carries, nullptr,
                        [&](Decision d, std::optional<Decision> pending) {
                          stage_decision = std::move(d);
                          carried = std::move(pending);
                        });
          while (!stage_decision && resolver.runPending() + policy.runPending() > 0) {
          }
          if (!stage_decision) break;
          stage_lines += "  . " + st + " -> " + describe(*stage_decision);
          if (carried) {
            stage_lines += fmt::format(" [pending: {} {} {}]", carried->code, carried->enhanced,
                                       carried->text);
          }
          stage_lines += "\n";
          decision = std::move(stage_decision);
          if (decision->kind == Decision::Kind::Reject || decision->kind == Decision::Kind::Defer) {
            break;
          }
        }
      }
      while (!decision && resolver.runPending() + policy.runPending() > 0) {
      }
      for (size_t i = asked; i < resolver.queries().size(); ++i) {
        out += "  . dns " + resolver.queries()[i] + "\n";
      }
      for (size_t i = policy_asked; i < policy.log.size(); ++i) {
        out += "  . policy " + policy.log[i] + "\n";
      }
      if (!decision) {
        problem("the list did not answer");
        continue;
      }
      out += stage_lines;
      out += "  -> " + describe(*decision) + "\n";
      for (const PolicyAction& a : decision->actions) {
        using K = PolicyAction::Kind;
        const std::map<K, const char*> names{
            {K::AddHeader, "add header"}, {K::Hold, "hold"},         {K::Discard, "discard"},
            {K::Warn, "warn"},            {K::LogWarn, "log warn"},  {K::LogInfo, "log info"},
            {K::Redirect, "redirect"},    {K::Filter, "filter"},     {K::ConfigWarning, "config warning"},
            {K::LogWarning, "log warning"}, {K::AuthResult, "auth result"}};
        const char* kind = names.at(a.kind);
        out += fmt::format("  + {}: {}\n", kind, a.text);
      }
    } else {
      problem("not a script line");
    }
  }
  return out;
}

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> goldenNames() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(GoldenDir)) {
    if (e.path().extension() == ".in") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class RestrictionGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(RestrictionGolden, MatchesReference) {
  const std::string got = runScript(readFile(GoldenDir / (GetParam() + ".in")));
  const auto ref_path = GoldenDir / (GetParam() + ".ref");
  if (const char* u = std::getenv("PETREL_UPDATE_GOLDEN"); u != nullptr && std::string(u) == "1") {
    std::ofstream(ref_path, std::ios::binary) << got;
  }
  EXPECT_EQ(got.find("\n!! "), std::string::npos) << got;
  EXPECT_EQ(got, readFile(ref_path)) << "golden " << ref_path;
}

INSTANTIATE_TEST_SUITE_P(Scripts, RestrictionGolden, ::testing::ValuesIn(goldenNames()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace petrel::policy
