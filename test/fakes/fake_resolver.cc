// FakeResolver; see fake_resolver.h. The answer rules mirror
// source/dns/interpret.cc and resolver.cc (CNAME chain, TTL of the chain, error
// texts); read those when they change.
#include "fakes/fake_resolver.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <fstream>
#include <sstream>

#include "petrel/dns/names.h"
#include "petrel/event/dispatcher.h"

namespace petrel::dns {

struct FakeResolver::Entry {
  enum class Kind { Record, NxDomain, ServFail, Timeout };
  Kind kind = Kind::Record;
  std::string owner;
  std::string type;  // "A", "AAAA", "MX", "TXT", "PTR", "CNAME"; empty for the others
  uint32_t ttl = 300;
  std::string data;  // address text, target name, or the TXT strings concatenated
  uint16_t preference = 0;
};

struct FakeResolver::Waiting {
  Callback done;  // empty once delivered or cancelled
  Answer answer;
};

namespace {

constexpr uint32_t DefaultTtl = 300;

struct Token {
  std::string text;
  bool quoted = false;
};

// Splits on blanks; "..." is one token (\" and \\ inside), as in a zone file's
// TXT data.
Result<std::vector<Token>> tokenize(std::string_view line) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < line.size()) {
    char c = line[i];
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
      continue;
    }
    Token t;
    if (c == '"') {
      t.quoted = true;
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char d = line[i++];
        if (d == '"') {
          closed = true;
          break;
        }
        if (d == '\\' && i < line.size()) d = line[i++];
        t.text += d;
      }
      if (!closed) return Error::permanent("unterminated quoted string");
    } else {
      while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
        t.text += line[i++];
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string upper(std::string s) {
  for (char &c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The text form the real resolver gives (inet_ntop's), so "2001:0DB8::1" reads
// "2001:db8::1".
Result<std::string> addressText(int family, const std::string &text) {
  unsigned char bytes[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(family, text.c_str(), bytes) != 1 ||
      inet_ntop(family, bytes, out, sizeof out) == nullptr) {
    return Error::permanent(
        fmt::format("'{}' is not an {} address", text, family == AF_INET ? "IPv4" : "IPv6"));
  }
  return std::string(out);
}

Answer tempFail(std::string error) {
  Answer a;
  a.status = Answer::Status::TempFail;
  a.error = std::move(error);
  return a;
}

// Shares the waiting answer's callback; destroying it drops the callback, and
// everything the callback captured, at once (resolver.h).
class Handle final : public QueryHandle {
 public:
  explicit Handle(std::shared_ptr<Resolver::Callback> done) : done_(std::move(done)) {}
  ~Handle() override { *done_ = nullptr; }

 private:
  std::shared_ptr<Resolver::Callback> done_;
};

}  // namespace

// ---- zone text
// --------------------------------------------------------------------------------

namespace {

Result<FakeResolver::Entry> parseEntry(const std::vector<Token> &tokens) {
  using Kind = FakeResolver::Entry::Kind;
  FakeResolver::Entry e;
  size_t i = 0;
  e.owner = normalizeName(tokens[i].text);
  if (auto ok = checkQueryName(tokens[i].text); !ok) return ok.error();
  ++i;
  bool ttl_given = false;
  if (i < tokens.size() && allDigits(tokens[i].text)) {
    unsigned long ttl = 0;
    auto [end, ec] =
        std::from_chars(tokens[i].text.data(), tokens[i].text.data() + tokens[i].text.size(), ttl);
    if (ec != std::errc() || ttl > 0x7fffffffUL) {
      return Error::permanent(fmt::format("bad TTL '{}'", tokens[i].text));
    }
    e.ttl = uint32_t(ttl);
    ttl_given = true;
    ++i;
  }
  if (i == tokens.size()) return Error::permanent("no record type");
  std::string type = upper(tokens[i++].text);
  std::vector<const Token *> data;
  for (; i < tokens.size(); ++i) data.push_back(&tokens[i]);
  auto want = [&](size_t n, const char *what) -> Status {
    if (data.size() != n) return Error::permanent(fmt::format("{} needs {}", type, what));
    return okStatus();
  };

  if (type == "NXDOMAIN" || type == "SERVFAIL" || type == "TIMEOUT") {
    if (auto ok = want(0, "no data"); !ok) return ok.error();
    e.kind = type == "NXDOMAIN"   ? Kind::NxDomain
             : type == "SERVFAIL" ? Kind::ServFail
                                  : Kind::Timeout;
    if (e.kind == Kind::NxDomain && !ttl_given) e.ttl = 0;  // no SOA: not cacheable
    return e;
  }
  e.type = type;
  if (type == "A" || type == "AAAA") {
    if (auto ok = want(1, "one address"); !ok) return ok.error();
    auto text = addressText(type == "A" ? AF_INET : AF_INET6, data[0]->text);
    if (!text) return text.error();
    e.data = std::move(*text);
  } else if (type == "MX") {
    if (auto ok = want(2, "a preference and an exchange"); !ok) return ok.error();
    unsigned pref = 0;
    const std::string &p = data[0]->text;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), pref);
    if (ec != std::errc() || end != p.data() + p.size() || pref > 65535) {
      return Error::permanent(fmt::format("bad MX preference '{}'", p));
    }
    e.preference = uint16_t(pref);
    e.data = normalizeName(data[1]->text);
  } else if (type == "PTR" || type == "CNAME" || type == "NS") {
    if (auto ok = want(1, "one name"); !ok) return ok.error();
    e.data = normalizeName(data[0]->text);
  } else if (type == "TXT") {
    if (data.empty()) return Error::permanent("TXT needs at least one string");
    for (const Token *t : data) e.data += t->text;  // RFC 7208 3.3, as the real resolver does
  } else {
    return Error::permanent(
        fmt::format("unknown type '{}' (A AAAA MX TXT PTR NS CNAME NXDOMAIN "
                    "SERVFAIL TIMEOUT)",
                    type));
  }
  return e;
}

}  // namespace

FakeResolver::FakeResolver(std::string_view zone) {
  if (auto ok = load(zone); !ok) ADD_FAILURE() << "FakeResolver zone: " << ok.error().message();
}

FakeResolver::~FakeResolver() { *alive_ = false; }

Status FakeResolver::load(std::string_view zone) {
  std::vector<Entry> added;
  size_t number = 0;
  while (!zone.empty()) {
    size_t nl = zone.find('\n');
    std::string_view line = zone.substr(0, nl);
    zone = nl == std::string_view::npos ? std::string_view{} : zone.substr(nl + 1);
    ++number;
    // A comment starts at # or ; outside quotes; TXT data may hold either.
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\\' && quoted) {
        ++i;
      } else if (line[i] == '"') {
        quoted = !quoted;
      } else if (!quoted && (line[i] == '#' || line[i] == ';')) {
        line = line.substr(0, i);
        break;
      }
    }
    auto tokens = tokenize(line);
    if (!tokens)
      return Error::permanent(fmt::format("line {}: {}", number, tokens.error().message()));
    if (tokens->empty()) continue;
    auto entry = parseEntry(*tokens);
    if (!entry)
      return Error::permanent(fmt::format("line {}: {}", number, entry.error().message()));
    added.push_back(std::move(*entry));
  }
  entries_.insert(entries_.end(), added.begin(), added.end());
  return okStatus();
}

