// Resolver on a real libuv loop against FakeDnsServer, a UDP + TCP responder on 127.0.0.1 in
// the same loop whose answers each test scripts (made with wire::makeResponseForTest). This is
// the one dns test with sockets: it checks what only a network can show (timeouts and retries
// across servers, spoofed datagrams, TC=1 then TCP, ICMP errors, cancellation while a query is
// on the wire). Timeouts are 50-300 ms, so the whole file runs in about two seconds.
#include "petrel/dns/resolver.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../../../source/dns/wire.h"
#include "petrel/event/dispatcher.h"

namespace petrel::dns {
namespace {

using Packet = std::vector<uint8_t>;

// What the fake server got: the parsed query, whether it came over TCP and carried EDNS.
struct Received {
  wire::Message query;
  bool tcp = false;
  bool edns = false;
};

// Answers each query with the packets `reply` returns (none: stay silent). UDP and TCP on the
// same port; over TCP only the first packet is sent, length-prefixed, then the connection ends.
class FakeDnsServer {
 public:
  using Reply = std::function<std::vector<Packet>(const Received&)>;

  explicit FakeDnsServer(uv_loop_t* loop) : loop_(loop) {
    sockaddr_in addr{};
    // Bind UDP to an ephemeral port, then TCP to the same one (retry if TCP's is taken).
    for (int i = 0; i < 20 && port_ == 0; ++i) {
      auto* udp = new uv_udp_t;
      uv_udp_init(loop_, udp);
      uv_ip4_addr("127.0.0.1", 0, &addr);
      uv_udp_bind(udp, reinterpret_cast<sockaddr*>(&addr), 0);
      sockaddr_storage bound{};
      int len = sizeof bound;
      uv_udp_getsockname(udp, reinterpret_cast<sockaddr*>(&bound), &len);
      int port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
      auto* tcp = new uv_tcp_t;
      uv_tcp_init(loop_, tcp);
      uv_ip4_addr("127.0.0.1", port, &addr);
      if (uv_tcp_bind(tcp, reinterpret_cast<sockaddr*>(&addr), 0) == 0 &&
          uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 16, &FakeDnsServer::onConnection) == 0) {
        udp_ = udp;
        tcp_ = tcp;
        port_ = port;
      } else {
        uv_close(reinterpret_cast<uv_handle_t*>(udp),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_udp_t*>(h); });
        uv_close(reinterpret_cast<uv_handle_t*>(tcp),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
      }
    }
    udp_->data = this;
    tcp_->data = this;
    uv_udp_recv_start(udp_, &FakeDnsServer::onAlloc, &FakeDnsServer::onUdp);
  }

  ~FakeDnsServer() { close(); }

  void close() {
    if (udp_ == nullptr) return;
    uv_close(reinterpret_cast<uv_handle_t*>(udp_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_udp_t*>(h); });
    uv_close(reinterpret_cast<uv_handle_t*>(tcp_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    udp_ = nullptr;
    tcp_ = nullptr;
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  Reply reply;
  std::vector<Received> received;
  int udpCount() const { return count(false); }
  int tcpCount() const { return count(true); }

 private:
  struct Conn {
    FakeDnsServer* server;
    uv_tcp_t tcp;
    std::vector<uint8_t> in;
    Packet out;
    uv_write_t write;
  };

  int count(bool tcp) const {
    int n = 0;
    for (const auto& r : received) n += r.tcp == tcp;
    return n;
  }

  std::vector<Packet> handle(const uint8_t* data, size_t size, bool tcp) {
    auto q = wire::parseMessage(data, size);
    if (!q) return {};
    // ARCOUNT > 0: our queries carry nothing in the additional section but the OPT record.
    bool edns = size >= 12 && (data[10] != 0 || data[11] != 0);
    received.push_back({*q, tcp, edns});
    return reply ? reply(received.back()) : std::vector<Packet>{};
  }

  static void onAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
    static char storage[65536];
    *buf = uv_buf_init(storage, sizeof storage);
  }

  static void onUdp(uv_udp_t* udp, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                    unsigned) {
    if (nread <= 0 || from == nullptr) return;
    auto* self = static_cast<FakeDnsServer*>(udp->data);
    for (const Packet& p :
         self->handle(reinterpret_cast<const uint8_t*>(buf->base), size_t(nread), false)) {
      uv_buf_t b = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(p.data())),
                               unsigned(p.size()));
      uv_udp_try_send(udp, &b, 1, from);  // loopback: never EAGAIN for a few datagrams
    }
  }

