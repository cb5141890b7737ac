// `petrel arc`: ARC chain validation of a message file with live DNS (the config's
// dns.servers, through the same Validator and key lookups the server uses), and sealing of a
// message file as a forwarding host would (an admin tool and the path of
// test/integration/t-76-arc). Message files may use CRLF or bare LF; they are handled in CRLF
// and `seal` prints the message with the line ends the file had.
#include "arc_command.h"

#include <fmt/format.h>

#include <ctime>
#include <filesystem>

#include "message_file.h"
#include "petrel/arc/key_lookup.h"
#include "petrel/arc/sealer.h"
#include "petrel/arc/validator.h"
#include "petrel/config/config.h"
#include "petrel/core/strings.h"
#include "petrel/dkim/auth_results.h"
#include "petrel/server/config_checks.h"
#include "petrel/server/probe_loop.h"
#include "petrel/tls/crypto.h"

namespace petrel::cli {

namespace {

constexpr int ExTempFail = 75;
constexpr int ExConfig = 78;

constexpr const char* ArcUsage = R"(usage:
  petrel arc verify FILE [--config C]
  petrel arc seal FILE --domain D --selector S --key K --authserv-id H
        [--algorithm rsa-sha256|ed25519-sha256] [--headers from:to:subject] [--config C]
FILE may be - for standard input.
)";

// The chain of `m` validated with live DNS; nullopt after a message when the config or the
// loop cannot be had.
std::optional<arc::ChainResult> validate(const std::string& config_path, bool default_config,
                                         const Split& m) {
  config::Config cfg;
  if (!default_config || std::filesystem::exists(config_path)) {
    auto loaded = config::loadConfig(config_path, server::standardValidators());
    for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.toString());
    if (!loaded.errors.empty()) return std::nullopt;
    cfg = std::move(*loaded.config);
  }
  arc::Validator validator(m.fields, {.now = static_cast<uint64_t>(std::time(nullptr))});
  validator.feedBody(m.body);
  validator.endBody();
  if (!validator.keyNames().empty()) {
    server::ProbeLoop loop;
    if (auto st = loop.start(cfg); !st) {
      fmt::print(stderr, "petrel: {}\n", st.error().message());
      return std::nullopt;
    }
    bool done = false;
    auto lookup = arc::lookupKeys(loop.resolver(), validator, [&done] { done = true; });
    if (lookup) loop.runUntil([&done] { return done; });
  }
  return validator.result();
}

std::string signatureLine(const dkim::SignatureResult& r) {
  std::string out = fmt::format("{}", dkim::outcomeName(r.outcome));
  if (!r.reason.empty()) out += " reason=" + dkim::authResultsValue(r.reason);
  if (!r.domain.empty()) out += " d=" + dkim::authResultsValue(r.domain);
  if (!r.selector.empty()) out += " s=" + dkim::authResultsValue(r.selector);
  if (!r.algorithm.empty()) out += " a=" + r.algorithm;
  return out;
}

int verify(const std::string& config_path, bool default_config,
           const std::vector<std::string>& args) {
  auto o = parseOptions(args, {}, ArcUsage);
  if (!o) return 2;
  if (o->positional.size() != 1) {
    fmt::print(stderr, "{}", ArcUsage);
    return 2;
  }
  auto text = readMessage(o->positional[0], "petrel arc");
  if (!text) return 1;
  std::string wire = toCrlf(*text);
  Split m = splitMessage(wire);
  auto r = validate(config_path, default_config, m);
  if (!r) return ExConfig;
  std::string head = fmt::format("cv={}", arc::chainStatusName(r->status));
  if (r->instances > 0) head += fmt::format(" i={}", r->instances);
  if (r->status == arc::ChainStatus::Pass) head += fmt::format(" oldest-pass={}", r->oldest_pass);
  if (!r->reason.empty()) head += " reason=" + dkim::authResultsValue(r->reason);
  fmt::print("{}\n", head);
  for (const auto& s : r->sets) {
    fmt::print("i={} cv={} authserv-id={}\n  ams: {}\n  as:  {}\n", s.instance,
               arc::chainStatusName(s.cv), dkim::authResultsValue(s.authserv_id),
               signatureLine(s.message_signature), signatureLine(s.seal));
  }
  fmt::print("Authentication-Results: {}\n", arc::authResultsArc(*r));
  if (r->status == arc::ChainStatus::Pass) return 0;
  return r->temporary ? ExTempFail : 1;
}

