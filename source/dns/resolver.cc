// UvResolver: the Resolver on one libuv loop (UDP with TCP fallback, retries, cache).
//
// Ownership and states:
//
//   query() ── Request (shared by the caller's Handle and the resolver; the Handle's death
//      │        drops the callback) ──► cache hit? ── post(answer)
//      ▼
//   Transaction: one lookup of (name, type) on the network, shared by every Request that
//      asks the same while it runs (inflight_ owns it). It walks the try schedule
//      attempts x servers in order (round 1: s1 s2 s3, round 2: s1 s2 s3):
//
//      Attempt ── UDP: fresh socket, connect()ed to the server, random id ──► answer ─► done
//         │  timeout / ICMP error / SERVFAIL... ─► next Attempt (next server)
//         │  TC=1 ─► same Attempt over TCP to the same server (new id, fresh timer)
//         ▼
//      Outcome: Final (cached, then each Request finishes) or Chase (each Request moves on
//      to the CNAME target, which is a new lookup; the whole chain is at most MaxCnameHops).
//
// An Attempt owns its libuv handles and deletes itself in the last close callback, so a
// Transaction (or the whole resolver) can drop it at any moment. Callbacks reach the caller
// only through Dispatcher::post and capture only the Request, never the resolver.
//
// Spoofing defences, in the order a forged datagram meets them: a fresh UDP socket per try
// (the kernel picks a random source port), connect()ed so the kernel drops datagrams from any
// other address or port; a 16-bit id from the OS CSPRNG; rejectReason (QR set, opcode, id,
// the exact question); only answer-section records on the CNAME chain are used and only an
// ancestor's SOA from the authority section; the additional section is never read. A rejected
// datagram is counted and ignored, so it cannot end the try early either.
#include "petrel/dns/resolver.h"

#include <fmt/format.h>
#include <uv.h>

#include <algorithm>
#include <random>
#include <unordered_map>

#include "cache.h"
#include "interpret.h"
#include "petrel/dns/names.h"
#include "petrel/event/dispatcher.h"
#include "servers.h"
#include "wire.h"

namespace petrel::dns {
namespace {

// 16-bit query ids from the OS CSPRNG (getrandom through uv_random), fetched 128 at a time.
// Not a seeded PRNG: an attacker who makes us query his own zone sees our ids, and must not
// be able to predict the next ones from them.
class IdSource {
 public:
  uint16_t next() {
    if (pos_ + 2 > sizeof pool_) refill();
    auto id = uint16_t(pool_[pos_] << 8 | pool_[pos_ + 1]);
    pos_ += 2;
    return id;
  }

 private:
  void refill() {
    pos_ = 0;
    if (uv_random(nullptr, nullptr, pool_, sizeof pool_, 0, nullptr) == 0) return;
    std::random_device rd;  // getrandom or RDRAND too; only if the first source failed
    for (auto& b : pool_) b = static_cast<unsigned char>(rd());
  }

  unsigned char pool_[256];
  size_t pos_ = sizeof pool_;
};

struct Request {
  Resolver::Callback done;  // empty once delivered or cancelled
  bool cancelled = false;
  Type type = Type::A;
  std::string original;  // the normalized name asked for
  std::string current;   // the name looked up now (a CNAME target after a chase)
  int hops = 0;          // CNAMEs followed so far
  uint32_t chain_ttl = UINT32_MAX;
  std::vector<std::string> visited;
};
using RequestPtr = std::shared_ptr<Request>;

class Handle final : public QueryHandle {
 public:
  explicit Handle(RequestPtr r) : r_(std::move(r)) {}
  ~Handle() override {
    r_->cancelled = true;
    r_->done = nullptr;
  }

 private:
  RequestPtr r_;
};

Answer tempFail(std::string error) {
  Answer a;
  a.status = Answer::Status::TempFail;
  a.error = std::move(error);
  return a;
}

std::string uvError(int rc) { return uv_strerror(rc); }

class UvResolver final : public Resolver {
 public:
  UvResolver(event::Dispatcher& dispatcher, ResolverOptions options,
             std::vector<ServerAddress> servers)
      : dispatcher_(dispatcher),
        loop_(dispatcher.loop()),
        options_(std::move(options)),
        servers_(std::move(servers)),
        cache_(CacheLimits{options_.cache_max_bytes, options_.max_ttl, options_.max_negative_ttl}),
        buffer_(new char[BufferSize]) {}

