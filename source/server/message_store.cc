// Body storage for incoming messages; see message_store.h.
#include "petrel/server/message_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
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

void MessageStore::addTopFields(const std::string& fields) {
  if (!spooled_) {
    buffer_.insert(0, fields);
    size_ += fields.size();
    return;
  }
  top_.insert(0, fields);
}

std::optional<std::string> MessageStore::replaceHeader(size_t old_octets,
                                                       const std::string& header) {
  if (old_octets > size_ || finish_done_ || aborted_) return "no such header to replace";
  if (!spooled_) {
    buffer_.replace(0, old_octets, header);
    size_ = size_ - old_octets + header.size();
    return std::nullopt;
  }
  // Spooled: the old beginning is on disk already; finish() copies the message into another
  // slot behind the new header (the rare path: only end-of-data header edits take it).
  rewrite_ = Rewrite{old_octets, header};
  return std::nullopt;
}

namespace {
// Copies [from, to) of `src` to the end of what was written to `dst`.
std::string copyRange(int src, int dst, uint64_t from, uint64_t to) {
  std::string buf(256 * 1024, '\0');
  while (from < to) {
    ssize_t n = ::pread(src, buf.data(), size_t(std::min<uint64_t>(buf.size(), to - from)),
                        off_t(from));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? systemErrorText(errno) : "spool file shorter than its message";
    if (auto err = writeAll(dst, buf.substr(0, size_t(n))); !err.empty()) return err;
    from += uint64_t(n);
  }
  return {};
}
}  // namespace

// finishNow() for a message whose header was replaced: the rest of the body goes to the old
// slot, then new header + old content after the replaced octets go to a new slot, which is
// made durable as finishNow() does; the old slot is free again.
void MessageStore::finishRewritten() {
  auto self = shared_from_this();
  auto chunk = std::make_shared<std::string>(std::move(buffer_));
  buffer_.clear();
  auto err = std::make_shared<std::string>(error_);
  auto fd = std::make_shared<int>(fd_);
  auto target = std::make_shared<SpoolSlots::Slot>(slots_->acquire());
  auto target_created = std::make_shared<bool>(false);
  Rewrite rewrite = std::move(*rewrite_);
  rewrite_.reset();
  uint64_t new_size = size_ - rewrite.old_octets + rewrite.header.size();
  writing_ = true;
  dispatcher_->offload(
      [chunk, err, fd, target, target_created, rewrite, path = slot_.path, created = created_,
       size = size_, new_size] {
        if (!err->empty()) return;
        if (*fd < 0 && (*fd = openSlot(path, *created, *err)) < 0) return;
        *err = writeAll(*fd, *chunk);
        ::close(*fd);
        *fd = -1;
        // The slot was opened for writing only; the copy reads it again.
        int in = err->empty() ? ::open(path.c_str(), O_RDONLY | O_CLOEXEC) : -1;
        if (in < 0 && err->empty()) *err = systemErrorText(errno);
        int out = err->empty() ? openSlot(target->path, *target_created, *err) : -1;
        if (out >= 0) {
          *err = writeAll(out, rewrite.header);
          if (err->empty()) *err = copyRange(in, out, rewrite.old_octets, size);
          if (err->empty() && ::ftruncate(out, off_t(new_size)) != 0) *err = systemErrorText(errno);
          if (err->empty() && ::fdatasync(out) != 0) *err = systemErrorText(errno);
          ::close(out);
        }
        if (in >= 0) ::close(in);
        if (err->empty() && *target_created) {
          int dfd = ::open(dirOf(target->path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          if (dfd >= 0) {
            if (::fsync(dfd) != 0) *err = systemErrorText(errno);
            ::close(dfd);
          }
        }
      },
      [self, err, fd, target, new_size] {
        self->writing_ = false;
        self->fd_ = *fd;
        auto done = std::move(self->finish_done_);
        self->finish_done_ = nullptr;
        self->slots_->release(self->slot_.path);  // the old content is not needed any more
        self->slot_ = *target;
        if (self->aborted_) {
          self->cleanup();
          return;
        }
        if (err->empty()) {
          self->size_ = new_size;
          done(okStatus());
        } else {
          self->slots_->release(self->slot_.path);
          self->slot_ = {};
          done(Error::temporary(fmt::format("spool write failed: {}", *err)));
        }
      });
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
  if (rewrite_) return finishRewritten();
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
