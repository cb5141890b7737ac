// `petrel dkim`: key generation for an admin (the key file and the TXT record to publish),
// verification of a message file with live DNS (the config's dns.servers, through the same
// Verifier and key lookups the server uses), and signing of a message file (an admin tool and
// the oracle path of test/integration/t-72-dkim-peers).
//
// Message files may use CRLF or bare LF line ends; they are verified and signed in CRLF (the
// wire form), and `sign` prints the signed message with the line ends the file had.
#include "dkim_command.h"

#include "message_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>

#include "petrel/config/config.h"
#include "petrel/content/header_section.h"
#include "petrel/core/strings.h"
#include "petrel/dkim/auth_results.h"
#include "petrel/dkim/key_lookup.h"
#include "petrel/dkim/signer.h"
#include "petrel/dkim/verifier.h"
#include "petrel/server/config_checks.h"
#include "petrel/server/probe_loop.h"
#include "petrel/tls/crypto.h"

namespace petrel::cli {

namespace {

constexpr int ExTempFail = 75;
constexpr int ExConfig = 78;

constexpr const char* DkimUsage = R"(usage:
  petrel dkim keygen --domain D --selector S [--algorithm rsa|ed25519] [--bits N] [--out FILE]
  petrel dkim verify FILE [--config C]
  petrel dkim sign FILE --domain D --selector S --key K [--algorithm rsa-sha256|ed25519-sha256]
FILE may be - for standard input.
)";

std::optional<dkim::Algorithm> algorithmOption(const std::string& text) {
  if (text == "rsa" || text == "rsa-sha256") return dkim::Algorithm::RsaSha256;
  if (text == "ed25519" || text == "ed25519-sha256") return dkim::Algorithm::Ed25519Sha256;
  return std::nullopt;
}

// The TXT record as a zone file line, the text in strings of at most 255 octets (RFC 1035
// 3.3.14; RFC 6376 3.6.2.2 concatenates them).
std::string zoneLine(const std::string& name, const std::string& text) {
  std::string out = fmt::format("{}\tIN\tTXT\t(", name);
  for (size_t i = 0; i < text.size(); i += 255) {
    out += fmt::format(" \"{}\"", text.substr(i, 255));
  }
  return out + " )\n";
}

int keygen(const std::vector<std::string>& args) {
  auto o = parseOptions(args, {"domain", "selector", "algorithm", "bits", "out"}, DkimUsage);
  if (!o) return 2;
  if (!o->positional.empty() || !o->values.count("domain") || !o->values.count("selector")) {
    fmt::print(stderr, "petrel dkim keygen: --domain and --selector are needed\n{}", DkimUsage);
    return 2;
  }
  auto alg = algorithmOption(o->values.count("algorithm") ? o->values["algorithm"] : "rsa");
  if (!alg) {
    fmt::print(stderr, "petrel dkim keygen: --algorithm is rsa or ed25519\n");
    return 2;
  }
  int bits = 2048;
  if (o->values.count("bits")) {
    auto b = parseUnsigned(o->values["bits"]);
    if (!b || *b < 1024 || *b > 8192) {
      fmt::print(stderr, "petrel dkim keygen: --bits must be 1024..8192\n");
      return 2;
    }
    bits = static_cast<int>(*b);
  }
  const std::string& domain = o->values["domain"];
  const std::string& selector = o->values["selector"];
  std::string out = o->values.count("out") ? o->values["out"]
                                           : fmt::format("{}.{}.key", selector, domain);
  auto key = *alg == dkim::Algorithm::Ed25519Sha256 ? tls::PrivateKey::generateEd25519()
                                                    : tls::PrivateKey::generateRsa(bits);
  if (!key) {
    fmt::print(stderr, "petrel dkim keygen: {}\n", key.error().message());
    return 1;
  }
  // O_EXCL: never overwrite a key that may be published already; 0600 from the start.
  int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    fmt::print(stderr, "petrel dkim keygen: {}: {}\n", out, systemErrorText(errno));
    return 1;
  }
  std::string pem = key->toPem();
  bool ok = ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    fmt::print(stderr, "petrel dkim keygen: {}: write failed\n", out);
    return 1;
  }
  fmt::print(stderr, "petrel dkim keygen: private key written to {}\n", out);
  fmt::print("{}", zoneLine(fmt::format("{}._domainkey.{}.", selector, domain),
                            dkim::keyRecordText(key->publicKey())));
  return 0;
}