  ~UvResolver() override {
    // Pending Requests are dropped without a callback; their Handles stay harmless.
    for (auto& [key, t] : inflight_) {
      if (t->attempt != nullptr) closeAttempt(t->attempt);
    }
  }

  QueryHandlePtr query(std::string name, Type type, Callback done) override;
  ResolverStats stats() const override { return stats_; }
  std::vector<std::string> servers() const override {
    std::vector<std::string> out;
    for (const auto& s : servers_) out.push_back(s.text);
    return out;
  }

 private:
  static constexpr size_t BufferSize = 65536;  // the largest DNS message (RFC 1035 4.2.2)

  struct Transaction;

  // One exchange with one server. Lives until the close callback of its last handle.
  struct Attempt {
    UvResolver* owner = nullptr;
    Transaction* txn = nullptr;
    ServerAddress server;
    bool done = false;  // finished or abandoned: every callback returns at once
    bool tcp_mode = false;
    uint16_t id = 0;
    std::vector<uint8_t> query;  // over TCP with its 2-octet length prefix (RFC 1035 4.2.2)
    std::string setup_error;     // a socket call failed; reported from the timer callback
    uv_timer_t timer{};
    uv_udp_t udp{};
    uv_tcp_t tcp{};
    uv_udp_send_t send_req{};
    uv_connect_t connect_req{};
    uv_write_t write_req{};
    std::vector<uint8_t> tcp_in;
    bool udp_open = false;
    bool tcp_open = false;
    int closing = 0;  // close callbacks still to come
  };

  struct Transaction {
    std::string key;
    std::string name;
    Type type = Type::A;
    std::vector<RequestPtr> waiters;
    size_t next_try = 0;
    bool edns = true;
    Attempt* attempt = nullptr;
    std::string last_error;
  };

  uint64_t now() const { return uv_now(loop_); }
  static std::string keyOf(std::string_view name, Type type) {
    return fmt::format("{}/{}", name, uint16_t(type));
  }

  void step(const RequestPtr& r);
  void advance(const RequestPtr& r, const Outcome& o);
  void finish(const RequestPtr& r, Answer a);
  void complete(Transaction& t, Outcome o);
  void startNextTry(Transaction& t);
  void launch(Transaction& t, const ServerAddress& server);
  void startUdp(Attempt* a);
  void startTcp(Attempt* a);
  void failSoon(Attempt* a, std::string error);
  void tryFailed(Attempt* a, std::string error);
  void onDatagram(Attempt* a, const uint8_t* data, size_t size);
  void endAttempt(Attempt* a);
  static void closeAttempt(Attempt* a);
  Result<std::vector<uint8_t>> buildFor(Attempt* a);

  static void onClosed(uv_handle_t* h);
  static void onTimer(uv_timer_t* timer);
  static void onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf);
  static void onUdpRecv(uv_udp_t* udp, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                        unsigned flags);
  static void onUdpSent(uv_udp_send_t* req, int status);
  static void onTcpConnected(uv_connect_t* req, int status);
  static void onTcpWritten(uv_write_t* req, int status);
  static void onTcpRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

