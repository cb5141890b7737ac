// Tests for lookup/idle_pool.h: the idle connections of the remote tables.
#include "../../../source/lookup/idle_pool.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

namespace petrel::lookup {
namespace {

// A connection that counts how many of its kind were closed.
struct Close {
  int* closed;
  void operator()(int* id) const {
    ++*closed;
    delete id;
  }
};
using Conn = std::unique_ptr<int, Close>;

TEST(IdlePool, GivesBackWhatWasGivenLastFirstAndClosesTheSurplus) {
  int closed = 0;
  IdlePool<Conn> pool(2);
  EXPECT_EQ(pool.take(), nullptr);
  for (int id : {1, 2, 3}) pool.giveBack(Conn(new int(id), Close{&closed}));
  EXPECT_EQ(closed, 1);  // the third: two were already idle
  Conn c = pool.take();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(*c, 2);
  EXPECT_EQ(*pool.take(), 1);  // closed right away (a temporary)
  EXPECT_EQ(closed, 2);
  EXPECT_EQ(pool.take(), nullptr);
}

TEST(IdlePool, ClearClosesEveryIdleOneButNotThoseInUse) {
  int closed = 0;
  IdlePool<Conn> pool(8);
  Conn in_use(new int(0), Close{&closed});
  for (int id : {1, 2, 3}) pool.giveBack(Conn(new int(id), Close{&closed}));
  pool.clear();
  EXPECT_EQ(closed, 3);
  EXPECT_EQ(pool.take(), nullptr);
  pool.giveBack(std::move(in_use));
  EXPECT_EQ(*pool.take(), 0);
}

TEST(IdlePool, ThreadsTakeAndGiveWithoutLosingOne) {
  IdlePool<std::unique_ptr<int>> pool(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, t] {
      for (int i = 0; i < 1000; ++i) {
        auto c = pool.take();
        if (!c) c = std::make_unique<int>(t);
        pool.giveBack(std::move(c));
      }
    });
  }
  for (auto& th : threads) th.join();
  int idle = 0;
  while (pool.take()) ++idle;
  EXPECT_GE(idle, 1);
  EXPECT_LE(idle, 4);
}

}  // namespace
}  // namespace petrel::lookup