  static void onConnection(uv_stream_t* listener, int status) {
    if (status != 0) return;
    auto* self = static_cast<FakeDnsServer*>(listener->data);
    auto* c = new Conn{self, {}, {}, {}, {}};
    uv_tcp_init(self->loop_, &c->tcp);
    c->tcp.data = c;
    uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp));
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), &FakeDnsServer::onAlloc,
                  &FakeDnsServer::onTcpRead);
  }

  static void closeConn(Conn* c) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
             [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
  }

  static void onTcpRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<Conn*>(s->data);
    if (nread < 0) return closeConn(c);
    c->in.insert(c->in.end(), buf->base, buf->base + nread);
    if (c->in.size() < 2) return;
    size_t len = size_t(c->in[0]) << 8 | c->in[1];
    if (c->in.size() < 2 + len) return;
    uv_read_stop(s);
    auto packets = c->server->handle(c->in.data() + 2, len, true);
    if (packets.empty()) return closeConn(c);
    const Packet& p = packets.front();
    c->out = {uint8_t(p.size() >> 8), uint8_t(p.size() & 0xff)};
    c->out.insert(c->out.end(), p.begin(), p.end());
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(c->out.data()), unsigned(c->out.size()));
    c->write.data = c;
    uv_write(&c->write, s, &b, 1,
             [](uv_write_t* w, int) { closeConn(static_cast<Conn*>(w->data)); });
  }

  uv_loop_t* loop_;
  uv_udp_t* udp_ = nullptr;
  uv_tcp_t* tcp_ = nullptr;
  int port_ = 0;
};

Packet respond(const wire::Message& q, wire::ResponseSpec spec) {
  auto r = wire::makeResponseForTest(q, spec);
  EXPECT_TRUE(r.ok()) << (r ? "" : r.error().message());
  return r ? *r : Packet{};
}

std::string qname(const Received& r) { return r.query.questions.at(0).name; }

class DnsResolver : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    dispatcher_ = std::make_unique<event::Dispatcher>(&loop_);
    // A heartbeat so that UV_RUN_ONCE returns regularly while a test waits.
    uv_timer_init(&loop_, &heartbeat_);
    uv_timer_start(
        &heartbeat_, [](uv_timer_t*) {}, 5, 5);
  }

  void TearDown() override {
    resolver_.reset();
    servers_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&heartbeat_), nullptr);
    dispatcher_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    // Every handle the resolver opened is closed and freed: the loop has nothing left.
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    dispatcher_.reset();
  }

  FakeDnsServer& addServer() {
    servers_.push_back(std::make_unique<FakeDnsServer>(&loop_));
    return *servers_.back();
  }

  void makeResolver(std::vector<std::string> addresses, int timeout_ms = 300, int attempts = 2) {
    ResolverOptions o;
    o.servers = std::move(addresses);
    o.timeout = std::chrono::milliseconds(timeout_ms);
    o.attempts = attempts;
    auto r = Resolver::create(*dispatcher_, o);
    ASSERT_TRUE(r.ok()) << r.error().message();
    resolver_ = std::move(*r);
  }

  uint64_t now() {
    uv_update_time(&loop_);
    return uv_now(&loop_);
  }

  // Runs the loop until `done()` or `ms` pass; false on timeout.
  bool runUntil(const std::function<bool()>& done, uint64_t ms = 5000) {
    uint64_t deadline = now() + ms;
    while (!done()) {
      if (now() > deadline) return false;
      uv_run(&loop_, UV_RUN_ONCE);
    }
    return true;
  }

  // Asks and waits for the answer; also checks the callback did not run inside query().
  Answer ask(const std::string& name, Type type) {
    std::optional<Answer> got;
    bool returned = false;
    auto handle = resolver_->query(name, type, [&](Answer a) {
      EXPECT_TRUE(returned) << "callback ran inside query()";
      got = std::move(a);
    });
    returned = true;
    EXPECT_FALSE(got.has_value());
    EXPECT_TRUE(runUntil([&] { return got.has_value(); })) << "no answer for " << name;
    return got.value_or(Answer{});
  }

  uv_loop_t loop_;
  uv_timer_t heartbeat_;
  std::unique_ptr<event::Dispatcher> dispatcher_;
  std::vector<std::unique_ptr<FakeDnsServer>> servers_;
  ResolverPtr resolver_;
};

