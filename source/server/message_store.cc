// Body storage for incoming messages; see message_store.h.
#include "petrel/server/message_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace petrel::server {

namespace {

std::string writeAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::strerror(errno);
    }
    off += size_t(n);
  }
  return {};
}

std::string dirOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

MessageStore::MessageStore(event::Dispatcher& dispatcher, std::string spool_path)
    : dispatcher_(&dispatcher), spool_path_(std::move(spool_path)) {}

MessageStore::~MessageStore() {
  // Only reached with no work in flight (completions hold a reference).
  if (fd_ >= 0) ::close(fd_);
}

void MessageStore::append(std::string_view content) {
  if (aborted_) return;
  buffer_.append(content);
  size_ += content.size();
  if (!spooled_ && buffer_.size() > InlineLimit) spooled_ = true;
  if (spooled_ && buffer_.size() >= WriteChunk) writeMore();
}

void MessageStore::writeMore() {
  if (writing_ || buffer_.empty() || !error_.empty()) return;
  writing_ = true;
  auto chunk = std::make_shared<std::string>(std::move(buffer_));
  buffer_.clear();
  auto self = shared_from_this();
  auto err = std::make_shared<std::string>();
  bool open_first = fd_ < 0;
  auto fd = std::make_shared<int>(fd_);
  dispatcher_->offload(
      [chunk, err, fd, open_first, path = spool_path_] {
        if (open_first) {
          *fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
          if (*fd < 0) {
            *err = fmt::format("cannot create spool file {}: {}", path, std::strerror(errno));
            return;
          }
        }
        *err = writeAll(*fd, *chunk);
      },
      [self, err, fd] {
        self->writing_ = false;
        self->fd_ = *fd;
        if (!err->empty() && self->error_.empty()) self->error_ = *err;
        if (self->aborted_) {
          self->cleanup();
          return;
        }
        if (self->finish_done_) {
          self->finishNow();
          return;
        }
        if (self->buffer_.size() >= WriteChunk) self->writeMore();
        if (self->buffer_.size() < 2 * WriteChunk && self->on_drained_) self->on_drained_();
      });
}

void MessageStore::finish(std::function<void(Status)> done) {
  finish_done_ = std::move(done);
  if (!spooled_) {
    auto cb = std::move(finish_done_);
    finish_done_ = nullptr;
    dispatcher_->post([cb = std::move(cb)] { cb(okStatus()); });
    return;
  }
  if (!writing_) finishNow();
}

// Writes what is left, then fdatasync(file) and fsync(directory): the file and its name
// are durable before the queue row that points to it is committed.
void MessageStore::finishNow() {
  auto self = shared_from_this();
  auto chunk = std::make_shared<std::string>(std::move(buffer_));
  buffer_.clear();
  auto err = std::make_shared<std::string>(error_);
  auto fd = std::make_shared<int>(fd_);
  writing_ = true;
  dispatcher_->offload(
      [chunk, err, fd, path = spool_path_] {
        if (!err->empty()) return;
        if (*fd < 0) {
          *fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
          if (*fd < 0) {
            *err = fmt::format("cannot create spool file {}: {}", path, std::strerror(errno));
            return;
          }
        }
        *err = writeAll(*fd, *chunk);
        if (err->empty() && ::fdatasync(*fd) != 0) *err = std::strerror(errno);
        ::close(*fd);
        *fd = -1;
        if (err->empty()) {
          int dfd = ::open(dirOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          if (dfd >= 0) {
            if (::fsync(dfd) != 0) *err = std::strerror(errno);
            ::close(dfd);
          }
        }
        if (!err->empty()) ::unlink(path.c_str());
      },
      [self, err, fd] {
        self->writing_ = false;
        self->fd_ = *fd;
        auto done = std::move(self->finish_done_);
        self->finish_done_ = nullptr;
        if (self->aborted_) {
          self->cleanup();
          return;
        }
        if (err->empty()) {
          done(okStatus());
        } else {
          done(Error::temporary(fmt::format("spool write failed: {}", *err)));
        }
      });
}

void MessageStore::abort() {
  aborted_ = true;
  buffer_.clear();
  buffer_.shrink_to_fit();
  on_drained_ = nullptr;
  finish_done_ = nullptr;
  if (!writing_) cleanup();
}

void MessageStore::cleanup() {
  if (!spooled_) return;
  int fd = fd_;
  fd_ = -1;
  auto self = shared_from_this();
  dispatcher_->offload(
      [fd, path = spool_path_] {
        if (fd >= 0) ::close(fd);
        ::unlink(path.c_str());
      },
      [self] {});
}

}  // namespace petrel::server
