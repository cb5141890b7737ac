// Body storage for incoming messages; see message_store.h.
#include "petrel/server/message_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "petrel/core/strings.h"

namespace petrel::server {

namespace {

std::string writeAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return systemErrorText(errno);
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

MessageStore::MessageStore(event::Dispatcher& dispatcher, SpoolSlots& slots)
    : dispatcher_(&dispatcher), slots_(&slots) {}

void MessageStore::takeSlot() {
  if (slot_.path.empty()) slot_ = slots_->acquire();
}

namespace {
// An existing slot is overwritten in place; a missing one (a slot freed before its first
// write) is created, and `created` says its directory entry still needs an fsync.
int openSlot(const std::string& path, bool& created, std::string& err) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    created = fd >= 0;
  }
  if (fd < 0) err = fmt::format("cannot open spool file {}: {}", path, systemErrorText(errno));
  return fd;
}
}  // namespace

MessageStore::~MessageStore() {
  // Only reached with no work in flight (completions hold a reference).
  if (fd_ >= 0) ::close(fd_);
}

void MessageStore::append(std::string_view content) {
  if (aborted_) return;
  buffer_.append(content);
  size_ += content.size();
  if (!spooled_ && buffer_.size() > InlineLimit) {
    spooled_ = true;
    takeSlot();
  }
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
      [chunk, err, fd, open_first, path = slot_.path, created = created_] {
        if (open_first && (*fd = openSlot(path, *created, *err)) < 0) return;
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

std::optional<std::string> MessageStore::replaceHeader(size_t old_octets,
                                                       const std::string& header) {
  if (spooled_ || old_octets > buffer_.size()) {
    return "header edits at end of data need the message in memory (over 32 KiB it is spooled)";
  }
  buffer_.replace(0, old_octets, header);
  size_ = size_ - old_octets + header.size();
  return std::nullopt;
}

void MessageStore::finish(std::function<void(Status)> done) {
  finish_done_ = std::move(done);
  if (spooled_) takeSlot();
  if (!spooled_) {
    auto cb = std::move(finish_done_);
    finish_done_ = nullptr;
    dispatcher_->post([cb = std::move(cb)] { cb(okStatus()); });
    return;
  }
  if (!writing_) finishNow();
}

// Writes what is left, truncates the slot to this body's length, then fdatasync(file) and,
// for a new slot, fsync(directory): the body and its name are durable before the queue row
// that points to it is committed.
void MessageStore::finishNow() {
  auto self = shared_from_this();
  auto chunk = std::make_shared<std::string>(std::move(buffer_));
  buffer_.clear();
  auto err = std::make_shared<std::string>(error_);
  auto fd = std::make_shared<int>(fd_);
  writing_ = true;
  dispatcher_->offload(
      [chunk, err, fd, path = slot_.path, created = created_, size = size_] {
        if (!err->empty()) return;
        if (*fd < 0 && (*fd = openSlot(path, *created, *err)) < 0) return;
        *err = writeAll(*fd, *chunk);
        if (err->empty() && ::ftruncate(*fd, off_t(size)) != 0) *err = systemErrorText(errno);
        if (err->empty() && ::fdatasync(*fd) != 0) *err = systemErrorText(errno);
        ::close(*fd);
        *fd = -1;
        if (err->empty() && *created) {
          int dfd = ::open(dirOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          if (dfd >= 0) {
            if (::fsync(dfd) != 0) *err = systemErrorText(errno);
            ::close(dfd);
          }
        }
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
          self->slots_->release(self->slot_.path);  // its content is garbage, the slot is not
          self->slot_ = {};
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
  if (slot_.path.empty()) return;
  int fd = fd_;
  fd_ = -1;
  auto self = shared_from_this();
  // The slot is free again once its descriptor is closed; nothing is unlinked.
  dispatcher_->offload([fd] { if (fd >= 0) ::close(fd); },
                       [self] {
                         self->slots_->release(self->slot_.path);
                         self->slot_ = {};
                       });
}

}  // namespace petrel::server