FakeDnsServer::Reply answerA(std::string address, uint32_t ttl = 300) {
  return [=](const Received& r) {
    return std::vector<Packet>{
        respond(r.query, {.answer = {qname(r) + ". " + std::to_string(ttl) + " IN A " + address}})};
  };
}

TEST_F(DnsResolver, FoundOverUdp) {
  auto& s = addServer();
  s.reply = answerA("192.0.2.1");
  makeResolver({s.address()});
  Answer a = ask("Example.ORG.", Type::A);
  EXPECT_EQ(a.status, Answer::Status::Found);
  EXPECT_EQ(a.addresses, std::vector<std::string>{"192.0.2.1"});
  EXPECT_EQ(a.ttl, 300u);
  EXPECT_EQ(a.canonical_name, "example.org");
  ASSERT_EQ(s.udpCount(), 1);
  EXPECT_TRUE(s.received[0].edns);
  EXPECT_TRUE(s.received[0].query.rd);
}

TEST_F(DnsResolver, QueryIdsDiffer) {
  auto& s = addServer();
  s.reply = answerA("192.0.2.1", 0);  // TTL 0: every query goes to the server
  makeResolver({s.address()});
  for (int i = 0; i < 8; ++i) ask("example.org", Type::A);
  ASSERT_EQ(s.received.size(), 8u);
  std::set<uint16_t> ids;
  for (const auto& r : s.received) ids.insert(r.query.id);
  EXPECT_GE(ids.size(), 7u);  // 16 random bits: a repeat among 8 is a 1-in-1000 event
}

TEST_F(DnsResolver, CacheHitIsStillPosted) {
  auto& s = addServer();
  s.reply = answerA("192.0.2.1", 300);
  makeResolver({s.address()});
  ask("example.org", Type::A);
  Answer again = ask("example.org", Type::A);  // ask() checks the callback was not synchronous
  EXPECT_EQ(again.status, Answer::Status::Found);
  EXPECT_LE(again.ttl, 300u);
  EXPECT_EQ(s.udpCount(), 1);
  EXPECT_EQ(resolver_->stats().cache_hits, 1u);
}

TEST_F(DnsResolver, NegativeAnswersAreCached) {
  auto& s = addServer();
  s.reply = [](const Received& r) {
    return std::vector<Packet>{respond(
        r.query,
        {.rcode = wire::NxDomain,
         .authority = {"example.org. 3600 IN SOA ns.example.org. h.example.org. 1 2 3 4 60"}})};
  };
  makeResolver({s.address()});
  Answer a = ask("nope.example.org", Type::MX);
  EXPECT_EQ(a.status, Answer::Status::NxDomain);
  EXPECT_EQ(a.ttl, 60u);
  EXPECT_EQ(ask("nope.example.org", Type::MX).status, Answer::Status::NxDomain);
  EXPECT_EQ(s.udpCount(), 1);
}

TEST_F(DnsResolver, DestroyingTheHandleCancels) {
  auto& s = addServer();
  s.reply = answerA("192.0.2.1");
  makeResolver({s.address()});
  bool called = false;
  auto h = resolver_->query("example.org", Type::A, [&](Answer) { called = true; });
  ASSERT_TRUE(runUntil([&] { return s.udpCount() == 1; }));  // on the wire
  h.reset();
  // The answer still arrives and is cached, but nobody is called.
  runUntil([] { return false; }, 100);
  EXPECT_FALSE(called);
  EXPECT_EQ(ask("example.org", Type::A).status, Answer::Status::Found);
  EXPECT_EQ(resolver_->stats().cache_hits, 1u);
  // A cache hit cancelled before the loop ran.
  auto h2 = resolver_->query("example.org", Type::A, [&](Answer) { called = true; });
  h2.reset();
  runUntil([] { return false; }, 50);
  EXPECT_FALSE(called);
  EXPECT_EQ(s.udpCount(), 1);
}

