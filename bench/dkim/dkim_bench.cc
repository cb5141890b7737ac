// DKIM verification micro-benchmark (issue 12): verifications per second of one message with
// one signature, on one thread, for 1 KB and 100 KB messages signed rsa-sha256 (2048 bits)
// and ed25519-sha256, relaxed/relaxed. No DNS and no SMTP: each message is signed once with
// dkim::Signer, split into header fields as the content pass hands them over, and then
// verified N times with dkim::Verifier exactly as the Authentication-Results stage drives it
// (construct from the fields, body in 16 KiB chunks, endBody, keyNames, provideKey with the
// key record's TXT answer, results). The key record is parsed on every verification, as the
// server does for every message (tls::PublicKey::fromDer keeps the last keys it decoded, so
// the DER decoding itself happens once). Header splitting and the DNS lookup are not counted.
//
// Output: one line per case, "CASE  N  RATE  [RUNS]": verifications per second, the median of
// --runs timed runs of N verifications each (N from --iterations, or calibrated to about
// --min-time seconds per run). Every verification must pass; a failure ends the program with
// status 1.
//
// Under callgrind, instructions per verification: run one case with a fixed N and collect only
// inside verifyLoop (bench/run-dkim-bench.sh does this):
//   valgrind --tool=callgrind --collect-atstart=no
//     --toggle-collect=petrel_dkim_bench_verify_loop
//     petrel-dkim-bench --case rsa-1k --iterations 50 --runs 1     (one command line)
// and divide the summary's Ir by N (a warm-up verification before the loop keeps the library's
// one-time set-up out of the count).
//
// Keys: the RSA key is test/testdata/dkim/2048_testkey.key (generating one under valgrind
// takes minutes); when that file cannot be read, a new 2048-bit key. Ed25519: a new key.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/content/header_section.h"
#include "petrel/dkim/signer.h"
#include "petrel/dkim/verifier.h"
#include "petrel/tls/crypto.h"

namespace {

using namespace petrel;

constexpr uint64_t Now = 1780000000;  // t= of the signatures and the verifier's clock
constexpr size_t BodyChunk = 16384;

struct Case {
  std::string name;  // "rsa-1k"
  std::vector<content::HeaderField> fields;
  std::string body;
  dkim::KeyAnswer key;
  size_t wire_size = 0;
};

// A plain-text message of about `size` octets in wire form (CRLF), header included.
std::string message(size_t size) {
  std::string wire =
      "From: Alice Example <alice@example.com>\r\n"
      "To: Bob Example <bob@example.net>\r\n"
      "Subject: DKIM benchmark message\r\n"
      "Date: Mon, 1 Jun 2026 12:00:00 +0000\r\n"
      "Message-ID: <bench.0001@example.com>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=us-ascii\r\n"
      "\r\n";
  for (int line = 0; wire.size() + 78 <= size; ++line) {
    wire += fmt::format("{:05d} The quick brown fox jumps over the lazy dog, then rests a while.\r\n",
                        line);
  }
  return wire;
}

struct Split {
  std::vector<content::HeaderField> fields;
  std::string body;
};

Split split(const std::string& wire) {
  content::HeaderSection h(1 << 20);
  size_t n = h.feed(wire);
  if (!h.complete()) h.end();
  return Split{h.fields(), wire.substr(n)};
}

void feed(auto& target, std::string_view body) {
  for (size_t i = 0; i < body.size(); i += BodyChunk) target.feedBody(body.substr(i, BodyChunk));
}

[[noreturn]] void die(std::string_view what) {
  fmt::print(stderr, "petrel-dkim-bench: {}\n", what);
  std::exit(1);
}

Case makeCase(std::string name, const tls::PrivateKey& key, dkim::Algorithm algorithm,
              size_t size) {
  dkim::SignSpec spec;
  spec.domain = "example.com";
  spec.selector = "bench";
  spec.key = key;
  spec.algorithm = algorithm;
  spec.header_canon = dkim::Canon::Relaxed;
  spec.body_canon = dkim::Canon::Relaxed;
  std::string wire = message(size);
  Split m = split(wire);
  dkim::Signer signer(std::move(spec), Now);
  feed(signer, m.body);
  auto field = signer.finish(m.fields);
  if (!field) die(fmt::format("{}: signing failed: {}", name, field.error().message()));
  std::string signed_wire = *field + wire;
  Split s = split(signed_wire);
  Case c{std::move(name), std::move(s.fields), std::move(s.body), {}, signed_wire.size()};
  c.key.status = dkim::KeyAnswer::Status::Found;
  c.key.txt = {dkim::keyRecordText(key.publicKey())};
  return c;
}

// One verification as the Authentication-Results stage does it; true when it passed.
bool verifyOnce(const Case& c) {
  dkim::VerifyOptions options;
  options.now = Now;
  dkim::Verifier v(c.fields, options);
  feed(v, c.body);
  v.endBody();
  for (const std::string& name : v.keyNames()) v.provideKey(name, c.key);
  std::vector<dkim::SignatureResult> r = v.results();
  return r.size() == 1 && r[0].outcome == dkim::Outcome::Pass;
}

}  // namespace

