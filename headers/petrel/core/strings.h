// Small string helpers shared by every area (ASCII only: SMTP keywords, domains, keys).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace petrel {

std::string toLower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool istartsWith(std::string_view s, std::string_view prefix);
std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);
// Parses a decimal number without sign; nullopt on garbage or overflow.
std::optional<uint64_t> parseUnsigned(std::string_view s);
// "25MB", "512k", "1000" -> bytes (binary multiples).
std::optional<uint64_t> parseSize(std::string_view s);
// "30s", "5m", "4h", "5d", "300" (seconds) -> seconds.
std::optional<uint64_t> parseDuration(std::string_view s);

// Any ASCII control character (0x00-0x1f, 0x7f), CR and LF included? Addresses that come from
// tables are refused with one: they would end up in SMTP commands and header fields.
bool hasControlCharacter(std::string_view s);

// JSON string literal content: quotes, backslashes and control characters escaped.
std::string jsonEscape(std::string_view s);

// strerror(err), thread-safe (strerror_r): for code on the thread pool as much as anywhere.
std::string systemErrorText(int err);

// strftime(format) of a unix time in local time; "" when the result would not fit 63 bytes.
std::string formatLocalTime(int64_t unix_time, const char* format);
// RFC 5322 3.3 date-time in local time: "Sun, 22 Nov 2026 22:07:56 +0000".
std::string rfc5322Date(int64_t unix_time);

}  // namespace petrel