TEST_F(DnsResolver, HandleMayBeDroppedInsideItsCallback) {
  auto& s = addServer();
  s.reply = answerA("192.0.2.1");
  makeResolver({s.address()});
  QueryHandlePtr h;
  bool called = false;
  h = resolver_->query("example.org", Type::A, [&](Answer a) {
    called = true;
    h.reset();
    EXPECT_EQ(a.status, Answer::Status::Found);
  });
  ASSERT_TRUE(runUntil([&] { return called; }));
}

TEST_F(DnsResolver, IdenticalQueriesShareOneLookup) {
  auto& s = addServer();
  s.reply = answerA("192.0.2.1");
  makeResolver({s.address()});
  int answers = 0;
  auto h1 = resolver_->query("example.org", Type::A, [&](Answer a) { answers += a.found(); });
  auto h2 = resolver_->query("EXAMPLE.org.", Type::A, [&](Answer a) { answers += a.found(); });
  ASSERT_TRUE(runUntil([&] { return answers == 2; }));
  EXPECT_EQ(s.udpCount(), 1);
  EXPECT_EQ(resolver_->stats().coalesced, 1u);
}

TEST_F(DnsResolver, TimeoutMovesToTheNextServer) {
  auto& silent = addServer();
  auto& good = addServer();
  good.reply = answerA("192.0.2.7");
  makeResolver({silent.address(), good.address()}, 100, 2);
  uint64_t t0 = now();
  Answer a = ask("example.org", Type::A);
  EXPECT_EQ(a.status, Answer::Status::Found);
  EXPECT_GE(now() - t0, 90u);
  EXPECT_EQ(silent.udpCount(), 1);
  EXPECT_EQ(good.udpCount(), 1);
  EXPECT_EQ(resolver_->stats().timeouts, 1u);
}

TEST_F(DnsResolver, EveryTryTimesOut) {
  auto& a = addServer();
  auto& b = addServer();
  makeResolver({a.address(), b.address()}, 50, 2);
  Answer ans = ask("example.org", Type::MX);
  EXPECT_EQ(ans.status, Answer::Status::TempFail);
  EXPECT_EQ(ans.ttl, 0u);
  EXPECT_NE(ans.error.find("timeout after 50 ms"), std::string::npos) << ans.error;
  // Round-robin: a, b, a, b.
  EXPECT_EQ(a.udpCount(), 2);
  EXPECT_EQ(b.udpCount(), 2);
  EXPECT_EQ(resolver_->stats().timeouts, 4u);
  // TempFail is not cached.
  ask("example.org", Type::MX);
  EXPECT_EQ(a.udpCount(), 4);
}

TEST_F(DnsResolver, SpoofedIdIsIgnored) {
  auto& s = addServer();
  s.reply = [](const Received& r) {
    wire::Message forged = r.query;
    forged.id = uint16_t(r.query.id + 1);
    return std::vector<Packet>{
        respond(forged, {.answer = {"example.org. 86400 IN A 203.0.113.66"}}),
        respond(r.query, {.answer = {"example.org. 300 IN A 192.0.2.1"}})};
  };
  makeResolver({s.address()});
  Answer a = ask("example.org", Type::A);
  EXPECT_EQ(a.addresses, std::vector<std::string>{"192.0.2.1"});
  EXPECT_EQ(resolver_->stats().rejected, 1u);
}

TEST_F(DnsResolver, MismatchedQuestionOrQueryIsIgnoredUntilTimeout) {
  auto& s = addServer();
  s.reply = [](const Received& r) {
    wire::Message other = r.query;
    other.questions[0].name = "bank.example";
    wire::Message query_bit = r.query;
    auto as_query = respond(query_bit, {.answer = {"example.org. 300 IN A 203.0.113.66"}});
    as_query[2] &= 0x7f;  // clear QR
    return std::vector<Packet>{respond(other, {.answer = {"bank.example. 300 IN A 203.0.113.66"}}),
                               as_query, Packet{1, 2, 3}};
  };
  makeResolver({s.address()}, 100, 1);
  Answer a = ask("example.org", Type::A);
  EXPECT_EQ(a.status, Answer::Status::TempFail);
  EXPECT_EQ(resolver_->stats().rejected, 3u);
  EXPECT_EQ(resolver_->stats().timeouts, 1u);
}