// The measured loop, by a plain name for callgrind's --toggle-collect. Returns the failures.
extern "C" __attribute__((noinline)) size_t petrel_dkim_bench_verify_loop(const Case* c,
                                                                           size_t n) {
  size_t failed = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!verifyOnce(*c)) ++failed;
  }
  return failed;
}

namespace {

double secondsFor(const Case& c, size_t n) {
  auto start = std::chrono::steady_clock::now();
  size_t failed = petrel_dkim_bench_verify_loop(&c, n);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  if (failed != 0) die(fmt::format("{}: {} of {} verifications did not pass", c.name, failed, n));
  return took.count();
}

// Fixed N, or the N that takes about `min_time` seconds (from a short timed probe).
size_t iterationsFor(const Case& c, size_t fixed, double min_time) {
  if (fixed != 0) return fixed;
  size_t n = 1;
  double t = 0;
  while ((t = secondsFor(c, n)) < 0.05 && n < (size_t(1) << 30)) n *= 2;
  return std::max<size_t>(1, size_t(double(n) * min_time / t));
}

void usage() {
  fmt::print(
      "usage: petrel-dkim-bench [--case NAME] [--iterations N] [--runs R] [--min-time S]\n"
      "  cases: rsa-1k rsa-100k ed25519-1k ed25519-100k (default: all)\n"
      "  --iterations N  verifications per run (default: calibrated to --min-time)\n"
      "  --runs R        timed runs per case, the median is reported (default 5)\n"
      "  --min-time S    seconds per run when calibrating (default 0.5)\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string only;
  size_t iterations = 0;
  int runs = 5;
  double min_time = 0.5;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--case" && has_value) {
      only = argv[++i];
    } else if (a == "--iterations" && has_value) {
      iterations = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--runs" && has_value) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--min-time" && has_value) {
      min_time = std::max(0.01, std::atof(argv[++i]));
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }

  auto rsa = tls::PrivateKey::fromPemFile(std::string(PETREL_SOURCE_ROOT) +
                                          "/test/testdata/dkim/2048_testkey.key");
  if (!rsa) rsa = tls::PrivateKey::generateRsa(2048);
  auto ed = tls::PrivateKey::generateEd25519();
  if (!rsa || !ed) die("no keys");
  if (rsa->bits() != 2048) die(fmt::format("RSA key has {} bits, not 2048", rsa->bits()));

  struct Spec {
    const char* name;
    const tls::PrivateKey* key;
    dkim::Algorithm algorithm;
    size_t size;
  };
  const Spec specs[] = {{"rsa-1k", &*rsa, dkim::Algorithm::RsaSha256, 1024},
                        {"rsa-100k", &*rsa, dkim::Algorithm::RsaSha256, 102400},
                        {"ed25519-1k", &*ed, dkim::Algorithm::Ed25519Sha256, 1024},
                        {"ed25519-100k", &*ed, dkim::Algorithm::Ed25519Sha256, 102400}};
  bool any = false;
  fmt::print("{:<14} {:>8} {:>10} {:>14}  {}\n", "case", "bytes", "N/run", "verif/s", "runs");
  for (const Spec& s : specs) {
    if (!only.empty() && only != s.name) continue;
    any = true;
    Case c = makeCase(s.name, *s.key, s.algorithm, s.size);
    if (!verifyOnce(c)) die(fmt::format("{}: the signature does not verify", c.name));  // warm-up
    size_t n = iterationsFor(c, iterations, min_time);
    std::vector<double> rates;
    for (int r = 0; r < runs; ++r) rates.push_back(double(n) / secondsFor(c, n));
    std::vector<double> sorted = rates;
    std::sort(sorted.begin(), sorted.end());
    std::string all;
    for (double x : rates) all += fmt::format("{}{:.0f}", all.empty() ? "" : " ", x);
    fmt::print("{:<14} {:>8} {:>10} {:>14.0f}  [{}]\n", c.name, c.wire_size, n,
               sorted[sorted.size() / 2], all);
    std::fflush(stdout);
  }
  if (!any) {
    usage();
    return 2;
  }
  return 0;
}
