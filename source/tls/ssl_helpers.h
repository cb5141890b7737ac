// Internal to source/tls/: owning pointers for library objects, error text from the library's
// error queue, version names, and reading small files with errno-accurate messages.
//
// This header (and every file in source/tls/) compiles against OpenSSL 3 or, with
// -Dtls=boringssl, against Debian's BoringSSL headers (-isystem /usr/include/android, given
// to this directory only). Everything here uses the API subset both provide; the few
// differences are behind OPENSSL_IS_BORINGSSL. Nothing outside source/tls/ may include it.
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::tls::detail {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using SessionPtr = std::unique_ptr<SSL_SESSION, Deleter<SSL_SESSION_free>>;

// Drains the calling thread's error queue: "reason; reason" (innermost first), or `fallback`
// when the queue is empty.
std::string takeErrors(std::string_view fallback = "unknown TLS library error");

// "1.0".."1.3" -> TLS1_x_VERSION; nullopt for anything else.
std::optional<int> parseVersion(std::string_view v);

// Whole file, or "PATH: cannot read: <strerror>".
Result<std::string> readFile(const std::string& path);

// Names a certificate answers to for SNI: DNS subjectAltNames, then the subject CN (both
// lower-cased, trailing dot removed).
std::vector<std::string> certificateNames(X509* cert);
std::string commonName(X509* cert);
// notAfter as "2035-01-31T12:00:00Z" (UTC), with " (expired)" appended when in the past.
std::string notAfterText(X509* cert);

// ASCII lower-case without a trailing dot: the form names are compared in.
std::string normalizeName(std::string_view name);
// RFC 6125 6.4.3 as restricted by the CA/B Forum: "*" is a whole left-most label and matches
// exactly one label ("*.example.com" matches "a.example.com", not "a.b.example.com" nor
// "example.com"). Both arguments normalized.
bool nameMatches(std::string_view pattern, std::string_view name);

// True for an IPv4 or IPv6 literal (RFC 6066 3: such names are not sent as SNI).
bool isIpLiteral(std::string_view name);

}  // namespace petrel::tls::detail