TEST_F(DnsResolver, TruncatedAnswerIsAskedAgainOverTcp) {
  auto& s = addServer();
  std::vector<std::string> txt;
  for (int i = 0; i < 8; ++i)
    txt.push_back("big.example.org. 300 IN TXT \"" + std::string(200, char('a' + i)) + "\"");
  s.reply = [txt](const Received& r) {
    if (!r.tcp) return std::vector<Packet>{respond(r.query, {.tc = true, .keep_question = false})};
    return std::vector<Packet>{respond(r.query, {.answer = txt})};
  };
  makeResolver({s.address()});
  Answer a = ask("big.example.org", Type::TXT);
  ASSERT_EQ(a.status, Answer::Status::Found) << a.error;
  ASSERT_EQ(a.txt.size(), 8u);
  EXPECT_EQ(a.txt[7], std::string(200, 'h'));
  EXPECT_EQ(s.udpCount(), 1);
  EXPECT_EQ(s.tcpCount(), 1);
  EXPECT_NE(s.received[0].query.id, s.received[1].query.id);  // a fresh id for TCP
  EXPECT_EQ(resolver_->stats().tcp_fallbacks, 1u);
}

TEST_F(DnsResolver, TcpFailureMovesToTheNextServer) {
  auto& s1 = addServer();
  auto& s2 = addServer();
  s1.reply = [](const Received& r) {
    if (!r.tcp) return std::vector<Packet>{respond(r.query, {.tc = true})};
    return std::vector<Packet>{};  // closes the connection without an answer
  };
  s2.reply = answerA("192.0.2.2");
  makeResolver({s1.address(), s2.address()});
  Answer a = ask("example.org", Type::A);
  EXPECT_EQ(a.addresses, std::vector<std::string>{"192.0.2.2"});
  EXPECT_EQ(s1.tcpCount(), 1);
  EXPECT_EQ(resolver_->stats().network_errors, 1u);
}

TEST_F(DnsResolver, ServfailAndRefusedTryTheNextServerThenTempFail) {
  auto& s1 = addServer();
  auto& s2 = addServer();
  s1.reply = [](const Received& r) {
    return std::vector<Packet>{respond(r.query, {.rcode = wire::ServFail})};
  };
  s2.reply = [](const Received& r) {
    return std::vector<Packet>{respond(r.query, {.rcode = wire::Refused})};
  };
  makeResolver({s1.address(), s2.address()}, 300, 1);
  Answer a = ask("example.org", Type::A);
  EXPECT_EQ(a.status, Answer::Status::TempFail);
  EXPECT_NE(a.error.find("REFUSED from " + s2.address()), std::string::npos) << a.error;
  EXPECT_EQ(s1.udpCount(), 1);
  EXPECT_EQ(s2.udpCount(), 1);
  s2.reply = answerA("192.0.2.3");
  EXPECT_EQ(ask("example.org", Type::A).addresses, std::vector<std::string>{"192.0.2.3"});
}

TEST_F(DnsResolver, FormerrToEdnsIsAskedAgainWithoutIt) {
  auto& s = addServer();
  s.reply = [](const Received& r) {
    if (r.edns)
      return std::vector<Packet>{
          respond(r.query, {.rcode = wire::FormErr, .keep_question = false})};
    return std::vector<Packet>{respond(r.query, {.answer = {"example.org. 300 IN A 192.0.2.4"}})};
  };
  makeResolver({s.address()}, 300, 1);
  Answer a = ask("example.org", Type::A);
  EXPECT_EQ(a.addresses, std::vector<std::string>{"192.0.2.4"});
  ASSERT_EQ(s.udpCount(), 2);
  EXPECT_TRUE(s.received[0].edns);
  EXPECT_FALSE(s.received[1].edns);
}

TEST_F(DnsResolver, ClosedPortFailsFastThroughIcmp) {
  // A port nobody listens on: the connected socket gets ECONNREFUSED, no need to wait.
  std::string closed;
  {
    FakeDnsServer tmp(&loop_);
    closed = tmp.address();
  }
  runUntil([] { return false; }, 20);
  auto& good = addServer();
  good.reply = answerA("192.0.2.5");
  makeResolver({closed, good.address()}, 2000, 1);
  uint64_t t0 = now();
  Answer a = ask("example.org", Type::A);
  EXPECT_EQ(a.addresses, std::vector<std::string>{"192.0.2.5"});
  EXPECT_LT(now() - t0, 1000u);
  EXPECT_EQ(resolver_->stats().network_errors, 1u);
  EXPECT_EQ(resolver_->stats().timeouts, 0u);
}