  event::Dispatcher& dispatcher_;
  uv_loop_t* loop_;
  ResolverOptions options_;
  std::vector<ServerAddress> servers_;
  Cache cache_;
  IdSource ids_;
  ResolverStats stats_;
  std::unordered_map<std::string, std::unique_ptr<Transaction>> inflight_;
  std::unique_ptr<char[]> buffer_;  // receive buffer, consumed inside each read callback
};

// ---- requests ---------------------------------------------------------------------------------

QueryHandlePtr UvResolver::query(std::string name, Type type, Callback done) {
  ++stats_.queries;
  auto r = std::make_shared<Request>();
  r->done = std::move(done);
  r->type = type;
  r->original = r->current = normalizeName(name);
  r->visited.push_back(r->current);
  auto handle = std::make_unique<Handle>(r);
  if (auto ok = checkQueryName(name); !ok) {
    // A name that cannot exist does not exist; said so without asking anyone.
    Answer a;
    a.status = Answer::Status::NxDomain;
    a.error = ok.error().message();
    a.canonical_name = r->original;
    finish(r, std::move(a));
  } else {
    step(r);
  }
  return handle;
}

void UvResolver::step(const RequestPtr& r) {
  if (auto hit = cache_.get(r->current, r->type, now())) {
    ++stats_.cache_hits;
    finish(r, std::move(*hit));
    return;
  }
  std::string key = keyOf(r->current, r->type);
  if (auto it = inflight_.find(key); it != inflight_.end()) {
    ++stats_.coalesced;
    it->second->waiters.push_back(r);
    return;
  }
  // A CNAME target may hold octets a caller's name may not; ldns decides if it is a name.
  if (auto q = wire::buildQuery(r->current, uint16_t(r->type), 0, 0); !q) {
    Answer a;
    a.status = Answer::Status::NxDomain;
    a.error = q.error().message();
    a.canonical_name = r->current;
    finish(r, std::move(a));
    return;
  }
  auto t = std::make_unique<Transaction>();
  t->key = key;
  t->name = r->current;
  t->type = r->type;
  t->edns = options_.edns_udp_size > 0;
  t->waiters.push_back(r);
  Transaction& ref = *t;
  inflight_.emplace(std::move(key), std::move(t));
  startNextTry(ref);  // never completes synchronously: socket errors come back via the timer
}

void UvResolver::advance(const RequestPtr& r, const Outcome& o) {
  if (r->hops + o.hops > MaxCnameHops) {
    finish(r,
           tempFail(fmt::format("CNAME chain from {} longer than {}", r->original, MaxCnameHops)));
    return;
  }
  if (o.kind == Outcome::Kind::Final) {
    finish(r, o.answer);
    return;
  }
  // Chase: the target becomes a lookup of its own (cached and shared like any other).
  if (std::find(r->visited.begin(), r->visited.end(), o.chase_to) != r->visited.end()) {
    finish(r, tempFail(fmt::format("CNAME loop at {}", o.chase_to)));
    return;
  }
  r->hops += o.hops;
  r->chain_ttl = std::min(r->chain_ttl, o.chain_ttl);
  r->current = o.chase_to;
  r->visited.push_back(r->current);
  step(r);
}

void UvResolver::finish(const RequestPtr& r, Answer a) {
  if (a.status == Answer::Status::TempFail) a.ttl = 0;
  if (r->current != r->original) {
    // Reached through CNAMEs: valid only as long as every alias on the way.
    a.ttl = std::min(a.ttl, r->chain_ttl);
    cache_.put(r->original, r->type, a, now());
  }
  dispatcher_.post([r, a = std::move(a)]() mutable {
    if (r->cancelled || !r->done) return;
    auto done = std::move(r->done);
    r->done = nullptr;  // the caller may drop its Handle inside `done`
    done(std::move(a));
  });
}

// ---- transactions -----------------------------------------------------------------------------

void UvResolver::complete(Transaction& t, Outcome o) {
  auto node = inflight_.extract(t.key);
  std::unique_ptr<Transaction> owned = std::move(node.mapped());
  if (owned->attempt != nullptr) endAttempt(owned->attempt);
  if (o.kind == Outcome::Kind::Final) cache_.put(owned->name, owned->type, o.answer, now());
  for (const RequestPtr& r : owned->waiters) {
    if (!r->cancelled) advance(r, o);
  }
}

void UvResolver::startNextTry(Transaction& t) {
  size_t total = servers_.size() * size_t(options_.attempts);
  if (t.next_try >= total) {
    Outcome o;
    o.kind = Outcome::Kind::Final;
    o.answer = tempFail(fmt::format("{} {}: {}", t.name, typeName(t.type),
                                    t.last_error.empty() ? "no answer" : t.last_error));
    complete(t, std::move(o));
    return;
  }
  const ServerAddress& server = servers_[t.next_try % servers_.size()];
  ++t.next_try;
  launch(t, server);
}

void UvResolver::launch(Transaction& t, const ServerAddress& server) {
  auto* a = new Attempt;
  a->owner = this;
  a->txn = &t;
  a->server = server;
  t.attempt = a;
  ++stats_.tries;
  uv_timer_init(loop_, &a->timer);  // cannot fail
  a->timer.data = a;
  startUdp(a);
}

Result<std::vector<uint8_t>> UvResolver::buildFor(Attempt* a) {
  a->id = ids_.next();
  const Transaction& t = *a->txn;
  return wire::buildQuery(t.name, uint16_t(t.type), a->id, t.edns ? options_.edns_udp_size : 0);
}

void UvResolver::startUdp(Attempt* a) {
  auto q = buildFor(a);
  if (!q) return failSoon(a, q.error().message());
  a->query = std::move(*q);
  int rc = uv_udp_init(loop_, &a->udp);
  if (rc != 0) return failSoon(a, "socket: " + uvError(rc));
  a->udp_open = true;
  a->udp.data = a;
  // connect(): the kernel now delivers only datagrams from the server's address and port,
  // and reports ICMP unreachable as an error instead of leaving us to time out. The implicit
  // bind takes a random ephemeral source port, new for every try.
  rc = uv_udp_connect(&a->udp, a->server.sa());
  if (rc == 0) rc = uv_udp_recv_start(&a->udp, &UvResolver::onAlloc, &UvResolver::onUdpRecv);
  if (rc == 0) {
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(a->query.data()), unsigned(a->query.size()));
    rc = uv_udp_send(&a->send_req, &a->udp, &b, 1, nullptr, &UvResolver::onUdpSent);
  }
  if (rc != 0) return failSoon(a, fmt::format("UDP to {}: {}", a->server.text, uvError(rc)));
  uv_timer_start(&a->timer, &UvResolver::onTimer, uint64_t(options_.timeout.count()), 0);
}

