// Worker's resolver on real worker threads: each worker has its own, working on
// its own loop with its own cache; replaceResolver (reload) takes over on the
// loop; stop() leaves none of its sockets or timers open. The DNS servers are
// UdpResponders, plain UDP sockets on 127.0.0.1 served by a thread each: with
// the resolver_test the only dns sockets in the unit tests, since only a real
// loop on a real thread shows where the answers run. No sleeps: each wait is on
// a future with a deadline.
#include "petrel/server/worker.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../../../source/dns/wire.h"
#include "petrel/server/runtime.h"

namespace petrel::server {
namespace {

using namespace std::chrono_literals;

// Answers "NAME A" queries with one A record of `address`, except names
// starting with "silent.", which it only counts. Runs on a thread of its own.
class UdpResponder {
 public:
  explicit UdpResponder(std::string address) : address_(std::move(address)) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
      ADD_FAILURE() << "UdpResponder: cannot bind 127.0.0.1: " << std::strerror(errno);
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~UdpResponder() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }

  std::string server() const { return fmt::format("127.0.0.1:{}", port_); }
  int count(const std::string &name) {
    std::lock_guard lock(mutex_);
    return asked_[name];
  }
  // Resolves once `name` has been asked (the resolver's socket is open by
  // then).
  std::future<void> asked(const std::string &name) {
    std::lock_guard lock(mutex_);
    waiters_.emplace(name, std::promise<void>());
    return waiters_.find(name)->second.get_future();
  }

 private:
  void serve() {
    std::vector<uint8_t> buf(65536);
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;  // the timeout only lets the destructor stop us
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      ssize_t n = ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr *>(&from),
                             &from_len);
      if (n <= 0) continue;
      auto query = dns::wire::parseMessage(buf.data(), size_t(n));
      if (!query || query->questions.empty()) continue;
      const std::string name = query->questions.front().name;
      {
        std::lock_guard lock(mutex_);
        ++asked_[name];
        auto [first, last] = waiters_.equal_range(name);
        for (auto it = first; it != last; ++it) it->second.set_value();
        waiters_.erase(first, last);
      }
      if (name.starts_with("silent.")) continue;
      dns::wire::ResponseSpec spec;
      spec.answer = {fmt::format("{}. 300 IN A {}", name, address_)};
      auto response = dns::wire::makeResponseForTest(*query, spec);
      if (!response) continue;
      ::sendto(fd_, response->data(), response->size(), 0, reinterpret_cast<sockaddr *>(&from),
               from_len);
    }
  }

  std::string address_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::map<std::string, int> asked_;
  std::multimap<std::string, std::promise<void>> waiters_;
  std::thread thread_;
};

// Runs `fn` on the worker's loop and waits for it.
template <typename Fn>
auto onLoop(Worker &w, Fn fn) {
  using R = decltype(fn());
  auto done = std::make_shared<std::promise<R>>();
  auto result = done->get_future();
  w.dispatcher().post([done, fn = std::move(fn)]() mutable {
    if constexpr (std::is_void_v<R>) {
      fn();
      done->set_value();
    } else {
      done->set_value(fn());
    }
  });
  EXPECT_EQ(result.wait_for(10s), std::future_status::ready) << "the worker loop did not run";
  return result.get();
}

struct Asked {
  dns::Answer answer;
  std::thread::id thread;  // where the callback ran
};

// Asks the worker's resolver, on its loop, and waits for the answer.
Asked ask(Worker &w, const std::string &name) {
  auto done = std::make_shared<std::promise<Asked>>();
  auto result = done->get_future();
  auto handle = std::make_shared<dns::QueryHandlePtr>();
  w.dispatcher().post([&w, name, done, handle] {
    *handle = w.resolver().query(name, dns::Type::A, [done, handle](dns::Answer a) {
      done->set_value(Asked{std::move(a), std::this_thread::get_id()});
      handle->reset();  // on the loop's thread, as resolver.h wants
    });
  });
  EXPECT_EQ(result.wait_for(10s), std::future_status::ready) << "no answer for " << name;
  return result.get();
}

config::Config configWith(const std::vector<std::string> &servers) {
  config::Config cfg;
  cfg.dns.servers = servers;  // no listeners: the worker only runs its loop
  return cfg;
}

