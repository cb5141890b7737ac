// Private helpers of smtp::ClientSession shared by its files (client_session.cc and
// client_session_transaction.cc): character-class tests on envelope and reply text. Not part
// of the public interface; only those files include it.
#pragma once

#include <string_view>

namespace petrel::smtp::client_session_detail {

inline bool hasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

inline bool isAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

}  // namespace petrel::smtp::client_session_detail
