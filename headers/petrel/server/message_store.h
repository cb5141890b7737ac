// MessageStore: where the body of one incoming message goes while DATA/BDAT arrives.
//
// Small messages stay in memory and are committed inline with the queue row (one fsync for
// body and envelope together, shared with other sessions by group commit). Once a message
// passes InlineLimit it is streamed into a spool slot (SpoolSlots) on the thread pool, at most
// one write in flight, truncated to its length and fdatasync'd (a new slot also gets its
// directory fsync'd) before the queue row names it. Measured with 100 KB messages, a spool
// file beats the journal by ~45%: the journal writes a body twice (WAL, then checkpoint).
// Memory per message stays bounded: the session stops reading while backlog() is high.
//
// Owned through shared_ptr: a thread-pool completion holds a reference, so an aborted store
// finishes its last write, then closes its file and frees its slot. Loop thread only.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "petrel/core/result.h"
#include "petrel/event/dispatcher.h"
#include "petrel/server/spool_slots.h"
#include "petrel/smtp/body_reader.h"

namespace petrel::server {

class MessageStore : public smtp::BodySink, public std::enable_shared_from_this<MessageStore> {
 public:
  static constexpr size_t InlineLimit = 32 * 1024;
  static constexpr size_t WriteChunk = 256 * 1024;

  MessageStore(event::Dispatcher& dispatcher, SpoolSlots& slots);
  ~MessageStore() override;

  void append(std::string_view content) override;
  // Octets received but not yet written; the driver pauses reading above WriteChunk * 2.
  size_t backlog() const { return buffer_.size(); }
  // The message's size as it will be delivered (top fields included).
  uint64_t size() const { return size_ + top_.size(); }
  // Called when the backlog has drained below the pause threshold.
  void onDrained(std::function<void()> fn) { on_drained_ = std::move(fn); }

  // Makes the body durable (spool file) or ready (inline); `done` runs on the loop.
  void finish(std::function<void(Status)> done);
  // Before finish(): the first `old_octets` of the message become `header` (header edits of
  // the content pass at end of data). In memory it is a splice; a spooled message is copied
  // into another slot behind the new header when finish() makes it durable. Returns why it
  // cannot be done (nothing that large was stored, or the store is finishing or aborted).
  std::optional<std::string> replaceHeader(size_t old_octets, const std::string& header);
  // Before finish(): whole header fields to go on top of the message (fields the content pass
  // adds at end of data, Authentication-Results or DKIM-Signature). In memory they are
  // spliced in; a spooled message keeps them apart (topFields()) for the queue row, so the
  // spool file is never rewritten for them.
  void addTopFields(const std::string& fields);
  const std::string& topFields() const { return top_; }
  // Forget the message; the spool file (if any) is removed.
  void abort();

  bool inlined() const { return !spooled_; }
  std::string takeInlineBody() { return std::move(buffer_); }
  // The slot holding the body (spooled messages); it now belongs to the queue.
  const std::string& spoolPath() const { return slot_.path; }

 private:
  void writeMore();
  void finishNow();
  void finishRewritten();
  void cleanup();

  void takeSlot();

  event::Dispatcher* dispatcher_;
  SpoolSlots* slots_;
  SpoolSlots::Slot slot_;  // path empty until the body spills over InlineLimit
  std::shared_ptr<bool> created_ = std::make_shared<bool>(false);  // slot file made by us
  std::string buffer_;
  uint64_t size_ = 0;    // octets appended (and spliced in, in memory)
  std::string top_;      // spooled messages: fields that go before the spool file's content
  bool spooled_ = false;
  bool writing_ = false;
  bool aborted_ = false;
  int fd_ = -1;
  std::string error_;  // first I/O error
  std::function<void()> on_drained_;
  std::function<void(Status)> finish_done_;
  struct Rewrite {
    size_t old_octets = 0;
    std::string header;
  };
  std::optional<Rewrite> rewrite_;  // replaceHeader() on a spooled message
};

}  // namespace petrel::server