TEST(Worker, EachWorkerHasItsOwnResolverOnItsLoop) {
  UdpResponder dns("192.0.2.1");
  Runtime rt;
  Worker one(rt), two(rt);
  ASSERT_TRUE(one.start(configWith({dns.server()})));
  ASSERT_TRUE(two.start(configWith({dns.server()})));
  auto loop_one = onLoop(one, [] { return std::this_thread::get_id(); });
  auto loop_two = onLoop(two, [] { return std::this_thread::get_id(); });
  ASSERT_NE(loop_one, loop_two);

  Asked a1 = ask(one, "a.example");
  EXPECT_EQ(a1.answer.status, dns::Answer::Status::Found) << a1.answer.error;
  ASSERT_EQ(a1.answer.addresses, std::vector<std::string>{"192.0.2.1"});
  EXPECT_EQ(a1.thread, loop_one) << "answered off the worker's loop";
  Asked a2 = ask(two, "a.example");
  EXPECT_EQ(a2.answer.status, dns::Answer::Status::Found) << a2.answer.error;
  EXPECT_EQ(a2.thread, loop_two);
  Asked again = ask(one, "a.example");
  EXPECT_EQ(again.answer.status, dns::Answer::Status::Found);

  // Two caches: each worker asked the server once, the second question of `one`
  // was a hit.
  EXPECT_EQ(dns.count("a.example"), 2);
  auto stats = onLoop(one, [&] { return one.resolver().stats(); });
  EXPECT_EQ(stats.queries, 2u);
  EXPECT_EQ(stats.cache_hits, 1u);
  auto *r1 = onLoop(one, [&] { return &one.resolver(); });
  auto *r2 = onLoop(two, [&] { return &two.resolver(); });
  EXPECT_NE(r1, r2);
  one.stop();
  two.stop();
}

TEST(Worker, ReplacedResolverTakesOverOnTheLoop) {
  UdpResponder before("192.0.2.1"), after("192.0.2.2");
  Runtime rt;
  Worker w(rt);
  ASSERT_TRUE(w.start(configWith({before.server()})));
  dns::Resolver *stable = onLoop(w, [&] { return &w.resolver(); });
  EXPECT_EQ(ask(w, "b.example").answer.addresses, std::vector<std::string>{"192.0.2.1"});

  auto next = dns::Resolver::create(w.dispatcher(), std::vector<std::string>{after.server()});
  ASSERT_TRUE(next);
  w.replaceResolver(std::move(next.value()));
  EXPECT_EQ(ask(w, "c.example").answer.addresses, std::vector<std::string>{"192.0.2.2"});
  // The old cache went with the old resolver: b.example is asked again, of the
  // new server.
  EXPECT_EQ(ask(w, "b.example").answer.addresses, std::vector<std::string>{"192.0.2.2"});
  EXPECT_EQ(after.count("c.example"), 1);
  EXPECT_EQ(before.count("c.example"), 0);
  EXPECT_EQ(onLoop(w, [&] { return w.resolver().servers(); }),
            std::vector<std::string>{after.server()});
  EXPECT_EQ(onLoop(w, [&] { return &w.resolver(); }), stable) << "the reference must not change";
  w.stop();
}

TEST(Worker, StopClosesTheResolverSockets) {
  UdpResponder dns("192.0.2.1");
  Runtime rt;
  Worker w(rt);
  ASSERT_TRUE(w.start(configWith({dns.server()})));
  // A lookup whose session is gone while the query is still on the wire:
  // cancelled, but the resolver keeps its socket and timer open until the try
  // times out (2 s).
  auto on_wire = dns.asked("silent.example");
  auto handle = std::make_shared<dns::QueryHandlePtr>();
  onLoop(w, [&] {
    *handle = w.resolver().query("silent.example", dns::Type::A, [](dns::Answer) {
      ADD_FAILURE() << "a cancelled query called back";
    });
  });
  ASSERT_EQ(on_wire.wait_for(10s), std::future_status::ready)
      << "the query never reached the server";
  onLoop(w, [&] { handle->reset(); });
  w.stop();

  // The thread is joined: nothing else touches the loop now.
  std::vector<uv_handle_type> open;
  uv_walk(
      w.loop(),
      [](uv_handle_t *h, void *arg) {
        if (!uv_is_closing(h)) static_cast<std::vector<uv_handle_type> *>(arg)->push_back(h->type);
      },
      &open);
  // Only the dispatcher's async handle, which outlives the loop's thread by
  // design.
  EXPECT_EQ(open, std::vector<uv_handle_type>{UV_ASYNC});
}

TEST(Worker, BadDnsServerFailsTheStart) {
  Runtime rt;
  Worker w(rt);
  auto st = w.start(configWith({"dns.example.test"}));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message(), "dns: bad DNS server 'dns.example.test': not an IP address");
}

}  // namespace
}  // namespace petrel::server
