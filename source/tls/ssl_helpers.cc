// Helpers shared by source/tls/ (see ssl_helpers.h), and libraryName().
#include "ssl_helpers.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/crypto.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "petrel/tls/tls.h"

namespace petrel::tls {

namespace detail {

std::string takeErrors(std::string_view fallback) {
  std::string out;
  // ERR_get_error returns unsigned long in OpenSSL and uint32_t in BoringSSL.
  while (auto code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    if (!out.empty()) {
      out += "; ";
    }
    std::string text = reason != nullptr ? std::string(reason) : fmt::format("error {:#x}", code);
#ifdef OPENSSL_IS_BORINGSSL
    // BoringSSL names reasons like constants (WRONG_VERSION_NUMBER); OpenSSL writes the same
    // words in lower case with spaces. One spelling keeps logs and their greps variant-free.
    for (char& c : text) {
      c = c == '_' ? ' ' : (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
    }
#endif
    out += text;
  }
  return out.empty() ? std::string(fallback) : out;
}

std::optional<int> parseVersion(std::string_view v) {
  if (v == "1.0") return TLS1_VERSION;
  if (v == "1.1") return TLS1_1_VERSION;
  if (v == "1.2") return TLS1_2_VERSION;
  if (v == "1.3") return TLS1_3_VERSION;
  return std::nullopt;
}

Result<std::string> readFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return Error::config(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  }
  std::string data;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    data.append(buf, n);
  }
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed) {
    return Error::config(fmt::format("{}: cannot read: {}", path, std::strerror(err)));
  }
  return data;
}

std::string normalizeName(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return out;
}

bool nameMatches(std::string_view pattern, std::string_view name) {
  if (pattern.empty() || name.empty()) {
    return false;
  }
  if (pattern.size() > 2 && pattern.substr(0, 2) == "*.") {
    size_t dot = name.find('.');
    // The wildcard stands for exactly one non-empty label; the rest must match exactly.
    return dot != std::string_view::npos && dot > 0 && name.substr(dot) == pattern.substr(1);
  }
  return pattern == name;
}

bool isIpLiteral(std::string_view name) {
  std::string s(name);
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') {
    s = s.substr(1, s.size() - 2);
  }
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

namespace {

std::string asn1Text(const ASN1_STRING* s) {
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, s);
  if (len < 0) {
    return {};
  }
  std::string out(reinterpret_cast<char*>(utf8), size_t(len));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

std::string commonName(X509* cert) {
  X509_NAME* subject = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (idx < 0) {
    return {};
  }
  return asn1Text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx)));
}

std::vector<std::string> certificateNames(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < int(sk_GENERAL_NAME_num(sans)); ++i) {
      const GENERAL_NAME* gen = sk_GENERAL_NAME_value(sans, i);
      int type = 0;
      auto* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(gen, &type));
      if (type == GEN_DNS) {
        names.push_back(normalizeName(asn1Text(value)));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  if (std::string cn = commonName(cert); !cn.empty()) {
    names.push_back(normalizeName(cn));
  }
  return names;
}

std::string notAfterText(X509* cert) {
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  std::time_t now = std::time(nullptr);
  std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME_free>> now_asn1(ASN1_TIME_set(nullptr, now));
  int days = 0;
  int seconds = 0;
  if (!now_asn1 || ASN1_TIME_diff(&days, &seconds, now_asn1.get(), not_after) != 1) {
    ERR_clear_error();
    return "unknown";
  }
  std::time_t at = now + std::time_t(days) * 86400 + seconds;
  std::tm tm{};
  gmtime_r(&at, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return at < now ? std::string(buf) + " (expired)" : std::string(buf);
}

}  // namespace detail

std::string libraryName() {
#ifdef OPENSSL_IS_BORINGSSL
  return "boringssl";
#else
  return fmt::format("openssl {}", OpenSSL_version(OPENSSL_VERSION_STRING));
#endif
}

}  // namespace petrel::tls