TEST_F(DnsResolver, CnameIsChasedWithASecondQuery) {
  auto& s = addServer();
  s.reply = [](const Received& r) {
    if (qname(r) == "www.example.org") {
      return std::vector<Packet>{
          respond(r.query, {.answer = {"www.example.org. 120 IN CNAME mail.example.net."}})};
    }
    return std::vector<Packet>{
        respond(r.query, {.answer = {"mail.example.net. 600 IN MX 10 mx.example.net."}})};
  };
  makeResolver({s.address()});
  Answer a = ask("www.example.org", Type::MX);
  ASSERT_EQ(a.status, Answer::Status::Found);
  EXPECT_EQ(a.mx, (std::vector<MxRecord>{{10, "mx.example.net"}}));
  EXPECT_EQ(a.canonical_name, "mail.example.net");
  EXPECT_EQ(a.ttl, 120u);
  EXPECT_EQ(s.udpCount(), 2);
  // Both the alias and the target are cached now.
  ask("www.example.org", Type::MX);
  ask("mail.example.net", Type::MX);
  EXPECT_EQ(s.udpCount(), 2);
}

TEST_F(DnsResolver, CnameLoopAcrossQueries) {
  auto& s = addServer();
  s.reply = [](const Received& r) {
    std::string target = qname(r) == "a.example.org" ? "b.example.org." : "a.example.org.";
    return std::vector<Packet>{
        respond(r.query, {.answer = {qname(r) + ". 60 IN CNAME " + target}})};
  };
  makeResolver({s.address()});
  Answer a = ask("a.example.org", Type::A);
  EXPECT_EQ(a.status, Answer::Status::TempFail);
  EXPECT_EQ(a.error, "CNAME loop at a.example.org");
}

TEST_F(DnsResolver, CnameChainLimitAcrossQueries) {
  auto& s = addServer();
  s.reply = [](const Received& r) {
    std::string n = qname(r);  // cN.example.org -> cN+1.example.org
    int i = std::stoi(n.substr(1, n.find('.') - 1));
    return std::vector<Packet>{respond(
        r.query, {.answer = {n + ". 60 IN CNAME c" + std::to_string(i + 1) + ".example.org."}})};
  };
  makeResolver({s.address()});
  Answer a = ask("c0.example.org", Type::A);
  EXPECT_EQ(a.status, Answer::Status::TempFail);
  EXPECT_NE(a.error.find("longer than 8"), std::string::npos) << a.error;
  EXPECT_EQ(s.udpCount(), 9);
}

TEST_F(DnsResolver, MalformedNameIsNxDomainWithoutAQuery) {
  auto& s = addServer();
  makeResolver({s.address()});
  Answer a = ask("bad..example", Type::A);
  EXPECT_EQ(a.status, Answer::Status::NxDomain);
  EXPECT_EQ(a.error, "empty label in domain name bad..example");
  EXPECT_EQ(s.received.size(), 0u);
}

TEST_F(DnsResolver, DestroyingTheResolverMidQueryDropsTheCallback) {
  auto& s = addServer();  // silent
  makeResolver({s.address()}, 1000, 1);
  bool called = false;
  auto h = resolver_->query("example.org", Type::A, [&](Answer) { called = true; });
  ASSERT_TRUE(runUntil([&] { return s.udpCount() == 1; }));
  resolver_.reset();
  runUntil([] { return false; }, 50);
  EXPECT_FALSE(called);
  h.reset();  // the handle outlived the resolver
  // TearDown's uv_loop_close checks that every socket and timer was closed.
}

TEST_F(DnsResolver, CreateRejectsBadServers) {
  ResolverOptions o;
  o.servers = {"127.0.0.1:53", "not-an-address"};
  auto r = Resolver::create(*dispatcher_, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), Error::Kind::Config);
  o.servers = {"127.0.0.1"};
  o.attempts = 0;
  EXPECT_FALSE(Resolver::create(*dispatcher_, o).ok());
}

}  // namespace
}  // namespace petrel::dns
