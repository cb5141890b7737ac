// Helpers for the DKIM tests: messages from test/testdata/dkim/ in wire form (CRLF), split into
// header fields and body as the content pass hands them over.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "petrel/content/header_section.h"

namespace petrel::dkim::testing {

inline std::string testdata(const std::string& name) {
  std::ifstream in(std::string(PETREL_SOURCE_ROOT) + "/test/testdata/dkim/" + name,
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A one-line file (a key record) without its final newline.
inline std::string record(const std::string& name) {
  std::string r = testdata(name);
  while (!r.empty() && (r.back() == '\n' || r.back() == '\r')) r.pop_back();
  return r;
}

inline std::string crlf(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += text[i];
  }
  return out;
}

struct Message {
  std::vector<content::HeaderField> fields;
  std::string body;
};

inline Message split(const std::string& wire) {
  content::HeaderSection h(1 << 20);
  size_t n = h.feed(wire);
  if (!h.complete()) h.end();
  return Message{h.fields(), wire.substr(n)};
}

}  // namespace petrel::dkim::testing