int verify(const std::string& config_path, bool default_config,
           const std::vector<std::string>& args) {
  auto o = parseOptions(args, {}, DkimUsage);
  if (!o) return 2;
  if (o->positional.size() != 1) {
    fmt::print(stderr, "{}", DkimUsage);
    return 2;
  }
  config::Config cfg;
  if (!default_config || std::filesystem::exists(config_path)) {
    auto loaded = config::loadConfig(config_path, server::standardValidators());
    for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.toString());
    if (!loaded.errors.empty()) return ExConfig;
    cfg = std::move(*loaded.config);
  }
  auto text = readMessage(o->positional[0], "petrel dkim");
  if (!text) return 1;
  std::string wire = toCrlf(*text);
  Split m = splitMessage(wire);
  dkim::Verifier verifier(m.fields, {.now = static_cast<uint64_t>(std::time(nullptr))});
  verifier.feedBody(m.body);
  verifier.endBody();
  {
    server::ProbeLoop loop;
    if (auto st = loop.start(cfg); !st) {
      fmt::print(stderr, "petrel: {}\n", st.error().message());
      return ExConfig;
    }
    bool done = false;
    auto lookup = dkim::lookupKeys(loop.resolver(), verifier, [&done] { done = true; });
    if (lookup) loop.runUntil([&done] { return done; });
  }
  auto results = verifier.results();
  if (results.empty()) {
    fmt::print("dkim=none (no DKIM-Signature)\n");
    return 1;
  }
  bool all_pass = true;
  bool temp = false;
  for (const auto& r : results) {
    fmt::print("{}\n", dkim::authResultsEntry(r));
    all_pass = all_pass && r.outcome == dkim::Outcome::Pass;
    temp = temp || r.outcome == dkim::Outcome::TempError;
  }
  if (verifier.ignoredSignatures() > 0) {
    fmt::print("({} more DKIM-Signature fields not checked)\n", verifier.ignoredSignatures());
  }
  return all_pass ? 0 : temp ? ExTempFail : 1;
}

int sign(const std::vector<std::string>& args) {
  auto o = parseOptions(args, {"domain", "selector", "key", "algorithm"}, DkimUsage);
  if (!o) return 2;
  if (o->positional.size() != 1 || !o->values.count("domain") || !o->values.count("selector") ||
      !o->values.count("key")) {
    fmt::print(stderr, "petrel dkim sign: FILE, --domain, --selector and --key are needed\n{}",
               DkimUsage);
    return 2;
  }
  auto alg = algorithmOption(o->values.count("algorithm") ? o->values["algorithm"] : "rsa");
  if (!alg) {
    fmt::print(stderr, "petrel dkim sign: --algorithm is rsa-sha256 or ed25519-sha256\n");
    return 2;
  }
  auto key = tls::PrivateKey::fromPemFile(o->values["key"]);
  if (!key) {
    fmt::print(stderr, "petrel dkim sign: {}\n", key.error().message());
    return ExConfig;
  }
  auto text = readMessage(o->positional[0], "petrel dkim");
  if (!text) return 1;
  bool lf = hasBareLf(*text);
  std::string wire = toCrlf(*text);
  Split m = splitMessage(wire);
  dkim::SignSpec spec;
  spec.domain = toLower(o->values["domain"]);
  spec.selector = o->values["selector"];
  spec.key = *key;
  spec.algorithm = *alg;
  dkim::Signer signer(std::move(spec), static_cast<uint64_t>(std::time(nullptr)));
  signer.feedBody(m.body);
  auto field = signer.finish(m.fields);
  if (!field) {
    fmt::print(stderr, "petrel dkim sign: {}\n", field.error().message());
    return field.error().kind() == Error::Kind::Config ? ExConfig : 1;
  }
  std::string out = lf ? withoutCr(*field) : *field;
  fmt::print("{}{}", out, *text);
  return 0;
}

}  // namespace

int dkimCommand(const std::string& config_path, bool default_config,
                const std::vector<std::string>& args) {
  if (args.size() >= 2 && args[1] == "keygen") return keygen(args);
  if (args.size() >= 2 && args[1] == "verify") return verify(config_path, default_config, args);
  if (args.size() >= 2 && args[1] == "sign") return sign(args);
  fmt::print(stderr, "{}", DkimUsage);
  return 2;
}

}  // namespace petrel::cli