void UvResolver::startTcp(Attempt* a) {
  ++stats_.tcp_fallbacks;
  uv_timer_stop(&a->timer);
  if (a->udp_open) {
    a->udp_open = false;
    ++a->closing;
    uv_close(reinterpret_cast<uv_handle_t*>(&a->udp), &UvResolver::onClosed);
  }
  a->tcp_mode = true;
  auto q = buildFor(a);  // a new id: the UDP one has been seen on the wire
  if (!q) return failSoon(a, q.error().message());
  a->query.assign({uint8_t(q->size() >> 8), uint8_t(q->size() & 0xff)});
  a->query.insert(a->query.end(), q->begin(), q->end());
  int rc = uv_tcp_init(loop_, &a->tcp);
  if (rc != 0) return failSoon(a, "socket: " + uvError(rc));
  a->tcp_open = true;
  a->tcp.data = a;
  a->connect_req.data = a;
  rc = uv_tcp_connect(&a->connect_req, &a->tcp, a->server.sa(), &UvResolver::onTcpConnected);
  if (rc != 0) return failSoon(a, fmt::format("TCP to {}: {}", a->server.text, uvError(rc)));
  uv_timer_start(&a->timer, &UvResolver::onTimer, uint64_t(options_.timeout.count()), 0);
}

void UvResolver::failSoon(Attempt* a, std::string error) {
  // Reported from the loop, never from inside the call that started the try.
  a->setup_error = std::move(error);
  uv_timer_start(&a->timer, &UvResolver::onTimer, 0, 0);
}

void UvResolver::tryFailed(Attempt* a, std::string error) {
  Transaction& t = *a->txn;
  t.last_error = std::move(error);
  endAttempt(a);
  startNextTry(t);
}

