// petrel-dns-probe: runs dns::Resolver queries from the command line and prints the answers,
// for test/integration/t-40-dns (the `petrel` binary does not link ldns yet, see docs/dns.md).
//
//   petrel-dns-probe [--server IP[:PORT]]... [--timeout-ms N] [--attempts N] [--no-edns]
//                    [--again] NAME TYPE [NAME TYPE]...
//
// All queries start at once on one loop. Each answer is printed, in the order asked, as
//   NAME TYPE: STATUS ttl=N ms=N canonical=NAME [error=TEXT]
//   NAME TYPE: address 192.0.2.1 | mx 10 mx.example | txt "v=spf1 -all" | ptr host.example
// --again asks everything a second time once the first round is answered (the cache at work).
// The last line is the resolver's counters: "stats: queries=N cache_hits=N ...".
// Exit status: 0 when every query got an answer (whatever it said), 2 for bad usage.
#include <fmt/format.h>
#include <uv.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "petrel/dns/resolver.h"
#include "petrel/event/dispatcher.h"

using namespace petrel;

namespace {

struct Question {
  std::string name;
  dns::Type type;
};

std::optional<dns::Type> parseType(std::string_view s) {
  for (auto t : {dns::Type::A, dns::Type::AAAA, dns::Type::MX, dns::Type::TXT, dns::Type::PTR}) {
    if (s == dns::typeName(t)) return t;
  }
  return std::nullopt;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

int usage(const char* why) {
  fmt::print(stderr,
             "petrel-dns-probe: {}\nusage: petrel-dns-probe [--server IP[:PORT]]... "
             "[--timeout-ms N] [--attempts N] [--no-edns] [--again] NAME TYPE [NAME TYPE]...\n",
             why);
  return 2;
}

struct Probe {
  std::vector<Question> questions;
  std::vector<dns::QueryHandlePtr> handles;
  std::vector<dns::Answer> answers;
  std::vector<uint64_t> elapsed;
  size_t pending = 0;
  uint64_t started = 0;
  int rounds_left = 1;
  dns::ResolverPtr resolver;
  event::Dispatcher* dispatcher = nullptr;
  uv_loop_t* loop = nullptr;

  void start() {
    handles.clear();
    answers.assign(questions.size(), {});
    elapsed.assign(questions.size(), 0);
    pending = questions.size();
    started = uv_now(loop);
    for (size_t i = 0; i < questions.size(); ++i) {
      handles.push_back(resolver->query(questions[i].name, questions[i].type,
                                        [this, i](dns::Answer a) { onAnswer(i, std::move(a)); }));
    }
  }

  void onAnswer(size_t i, dns::Answer a) {
    uv_update_time(loop);
    elapsed[i] = uv_now(loop) - started;
    answers[i] = std::move(a);
    if (--pending > 0) return;
    print();
    if (--rounds_left > 0) {
      start();
      return;
    }
    auto s = resolver->stats();
    fmt::print(
        "stats: queries={} cache_hits={} coalesced={} tries={} timeouts={} network_errors={} "
        "rejected={} tcp_fallbacks={}\n",
        s.queries, s.cache_hits, s.coalesced, s.tries, s.timeouts, s.network_errors, s.rejected,
        s.tcp_fallbacks);
    std::fflush(stdout);
    handles.clear();
    resolver.reset();
    dispatcher->close();
  }

  void print() {
    for (size_t i = 0; i < questions.size(); ++i) {
      const dns::Answer& a = answers[i];
      std::string head = fmt::format("{} {}:", questions[i].name, dns::typeName(questions[i].type));
      fmt::print("{} {} ttl={} ms={} canonical={}{}\n", head, dns::statusName(a.status), a.ttl,
                 elapsed[i], a.canonical_name.empty() ? "-" : a.canonical_name,
                 a.error.empty() ? "" : " error=" + a.error);
      for (const auto& x : a.addresses) fmt::print("{} address {}\n", head, x);
      for (const auto& m : a.mx) fmt::print("{} mx {} {}\n", head, m.preference, m.exchange);
      for (const auto& t : a.txt) fmt::print("{} txt {}\n", head, quoted(t));
      for (const auto& p : a.ptr) fmt::print("{} ptr {}\n", head, p);
    }
    std::fflush(stdout);
  }
};

}  // namespace

int main(int argc, char** argv) {
  dns::ResolverOptions options;
  Probe probe;
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (arg == "--server") {
      auto v = value();
      if (!v) return usage("--server needs a value");
      options.servers.push_back(*v);
    } else if (arg == "--timeout-ms") {
      auto v = value();
      if (!v) return usage("--timeout-ms needs a value");
      options.timeout = std::chrono::milliseconds(std::atoi(v->c_str()));
    } else if (arg == "--attempts") {
      auto v = value();
      if (!v) return usage("--attempts needs a value");
      options.attempts = std::atoi(v->c_str());
    } else if (arg == "--no-edns") {
      options.edns_udp_size = 0;
    } else if (arg == "--again") {
      probe.rounds_left = 2;
    } else if (arg.starts_with("--")) {
      return usage(("unknown option " + arg).c_str());
    } else {
      words.push_back(arg);
    }
  }
  if (words.empty() || words.size() % 2 != 0) return usage("expected NAME TYPE pairs");
  for (size_t i = 0; i < words.size(); i += 2) {
    auto type = parseType(words[i + 1]);
    if (!type) return usage(("unknown type " + words[i + 1]).c_str());
    probe.questions.push_back({words[i], *type});
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    event::Dispatcher dispatcher(&loop);
    auto resolver = dns::Resolver::create(dispatcher, options);
    if (!resolver) {
      fmt::print(stderr, "petrel-dns-probe: {}\n", resolver.error().message());
      dispatcher.close();
      uv_run(&loop, UV_RUN_DEFAULT);
      uv_loop_close(&loop);
      return 1;
    }
    probe.resolver = std::move(*resolver);
    probe.dispatcher = &dispatcher;
    probe.loop = &loop;
    probe.start();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);
  return 0;
}
