// base64.h: a table-driven RFC 4648 codec.
#include "petrel/core/base64.h"

#include <array>
#include <cstdint>

namespace petrel {

namespace {

constexpr std::string_view Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> decodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (size_t i = 0; i < Alphabet.size(); ++i) t[static_cast<unsigned char>(Alphabet[i])] = i;
  return t;
}

constexpr auto DecodeTable = decodeTable();

}  // namespace

std::string base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) |
                 uint8_t(in[i + 2]);
    out += Alphabet[(v >> 18) & 63];
    out += Alphabet[(v >> 12) & 63];
    out += Alphabet[(v >> 6) & 63];
    out += Alphabet[v & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += Alphabet[(v >> 18) & 63];
    out += Alphabet[(v >> 12) & 63];
    out += rest == 2 ? Alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view in, bool lenient) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t symbols = 0;  // alphabet characters and '=' seen
  size_t padding = 0;
  for (char c : in) {
    if (lenient && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) continue;
    if (c == '=') {
      ++padding;
      ++symbols;
      continue;
    }
    int8_t v = DecodeTable[static_cast<unsigned char>(c)];
    if (v < 0 || padding > 0) return std::nullopt;  // garbage, or data after padding
    ++symbols;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (padding > 2) return std::nullopt;
  // What is left must be fewer than 8 zero bits; a lone symbol (6 bits) cannot be a byte.
  if (bits >= 6 && (symbols - padding) % 4 == 1) return std::nullopt;
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  if (padding > 0 || !lenient) {
    if (symbols % 4 != 0) return std::nullopt;
    size_t data_mod = (symbols - padding) % 4;
    if ((padding == 1 && data_mod != 3) || (padding == 2 && data_mod != 2)) return std::nullopt;
  }
  return out;
}

}  // namespace petrel