Status FakeResolver::loadFile(const std::string &path) {
  std::ifstream in(path);
  if (!in) return Error::config(fmt::format("cannot read {}", path));
  std::stringstream text;
  text << in.rdbuf();
  if (auto ok = load(text.str()); !ok) {
    return Error::permanent(fmt::format("{}: {}", path, ok.error().message()));
  }
  return okStatus();
}

void FakeResolver::deliverOn(event::Dispatcher &dispatcher) { dispatcher_ = &dispatcher; }

// ---- answers
// ----------------------------------------------------------------------------------

const FakeResolver::Entry *FakeResolver::failure(const std::string &name) const {
  for (const Entry &e : entries_) {
    if (e.kind != Entry::Kind::Record && e.owner == name) return &e;
  }
  return nullptr;
}

bool FakeResolver::exists(const std::string &name) const {
  // A name with records, or with names below it (an empty non-terminal, RFC
  // 8020), exists.
  for (const Entry &e : entries_) {
    if (e.kind != Entry::Kind::Record) continue;
    if (e.owner == name || name == "." ||
        (e.owner.size() > name.size() && e.owner.ends_with(name) &&
         e.owner[e.owner.size() - name.size() - 1] == '.')) {
      return true;
    }
  }
  return false;
}

Answer FakeResolver::answer(const std::string &name, Type type) const {
  const std::string type_name(typeName(type));
  std::string current = name;
  std::vector<std::string> visited{current};
  uint32_t chain_ttl = UINT32_MAX;
  int hops = 0;
  for (;;) {
    if (const Entry *f = failure(current)) {
      switch (f->kind) {
        case Entry::Kind::ServFail:
          return tempFail(fmt::format("{} {}: SERVFAIL from fake", current, type_name));
        case Entry::Kind::Timeout:
          return tempFail(
              fmt::format("{} {}: timeout after 2000 ms from fake", current, type_name));
        default: {
          Answer a;
          a.status = Answer::Status::NxDomain;
          a.ttl = std::min(f->ttl, chain_ttl);
          a.canonical_name = current;
          return a;
        }
      }
    }
    Answer a;
    a.canonical_name = current;
    uint32_t ttl = chain_ttl;
    for (const Entry &e : entries_) {
      if (e.kind != Entry::Kind::Record || e.owner != current || e.type != type_name) continue;
      ttl = std::min(ttl, e.ttl);
      switch (type) {
        case Type::A:
        case Type::AAAA:
          a.addresses.push_back(e.data);
          break;
        case Type::MX:
          a.mx.push_back({e.preference, e.data});
          break;
        case Type::TXT:
          a.txt.push_back(e.data);
          break;
        case Type::PTR:
          a.ptr.push_back(e.data);
          break;
        case Type::NS:
          a.ns.push_back(e.data);
          break;
      }
    }
    if (!a.addresses.empty() || !a.mx.empty() || !a.txt.empty() || !a.ptr.empty() ||
        !a.ns.empty()) {
      a.status = Answer::Status::Found;
      a.ttl = ttl;
      return a;
    }
    auto cname = std::find_if(entries_.begin(), entries_.end(), [&](const Entry &e) {
      return e.kind == Entry::Kind::Record && e.owner == current && e.type == "CNAME";
    });
    if (cname == entries_.end()) {
      // RFC 2308: no SOA in a fake, so a negative answer without an NXDOMAIN
      // line has TTL 0.
      a.status = exists(current) ? Answer::Status::NoData : Answer::Status::NxDomain;
      a.ttl = 0;
      return a;
    }
    if (std::find(visited.begin(), visited.end(), cname->data) != visited.end()) {
      return tempFail(fmt::format("CNAME loop at {}", cname->data));
    }
    if (hops == MaxCnameHops) {
      return tempFail(fmt::format("CNAME chain from {} longer than {}", name, MaxCnameHops));
    }
    ++hops;
    chain_ttl = std::min(chain_ttl, cname->ttl);
    current = cname->data;
    visited.push_back(current);
  }
}

