// Private parts of smtp::ServerSession shared by its files (server_session.cc,
// server_session_auth.cc, server_session_body.cc): the size-counting body sink, the AUTH line
// limit and the CR stripping used by command and AUTH response reading. Not part of the
// public interface; only those files include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "petrel/smtp/server_session.h"

namespace petrel::smtp {

// Counts content octets and stops forwarding once the size limit is passed; the session
// keeps reading to the end of the message and then refuses it (RFC 1870 6.3).
class ServerSession::CountingSink : public BodySink {
 public:
  CountingSink(BodySink& target, uint64_t limit) : target_(&target), limit_(limit) {}
  void append(std::string_view content) override {
    size_ += content.size();
    if (size_ > limit_) {
      over_ = true;
      return;
    }
    target_->append(content);
  }
  uint64_t size() const { return size_; }
  bool over() const { return over_; }

 private:
  BodySink* target_;
  uint64_t limit_;
  uint64_t size_ = 0;
  bool over_ = false;
};

namespace server_session_detail {
inline constexpr size_t MaxAuthLine = 12288;

inline std::string_view stripCr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}
}  // namespace server_session_detail

}  // namespace petrel::smtp
