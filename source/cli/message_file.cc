// message_file.h: the file and option helpers shared by `petrel dkim` and `petrel arc`.
#include "message_file.h"

#include <fmt/format.h>

#include <cerrno>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "petrel/core/strings.h"

namespace petrel::cli {

namespace {

constexpr size_t MaxMessageSize = 64u << 20;
constexpr size_t MaxHeaderSize = 1u << 20;

}  // namespace

std::optional<Options> parseOptions(const std::vector<std::string>& args,
                                    std::initializer_list<std::string_view> known,
                                    std::string_view usage) {
  Options o;
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() > 2 && a.rfind("--", 0) == 0) {
      bool ok = false;
      for (auto k : known) ok = ok || a.substr(2) == k;
      if (!ok || i + 1 >= args.size()) {
        fmt::print(stderr, "petrel {} {}: bad argument '{}'\n{}", args[0], args[1], a, usage);
        return std::nullopt;
      }
      o.values[a.substr(2)] = args[++i];
    } else {
      o.positional.push_back(a);
    }
  }
  return o;
}

std::optional<std::string> readMessage(const std::string& file, std::string_view command) {
  std::string text;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      fmt::print(stderr, "{}: {}: {}\n", command, file, systemErrorText(errno));
      return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  if (text.size() > MaxMessageSize) {
    fmt::print(stderr, "{}: {}: larger than {} bytes\n", command, file, MaxMessageSize);
    return std::nullopt;
  }
  return text;
}

bool hasBareLf(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) return true;
  }
  return false;
}

std::string toCrlf(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 40);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += text[i];
  }
  return out;
}

std::string withoutCr(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c != '\r') out += c;
  }
  return out;
}

Split splitMessage(const std::string& wire) {
  content::HeaderSection h(MaxHeaderSize);
  size_t n = h.feed(wire);
  if (!h.complete()) h.end();
  return Split{h.fields(), std::string_view(wire).substr(n)};
}

}  // namespace petrel::cli
