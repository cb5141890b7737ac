// Dispatcher: the one way to get work onto a libuv loop from another thread, and off a loop
// onto the thread pool.
//
// post() may be called from any thread; the function runs on the dispatcher's loop, in order.
// offload() runs `work` on the libuv thread pool and `done` back on this loop.
// Callbacks never run inside the call that started them.
#pragma once

#include <uv.h>

#include <functional>
#include <mutex>
#include <vector>

namespace petrel::event {

class Dispatcher {
 public:
  explicit Dispatcher(uv_loop_t* loop);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  uv_loop_t* loop() const { return loop_; }
  void post(std::function<void()> fn);
  void offload(std::function<void()> work, std::function<void()> done);
  // Closes the async handle; call on the loop thread before the loop's last run.
  void close();

 private:
  static void onAsync(uv_async_t* handle);
  uv_loop_t* loop_;
  uv_async_t* async_;
  std::mutex mutex_;
  std::vector<std::function<void()>> queue_;
};

}  // namespace petrel::event
