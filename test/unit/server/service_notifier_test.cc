// ServiceNotifier speaks sd_notify to a datagram socket the test owns, as systemd would listen:
// READY=1 with a status, RELOADING=1 then READY=1 when the reload's token is gone, STOPPING=1,
// WATCHDOG=1 from the loop when WATCHDOG_USEC asks for it; nothing at all without NOTIFY_SOCKET.
#include "petrel/server/service_notifier.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace petrel::server {
namespace {

class ServiceNotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/petrel-notify-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/notify.sock";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    uv_loop_init(&loop_);
  }
  void TearDown() override {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    uv_run(&loop_, UV_RUN_DEFAULT);  // the closed timer's callback
    uv_loop_close(&loop_);
    ::close(fd_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  // The next datagram, or "" when none came within two seconds.
  std::string next() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) return "";
    char buf[512];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  bool nothingPending() {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }

  std::string dir_, path_;
  int fd_ = -1;
  uv_loop_t loop_{};
};

TEST_F(ServiceNotifierTest, ReadyReloadingStopping) {
  ServiceNotifier n(&loop_);
  EXPECT_TRUE(n.active());
  EXPECT_EQ(n.watchdogIntervalUsec(), 0u);
  n.ready("2 workers,\nlistening on 127.0.0.1:25");
  EXPECT_EQ(next(), "READY=1\nSTATUS=2 workers, listening on 127.0.0.1:25");
  {
    auto token = n.reloading();
    std::string r = next();
    EXPECT_TRUE(r.starts_with("RELOADING=1\nMONOTONIC_USEC=")) << r;
    EXPECT_NE(r.find("\nSTATUS=reloading the configuration"), std::string::npos) << r;
    auto copy = token;  // a reload that goes on on the pool holds a copy
    token.reset();
    EXPECT_TRUE(nothingPending());
  }
  EXPECT_EQ(next(), "READY=1\nSTATUS=running");
  n.stopping("draining sessions");
  EXPECT_EQ(next(), "STOPPING=1\nSTATUS=draining sessions");
}

TEST_F(ServiceNotifierTest, WatchdogPingsFromTheLoop) {
  ::setenv("WATCHDOG_USEC", "40000", 1);  // 40 ms: a ping every 20 ms
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  ServiceNotifier n(&loop_);
  EXPECT_EQ(n.watchdogIntervalUsec(), 40000u);
  n.ready("up");
  EXPECT_EQ(next(), "READY=1\nSTATUS=up");
  // The timer is unreferenced (it never keeps the loop alive): turn the loop until it pinged.
  uv_timer_t keep{};
  uv_timer_init(&loop_, &keep);
  uv_timer_start(&keep, [](uv_timer_t* t) { uv_stop(t->loop); }, 100, 0);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(&keep), nullptr);
  uv_run(&loop_, UV_RUN_NOWAIT);  // keep's close, before it goes out of scope
  EXPECT_EQ(next(), "WATCHDOG=1");
  n.close();
}

TEST_F(ServiceNotifierTest, AnotherProcessesWatchdogIsNotOurs) {
  ::setenv("WATCHDOG_USEC", "40000", 1);
  ::setenv("WATCHDOG_PID", "1", 1);
  ServiceNotifier n(&loop_);
  EXPECT_EQ(n.watchdogIntervalUsec(), 0u);
}

TEST_F(ServiceNotifierTest, WithoutNotifySocketNothingIsSent) {
  ::unsetenv("NOTIFY_SOCKET");
  ServiceNotifier n(&loop_);
  EXPECT_FALSE(n.active());
  n.ready("up");
  EXPECT_EQ(n.reloading(), nullptr);
  n.stopping("down");
  EXPECT_TRUE(nothingPending());
}

}  // namespace
}  // namespace petrel::server