int seal(const std::string& config_path, bool default_config,
         const std::vector<std::string>& args) {
  auto o = parseOptions(
      args, {"domain", "selector", "key", "authserv-id", "algorithm", "headers"}, ArcUsage);
  if (!o) return 2;
  if (o->positional.size() != 1 || !o->values.count("domain") || !o->values.count("selector") ||
      !o->values.count("key") || !o->values.count("authserv-id")) {
    fmt::print(stderr,
               "petrel arc seal: FILE, --domain, --selector, --key and --authserv-id are needed\n{}",
               ArcUsage);
    return 2;
  }
  arc::SealSpec spec;
  std::string alg = o->values.count("algorithm") ? o->values["algorithm"] : "rsa-sha256";
  if (alg == "rsa" || alg == "rsa-sha256") {
    spec.algorithm = dkim::Algorithm::RsaSha256;
  } else if (alg == "ed25519" || alg == "ed25519-sha256") {
    spec.algorithm = dkim::Algorithm::Ed25519Sha256;
  } else {
    fmt::print(stderr, "petrel arc seal: --algorithm is rsa-sha256 or ed25519-sha256\n");
    return 2;
  }
  auto key = tls::PrivateKey::fromPemFile(o->values["key"]);
  if (!key) {
    fmt::print(stderr, "petrel arc seal: {}\n", key.error().message());
    return ExConfig;
  }
  spec.key = *key;
  spec.domain = o->values["domain"];
  spec.selector = o->values["selector"];
  if (o->values.count("headers")) {
    for (auto h : split(o->values["headers"], ':')) {
      if (!h.empty()) spec.headers.emplace_back(h);
    }
  }
  auto text = readMessage(o->positional[0], "petrel arc");
  if (!text) return 1;
  bool lf = hasBareLf(*text);
  std::string wire = toCrlf(*text);
  Split m = splitMessage(wire);
  auto chain = validate(config_path, default_config, m);
  if (!chain) return ExConfig;
  // Our Authentication-Results: what the message carries for our authserv-id, any arc= in it
  // replaced by the result of the validation just done.
  const std::string& id = o->values["authserv-id"];
  auto found = arc::consolidatedAuthResults(m.fields, id, "arc");
  std::string ar = (found ? *found : id) + ";\r\n  " + arc::authResultsArc(*chain);
  arc::Sealer sealer(std::move(spec), static_cast<uint64_t>(std::time(nullptr)));
  sealer.feedBody(m.body);
  auto set = sealer.finish(m.fields, ar, *chain);
  if (!set) {
    fmt::print(stderr, "petrel arc seal: {}\n", set.error().message());
    return set.error().kind() == Error::Kind::Config ? ExConfig : 1;
  }
  fmt::print(stderr, "petrel arc seal: i={} cv={}\n", set->instance, arc::chainStatusName(set->cv));
  fmt::print("{}{}", lf ? withoutCr(set->text()) : set->text(), *text);
  return 0;
}

}  // namespace

int arcCommand(const std::string& config_path, bool default_config,
               const std::vector<std::string>& args) {
  if (args.size() >= 2 && args[1] == "verify") return verify(config_path, default_config, args);
  if (args.size() >= 2 && args[1] == "seal") return seal(config_path, default_config, args);
  fmt::print(stderr, "{}", ArcUsage);
  return 2;
}

}  // namespace petrel::cli
