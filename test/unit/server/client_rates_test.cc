// Tests for server::ClientRates (source/server/client_rates.cc): anvil's fixed per-client
// windows, counting per event kind, the bound on tracked clients, and sharing across threads.
// Time comes from a fake clock.
#include "petrel/server/client_rates.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace petrel::server {
namespace {

constexpr int64_t Minute = 60000;

struct FakeClock {
  int64_t now = 1000000;
  ClientRates::Clock clock() {
    return [this] { return now; };
  }
};

TEST(ClientRates, CountsEventsOfOneClientWithinTheTimeUnit) {
  FakeClock t;
  ClientRates rates(t.clock());
  EXPECT_EQ(rates.record("192.0.2.1", RateEvent::Connection, Minute), 1u);
  EXPECT_EQ(rates.record("192.0.2.1", RateEvent::Connection, Minute), 2u);
  t.now += Minute - 1;
  EXPECT_EQ(rates.record("192.0.2.1", RateEvent::Connection, Minute), 3u);
  EXPECT_EQ(rates.count("192.0.2.1", RateEvent::Connection, Minute), 3u);
}

TEST(ClientRates, WindowStartsAtTheFirstEventAndResetsAfterOneTimeUnit) {
  FakeClock t;
  ClientRates rates(t.clock());
  rates.record("192.0.2.1", RateEvent::Message, Minute);
  rates.record("192.0.2.1", RateEvent::Message, Minute);
  t.now += Minute;  // a whole time unit since the window began
  EXPECT_EQ(rates.count("192.0.2.1", RateEvent::Message, Minute), 0u);
  EXPECT_EQ(rates.record("192.0.2.1", RateEvent::Message, Minute), 1u);
  t.now += 30000;
  EXPECT_EQ(rates.record("192.0.2.1", RateEvent::Message, Minute), 2u);
}

TEST(ClientRates, KindsAndClientsAreCountedApart) {
  FakeClock t;
  ClientRates rates(t.clock());
  rates.record("192.0.2.1", RateEvent::Recipient, Minute);
  rates.record("192.0.2.1", RateEvent::Recipient, Minute);
  EXPECT_EQ(rates.record("192.0.2.1", RateEvent::Auth, Minute), 1u);
  EXPECT_EQ(rates.record("192.0.2.2", RateEvent::Recipient, Minute), 1u);
  EXPECT_EQ(rates.count("192.0.2.1", RateEvent::NewTls, Minute), 0u);
  EXPECT_EQ(rates.count("2001:db8::1", RateEvent::Recipient, Minute), 0u);
}

TEST(ClientRates, CountDoesNotAddAnEvent) {
  FakeClock t;
  ClientRates rates(t.clock());
  EXPECT_EQ(rates.count("192.0.2.1", RateEvent::NewTls, Minute), 0u);
  EXPECT_EQ(rates.trackedForTest(), 0u);  // asking creates no entry
  rates.record("192.0.2.1", RateEvent::NewTls, Minute);
  EXPECT_EQ(rates.count("192.0.2.1", RateEvent::NewTls, Minute), 1u);
  EXPECT_EQ(rates.count("192.0.2.1", RateEvent::NewTls, Minute), 1u);
}

TEST(ClientRates, ForgetsTheLeastRecentlySeenClientBeyondItsBound) {
  FakeClock t;
  ClientRates rates(t.clock(), 3);
  rates.record("192.0.2.1", RateEvent::Connection, Minute);
  rates.record("192.0.2.2", RateEvent::Connection, Minute);
  rates.record("192.0.2.3", RateEvent::Connection, Minute);
  rates.record("192.0.2.1", RateEvent::Connection, Minute);  // .1 is recent again; .2 is oldest
  rates.record("192.0.2.4", RateEvent::Connection, Minute);
  EXPECT_EQ(rates.trackedForTest(), 3u);
  EXPECT_EQ(rates.count("192.0.2.2", RateEvent::Connection, Minute), 0u);
  EXPECT_EQ(rates.count("192.0.2.1", RateEvent::Connection, Minute), 2u);
  EXPECT_EQ(rates.count("192.0.2.3", RateEvent::Connection, Minute), 1u);
}

TEST(ClientRates, MemoryStaysBoundedUnderASprayOfAddresses) {
  FakeClock t;
  ClientRates rates(t.clock(), 1000);
  for (int i = 0; i < 20000; ++i) {
    rates.record("10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
                     std::to_string(i % 256),
                 RateEvent::Connection, Minute);
  }
  EXPECT_EQ(rates.trackedForTest(), 1000u);
}

// Workers are threads: every event of every thread is counted once.
TEST(ClientRates, EventsFromSeveralThreadsAddUp) {
  FakeClock t;
  ClientRates rates(t.clock());
  constexpr int Threads = 4, PerThread = 5000;
  std::vector<std::thread> threads;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < Threads; ++i) {
    threads.emplace_back([&rates, i] {
      for (int k = 0; k < PerThread; ++k) {
        rates.record(k % 2 ? "192.0.2.1" : "192.0.2." + std::to_string(10 + i),
                     RateEvent::Recipient, Minute);
      }
    });
  }
  for (auto& th : threads) th.join();
  auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  // The cost the header quotes; printed, not asserted (shared CI machines vary).
  std::printf("ClientRates: %.0f ns per event with %d threads\n",
              double(ns) / (Threads * PerThread), Threads);
  EXPECT_EQ(rates.count("192.0.2.1", RateEvent::Recipient, Minute),
            uint32_t(Threads * PerThread / 2));
  for (int i = 0; i < Threads; ++i) {
    EXPECT_EQ(rates.count("192.0.2." + std::to_string(10 + i), RateEvent::Recipient, Minute),
              uint32_t(PerThread / 2));
  }
}

}  // namespace
}  // namespace petrel::server
