// Cross-thread posting (uv_async) and thread-pool offload (uv_queue_work).
#include "petrel/event/dispatcher.h"

namespace petrel::event {

Dispatcher::Dispatcher(uv_loop_t* loop) : loop_(loop), async_(new uv_async_t) {
  uv_async_init(loop_, async_, &Dispatcher::onAsync);
  async_->data = this;
}

Dispatcher::~Dispatcher() = default;

void Dispatcher::close() {
  if (async_ == nullptr) return;
  async_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(async_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
  async_ = nullptr;
}

void Dispatcher::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(fn));
  }
  // uv_async_send coalesces; onAsync drains everything queued so far.
  if (async_ != nullptr) uv_async_send(async_);
}

void Dispatcher::onAsync(uv_async_t* handle) {
  auto* self = static_cast<Dispatcher*>(handle->data);
  if (self == nullptr) return;
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(self->mutex_);
    batch.swap(self->queue_);
  }
  for (auto& fn : batch) fn();
}

namespace {
struct OffloadRequest {
  uv_work_t req;
  std::function<void()> work;
  std::function<void()> done;
};
}  // namespace

void Dispatcher::offload(std::function<void()> work, std::function<void()> done) {
  auto* r = new OffloadRequest{{}, std::move(work), std::move(done)};
  r->req.data = r;
  uv_queue_work(
      loop_, &r->req, [](uv_work_t* w) { static_cast<OffloadRequest*>(w->data)->work(); },
      [](uv_work_t* w, int) {
        auto* r = static_cast<OffloadRequest*>(w->data);
        if (r->done) r->done();
        delete r;
      });
}

}  // namespace petrel::event