void UvResolver::onDatagram(Attempt* a, const uint8_t* data, size_t size) {
  Transaction& t = *a->txn;
  auto msg = wire::parseMessage(data, size);
  std::optional<std::string> why;
  if (!msg) {
    why = msg.error().message();
  } else {
    why = rejectReason(*msg, a->id, t.name, uint16_t(t.type));
  }
  if (why) {
    ++stats_.rejected;
    // UDP: keep listening, the real answer may still come. TCP: the stream is not ours to
    // resynchronise; this server failed.
    if (a->tcp_mode)
      tryFailed(a, fmt::format("bad answer from {} over TCP: {}", a->server.text, *why));
    return;
  }
  if (msg->tc && !a->tcp_mode) {
    startTcp(a);  // RFC 1035 4.2.1, RFC 7766 5: truncated, ask again over TCP
    return;
  }
  Outcome o = interpret(*msg, t.name, t.type);
  if (o.kind == Outcome::Kind::Retry) {
    if (t.edns && (msg->rcode == wire::FormErr || msg->rcode == wire::NotImp)) {
      // RFC 6891 7: a server that does not know EDNS may say FORMERR or NOTIMP; ask it again
      // without the OPT record (not counted as a try).
      t.edns = false;
      ServerAddress server = a->server;
      endAttempt(a);
      launch(t, server);
      return;
    }
    tryFailed(a, fmt::format("{} from {}", o.error, a->server.text));
    return;
  }
  complete(t, std::move(o));
}

void UvResolver::endAttempt(Attempt* a) {
  if (a->txn != nullptr && a->txn->attempt == a) a->txn->attempt = nullptr;
  closeAttempt(a);
}

void UvResolver::closeAttempt(Attempt* a) {
  a->done = true;
  a->owner = nullptr;
  a->txn = nullptr;
  uv_timer_stop(&a->timer);
  ++a->closing;
  uv_close(reinterpret_cast<uv_handle_t*>(&a->timer), &UvResolver::onClosed);
  if (a->udp_open) {
    a->udp_open = false;
    ++a->closing;
    uv_close(reinterpret_cast<uv_handle_t*>(&a->udp), &UvResolver::onClosed);
  }
  if (a->tcp_open) {
    a->tcp_open = false;
    ++a->closing;
    uv_close(reinterpret_cast<uv_handle_t*>(&a->tcp), &UvResolver::onClosed);
  }
}

// ---- libuv callbacks --------------------------------------------------------------------------

void UvResolver::onClosed(uv_handle_t* h) {
  auto* a = static_cast<Attempt*>(h->data);
  if (--a->closing == 0 && a->done) delete a;
}

void UvResolver::onTimer(uv_timer_t* timer) {
  auto* a = static_cast<Attempt*>(timer->data);
  if (a->done) return;
  UvResolver* self = a->owner;
  if (!a->setup_error.empty()) {
    ++self->stats_.network_errors;
    self->tryFailed(a, a->setup_error);
    return;
  }
  ++self->stats_.timeouts;
  self->tryFailed(a, fmt::format("timeout after {} ms from {}{}", self->options_.timeout.count(),
                                 a->server.text, a->tcp_mode ? " over TCP" : ""));
}

void UvResolver::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* a = static_cast<Attempt*>(h->data);
  if (a->done) {
    *buf = uv_buf_init(nullptr, 0);  // libuv reports UV_ENOBUFS, which is ignored
    return;
  }
  *buf = uv_buf_init(a->owner->buffer_.get(), unsigned(BufferSize));
}

void UvResolver::onUdpRecv(uv_udp_t* udp, ssize_t nread, const uv_buf_t* buf, const sockaddr*,
                           unsigned flags) {
  auto* a = static_cast<Attempt*>(udp->data);
  if (a->done || a->tcp_mode || nread == 0) return;  // 0: nothing more to read now
  UvResolver* self = a->owner;
  if (nread < 0) {
    // On a connected socket: ICMP port/host unreachable (ECONNREFUSED, EHOSTUNREACH...).
    ++self->stats_.network_errors;
    self->tryFailed(a, fmt::format("UDP from {}: {}", a->server.text, uvError(int(nread))));
    return;
  }
  if ((flags & UV_UDP_PARTIAL) != 0) {
    ++self->stats_.rejected;
    return;
  }
  self->onDatagram(a, reinterpret_cast<const uint8_t*>(buf->base), size_t(nread));
}

