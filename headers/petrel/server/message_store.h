// MessageStore: where the body of one incoming message goes while DATA/BDAT arrives.
//
// Small messages stay in memory and are committed inline with the queue row (one fsync for
// body and envelope together, shared with other sessions by group commit). Once a message
// passes InlineLimit it is streamed to a spool file on the thread pool, at most one write in
// flight, and fdatasync'd (with its directory) before the queue row names it. Memory per
// message stays bounded: the session stops reading while backlog() is high.
//
// Owned through shared_ptr: a thread-pool completion holds a reference, so an aborted store
// finishes its last write, then closes and unlinks its file. Loop thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "petrel/core/result.h"
#include "petrel/event/dispatcher.h"
#include "petrel/smtp/body_reader.h"

namespace petrel::server {

class MessageStore : public smtp::BodySink, public std::enable_shared_from_this<MessageStore> {
 public:
  static constexpr size_t InlineLimit = 128 * 1024;
  static constexpr size_t WriteChunk = 256 * 1024;

  MessageStore(event::Dispatcher& dispatcher, std::string spool_path);
  ~MessageStore() override;

  void append(std::string_view content) override;
  // Octets received but not yet written; the driver pauses reading above WriteChunk * 2.
  size_t backlog() const { return buffer_.size(); }
  uint64_t size() const { return size_; }
  // Called when the backlog has drained below the pause threshold.
  void onDrained(std::function<void()> fn) { on_drained_ = std::move(fn); }

  // Makes the body durable (spool file) or ready (inline); `done` runs on the loop.
  void finish(std::function<void(Status)> done);
  // Forget the message; the spool file (if any) is removed.
  void abort();

  bool inlined() const { return !spooled_; }
  std::string takeInlineBody() { return std::move(buffer_); }
  const std::string& spoolPath() const { return spool_path_; }

 private:
  void writeMore();
  void finishNow();
  void cleanup();

  event::Dispatcher* dispatcher_;
  std::string spool_path_;
  std::string buffer_;
  uint64_t size_ = 0;
  bool spooled_ = false;
  bool writing_ = false;
  bool aborted_ = false;
  int fd_ = -1;
  std::string error_;  // first I/O error
  std::function<void()> on_drained_;
  std::function<void(Status)> finish_done_;
};

}  // namespace petrel::server
