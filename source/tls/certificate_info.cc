// readCertificateInfo; see headers/petrel/tls/certificate_info.h.
#include "petrel/tls/certificate_info.h"

#include <fmt/format.h>

#include <ctime>

#include "ssl_helpers.h"

namespace petrel::tls {

namespace {

// ASN1_TIME as unix seconds, through the difference from the epoch (the API both OpenSSL 3
// and BoringSSL have).
std::optional<int64_t> unixTime(const ASN1_TIME* t) {
  std::unique_ptr<ASN1_TIME, detail::Deleter<ASN1_TIME_free>> epoch(ASN1_TIME_set(nullptr, 0));
  int days = 0;
  int seconds = 0;
  if (!epoch || t == nullptr || ASN1_TIME_diff(&days, &seconds, epoch.get(), t) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  return int64_t(days) * 86400 + seconds;
}

}  // namespace

Result<CertificateInfo> readCertificateInfo(const std::string& path) {
  auto pem = detail::readFile(path);
  if (!pem) return Error::permanent(pem.error().message());
  detail::BioPtr bio(BIO_new_mem_buf(pem->data(), int(pem->size())));
  detail::X509Ptr cert(
      bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    return Error::permanent(
        fmt::format("{}: no PEM certificate: {}", path, detail::takeErrors("unreadable")));
  }
  CertificateInfo info;
  info.names = detail::certificateNames(cert.get());
  auto before = unixTime(X509_get0_notBefore(cert.get()));
  auto after = unixTime(X509_get0_notAfter(cert.get()));
  if (!before || !after) return Error::permanent(fmt::format("{}: unreadable validity", path));
  info.not_before = *before;
  info.not_after = *after;
  return info;
}

}  // namespace petrel::tls
