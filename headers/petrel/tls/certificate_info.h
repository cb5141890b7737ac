// What `petrel doctor` reads from a certificate file: the leaf's names and expiry. No
// verification of the chain (that needs the clients' trust stores; docs/doctor.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::tls {

struct CertificateInfo {
  std::vector<std::string> names;  // DNS subjectAltNames, then the CN; lower case, no dot
  int64_t not_before = 0;          // unix seconds
  int64_t not_after = 0;
};

// The first certificate of a PEM file (the leaf of a chain). Errors are permanent and name
// the file.
Result<CertificateInfo> readCertificateInfo(const std::string& path);

}  // namespace petrel::tls
