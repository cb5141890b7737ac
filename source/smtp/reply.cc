// Reply serialization.
#include "petrel/smtp/reply.h"

#include <fmt/format.h>

namespace petrel::smtp {

std::string Reply::wire() const {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    char sep = i + 1 < lines.size() ? '-' : ' ';
    if (enhanced.empty()) {
      fmt::format_to(std::back_inserter(out), "{}{}{}\r\n", code, sep, lines[i]);
    } else {
      fmt::format_to(std::back_inserter(out), "{}{}{} {}\r\n", code, sep, enhanced, lines[i]);
    }
  }
  if (lines.empty()) fmt::format_to(std::back_inserter(out), "{} {}\r\n", code, enhanced);
  return out;
}

std::string Reply::oneLine() const {
  std::string text;
  for (const auto& l : lines) {
    if (!text.empty()) text += ' ';
    text += l;
  }
  return enhanced.empty() ? fmt::format("{} {}", code, text)
                          : fmt::format("{} {} {}", code, enhanced, text);
}

}  // namespace petrel::smtp
