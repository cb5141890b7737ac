// PolicyClient on a real loop against a policy service on a unix socket in a temporary
// directory (a thread of its own, like worker_test's UdpResponder): connection reuse,
// request_limit, try_limit on a service that closes, the timeout on one that never answers,
// replies too long or without an action, max_idle, and that `done` never runs inside
// request(). Waits are loop runs with a deadline; the only timers are the client's own.
#include "petrel/server/policy_client.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace petrel::server {
namespace {

enum class Mode { Answer, Close, Hang, Huge, NoAction };

// One client at a time (the tests ask one request at a time).
class FakeService {
 public:
  explicit FakeService(Mode mode) : mode_(mode) {
    dir_ = std::filesystem::temp_directory_path() /
           ("petrel-policy-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "policy.sock").string();
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeService() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }
  int accepted() const { return accepted_; }
  int requests() const { return requests_; }

 private:
  void serve() {
    std::vector<int> open;
    std::vector<std::thread> talkers;
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++accepted_;
      if (mode_ == Mode::Close) {
        ::close(c);
        continue;
      }
      open.push_back(c);
      talkers.emplace_back([this, c] { talk(c); });
    }
    for (std::thread& t : talkers) t.join();  // each sees stop_ within a poll interval
    for (int c : open) ::close(c);
  }
  void talk(int c) {
    std::string in;
    char buf[4096];
    while (!stop_) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
      size_t end;
      while ((end = in.find("\n\n")) != std::string::npos) {
        in.erase(0, end + 2);
        ++requests_;
        std::string reply = mode_ == Mode::Answer     ? "action=DUNNO\n\n"
                            : mode_ == Mode::NoAction ? "result=maybe\n\n"
                            : mode_ == Mode::Huge     ? "action=" + std::string(20000, 'x')
                                                      : "";
        if (!reply.empty() && ::write(c, reply.data(), reply.size()) < 0) return;
      }
    }
  }

  static inline std::atomic<int> counter_{0};
  Mode mode_;
  std::filesystem::path dir_;
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

class PolicyClientTest : public ::testing::Test {
 protected:
  PolicyClientTest() {
    ::signal(SIGPIPE, SIG_IGN);  // as the server does: a closed peer fails the write
    uv_loop_init(&loop_);
  }
  ~PolicyClientTest() override {
    client_.close();
    uv_run(&loop_, UV_RUN_NOWAIT);  // the close callbacks
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }

  // One request; runs the loop until it is answered (fails after `deadline_ms`).
  Result<std::string> ask(const std::string& path, const policy::PolicyServiceSettings& s,
                          int deadline_ms = 3000) {
    policy::ServiceEndpoint ep{policy::ServiceEndpoint::Kind::Unix, "", 0, path};
    std::optional<Result<std::string>> answer;
    bool inside = true;
    client_.request(ep, s, "request=smtpd_access_policy\n\n", [&](Result<std::string> r) {
      EXPECT_FALSE(inside) << "done ran inside request()";
      answer = std::move(r);
    });
    inside = false;
    runUntil([&] { return answer.has_value(); }, deadline_ms);
    if (!answer) return Error::temporary("test: no answer");
    return std::move(*answer);
  }

  template <typename Pred>
  void runUntil(Pred done, int deadline_ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms);
    uv_timer_t tick;  // keeps uv_run(ONCE) from blocking for longer than a tick
    uv_timer_init(&loop_, &tick);
    uv_timer_start(
        &tick, [](uv_timer_t*) {}, 5, 5);
    while (!done() && std::chrono::steady_clock::now() < until) uv_run(&loop_, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
  }

  static policy::PolicyServiceSettings fast() {
    policy::PolicyServiceSettings s;
    s.timeout_ms = 1000;
    s.retry_delay_ms = 0;
    return s;
  }

  uv_loop_t loop_;
  PolicyClient client_{&loop_};
};

TEST_F(PolicyClientTest, ReusesOneConnectionForRequestsInTurn) {
  FakeService service(Mode::Answer);
  for (int i = 0; i < 3; ++i) {
    auto r = ask(service.path(), fast());
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(*r, "action=DUNNO\n\n");
  }
  EXPECT_EQ(service.accepted(), 1);
  EXPECT_EQ(service.requests(), 3);
  EXPECT_EQ(client_.connectionsForTest(), 1u);
}

TEST_F(PolicyClientTest, RequestLimitOpensAFreshConnection) {
  FakeService service(Mode::Answer);
  policy::PolicyServiceSettings s = fast();
  s.request_limit = 2;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ask(service.path(), s).ok());
  EXPECT_EQ(service.accepted(), 2);
}

TEST_F(PolicyClientTest, MaxTtlOfZeroAgeStillServesOneRequest) {
  FakeService service(Mode::Answer);
  policy::PolicyServiceSettings s = fast();
  s.max_ttl_ms = 0;  // every connection is too old for a second request
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(ask(service.path(), s).ok());
  EXPECT_EQ(service.accepted(), 2);
}

TEST_F(PolicyClientTest, AServiceThatClosesFailsAfterTryLimitConnections) {
  FakeService service(Mode::Close);
  auto r = ask(service.path(), fast());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().temporary());
  // EOF or a reset, depending on whether the write or the read notices first.
  EXPECT_NE(r.error().message().find("policy server unix:" + service.path() + ": "),
            std::string::npos)
      << r.error().message();
  EXPECT_EQ(service.accepted(), 2);
  EXPECT_EQ(client_.connectionsForTest(), 0u);
}

TEST_F(PolicyClientTest, AServiceThatNeverAnswersTimesOut) {
  FakeService service(Mode::Hang);
  policy::PolicyServiceSettings s = fast();
  s.timeout_ms = 50;
  s.try_limit = 1;
  auto started = std::chrono::steady_clock::now();
  auto r = ask(service.path(), s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("timeout after 50ms"), std::string::npos)
      << r.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1000));
  EXPECT_EQ(service.requests(), 1);
}

TEST_F(PolicyClientTest, ATooLongReplyFails) {
  FakeService service(Mode::Huge);
  policy::PolicyServiceSettings s = fast();
  s.try_limit = 1;
  auto r = ask(service.path(), s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("reply longer than 8192 bytes"), std::string::npos)
      << r.error().message();
}

TEST_F(PolicyClientTest, AReplyWithoutActionFailsWithoutRetry) {
  FakeService service(Mode::NoAction);
  auto r = ask(service.path(), fast());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("without action"), std::string::npos) << r.error().message();
  EXPECT_EQ(service.requests(), 1);
}

TEST_F(PolicyClientTest, NoServiceThereFailsOnTheLoop) {
  auto r = ask("/nonexistent/petrel-policy.sock", fast());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("unix:/nonexistent/petrel-policy.sock"), std::string::npos);
}

TEST_F(PolicyClientTest, AnIdleConnectionClosesAfterMaxIdle) {
  FakeService service(Mode::Answer);
  policy::PolicyServiceSettings s = fast();
  s.max_idle_ms = 30;
  ASSERT_TRUE(ask(service.path(), s).ok());
  EXPECT_EQ(client_.connectionsForTest(), 1u);
  runUntil([&] { return client_.connectionsForTest() == 0; }, 2000);
  EXPECT_EQ(client_.connectionsForTest(), 0u);
  ASSERT_TRUE(ask(service.path(), s).ok());
  EXPECT_EQ(service.accepted(), 2);
}

}  // namespace
}  // namespace petrel::server