void UvResolver::onUdpSent(uv_udp_send_t* req, int status) {
  auto* a = static_cast<Attempt*>(req->handle->data);
  if (a->done || a->tcp_mode || status == 0 || status == UV_ECANCELED) return;
  ++a->owner->stats_.network_errors;
  a->owner->tryFailed(a, fmt::format("UDP to {}: {}", a->server.text, uvError(status)));
}

void UvResolver::onTcpConnected(uv_connect_t* req, int status) {
  auto* a = static_cast<Attempt*>(req->data);
  if (a->done || status == UV_ECANCELED) return;
  UvResolver* self = a->owner;
  if (status != 0) {
    ++self->stats_.network_errors;
    self->tryFailed(a, fmt::format("TCP to {}: {}", a->server.text, uvError(status)));
    return;
  }
  auto* stream = reinterpret_cast<uv_stream_t*>(&a->tcp);
  uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(a->query.data()), unsigned(a->query.size()));
  a->write_req.data = a;
  int rc = uv_write(&a->write_req, stream, &b, 1, &UvResolver::onTcpWritten);
  if (rc == 0) rc = uv_read_start(stream, &UvResolver::onAlloc, &UvResolver::onTcpRead);
  if (rc != 0) {
    ++self->stats_.network_errors;
    self->tryFailed(a, fmt::format("TCP to {}: {}", a->server.text, uvError(rc)));
  }
}

void UvResolver::onTcpWritten(uv_write_t* req, int status) {
  auto* a = static_cast<Attempt*>(req->data);
  if (a->done || status == 0 || status == UV_ECANCELED) return;
  ++a->owner->stats_.network_errors;
  a->owner->tryFailed(a, fmt::format("TCP to {}: {}", a->server.text, uvError(status)));
}

void UvResolver::onTcpRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* a = static_cast<Attempt*>(stream->data);
  if (a->done || nread == 0) return;
  UvResolver* self = a->owner;
  if (nread < 0) {
    ++self->stats_.network_errors;
    self->tryFailed(a,
                    fmt::format("TCP from {}: {}", a->server.text,
                                nread == UV_EOF ? std::string("connection closed before the answer")
                                                : uvError(int(nread))));
    return;
  }
  a->tcp_in.insert(a->tcp_in.end(), buf->base, buf->base + nread);
  if (a->tcp_in.size() < 2) return;
  size_t len = size_t(a->tcp_in[0]) << 8 | a->tcp_in[1];
  if (a->tcp_in.size() < 2 + len) return;
  self->onDatagram(a, a->tcp_in.data() + 2, len);
}

}  // namespace

// ---- public -----------------------------------------------------------------------------------

std::string_view typeName(Type type) {
  switch (type) {
    case Type::A:
      return "A";
    case Type::AAAA:
      return "AAAA";
    case Type::MX:
      return "MX";
    case Type::TXT:
      return "TXT";
    case Type::PTR:
      return "PTR";
    case Type::NS:
      return "NS";
  }
  return "?";
}

std::string_view statusName(Answer::Status status) {
  switch (status) {
    case Answer::Status::Found:
      return "Found";
    case Answer::Status::NxDomain:
      return "NxDomain";
    case Answer::Status::NoData:
      return "NoData";
    case Answer::Status::TempFail:
      return "TempFail";
  }
  return "?";
}

Result<std::unique_ptr<Resolver>> Resolver::create(event::Dispatcher& dispatcher,
                                                   ResolverOptions options) {
  if (options.attempts < 1) return Error::config("dns: attempts must be at least 1");
  if (options.timeout.count() <= 0) return Error::config("dns: timeout must be positive");
  auto servers = loadServers(options.servers, options.resolv_conf);
  if (!servers) return servers.error();
  return std::unique_ptr<Resolver>(
      new UvResolver(dispatcher, std::move(options), std::move(*servers)));
}

Result<std::unique_ptr<Resolver>> Resolver::create(event::Dispatcher& dispatcher,
                                                   std::vector<std::string> servers) {
  ResolverOptions options;
  options.servers = std::move(servers);
  return create(dispatcher, std::move(options));
}

}  // namespace petrel::dns