QueryHandlePtr FakeResolver::query(std::string name, Type type, Callback done) {
  std::string normalized = normalizeName(name);
  queries_.push_back(fmt::format("{} {}", normalized, typeName(type)));
  auto w = std::make_shared<Waiting>();
  w->done = std::move(done);
  if (auto ok = checkQueryName(name); !ok) {
    // As the real resolver: a name that cannot exist does not exist, and nobody
    // is asked.
    w->answer.status = Answer::Status::NxDomain;
    w->answer.error = ok.error().message();
    w->answer.canonical_name = normalized;
  } else {
    w->answer = answer(normalized, type);
  }
  auto handle = std::make_unique<Handle>(std::shared_ptr<Callback>(w, &w->done));
  if (dispatcher_ != nullptr) {
    dispatcher_->post([w] {
      if (!w->done) return;
      auto cb = std::move(w->done);
      w->done = nullptr;  // the callback may destroy its handle
      cb(std::move(w->answer));
    });
  } else {
    waiting_.push_back(std::move(w));
  }
  return handle;
}

size_t FakeResolver::runPending() {
  size_t delivered = 0;
  // A callback may destroy this fake, directly or by dropping the last
  // reference to it (a ReloadableResolver's replaced resolver dies with its
  // last callback); stop touching it then.
  std::shared_ptr<bool> alive = alive_;
  while (!waiting_.empty()) {
    std::vector<std::shared_ptr<Waiting>> batch;
    batch.swap(waiting_);
    for (auto &w : batch) {
      if (!w->done) continue;
      {
        auto cb = std::move(w->done);
        w->done = nullptr;  // the callback may destroy its handle
        cb(std::move(w->answer));
      }
      ++delivered;
      if (!*alive) return delivered;
    }
  }
  return delivered;
}

size_t FakeResolver::pending() const {
  return size_t(
      std::count_if(waiting_.begin(), waiting_.end(), [](const auto &w) { return bool(w->done); }));
}

ResolverStats FakeResolver::stats() const {
  ResolverStats s;
  s.queries = queries_.size();
  return s;
}

std::vector<std::string> FakeResolver::servers() const { return {"fake"}; }

}  // namespace petrel::dns
