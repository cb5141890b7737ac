// ensureSelfSigned: the quick-start certificate. An EC P-256 key and an X.509 v3 certificate
// that signs itself, valid for ten years, naming the host in the subject CN and in a DNS
// subjectAltName (RFC 6125: clients look at the SAN).
//
// Files are written to a temporary name, fsync'd and renamed, key first: an existing
// certificate file means a complete pair, and that is all this function checks. It never
// replaces anything (an expired quick-start certificate is the admin's to delete).
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "petrel/tls/tls.h"
#include "ssl_helpers.h"

namespace petrel::tls {

namespace {

using namespace detail;

constexpr int ValidityDays = 3653;  // ten years, leap days included
// RFC 5280 appendix A: ub-common-name 64; longer names go in the SAN only.
constexpr size_t MaxCommonName = 64;

Error fileError(const std::string& path, std::string_view what) {
  return Error::config(fmt::format("{}: {}: {}", path, what, std::strerror(errno)));
}

std::string parentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

// mkdir -p with mode 0700 for the directories it creates (existing ones are left alone).
Status makeParents(const std::string& path) {
  std::string dir = parentOf(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      errno = ENOTDIR;
      return fileError(dir, "cannot create directory");
    }
    return okStatus();
  }
  if (dir != "/" && dir != ".") {
    if (Status st2 = makeParents(dir); !st2) {
      return st2;
    }
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return fileError(dir, "cannot create directory");
  }
  return okStatus();
}

// Writes `data` to `path` with `mode`, atomically: tmp file, fsync, rename, directory fsync.
Status writeFileAtomically(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = fmt::format("{}.tmp{}", path, ::getpid());
  ::unlink(tmp.c_str());  // left over from a crash
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return fileError(tmp, "cannot create");
  }
  auto cleanup = [&](std::string_view what) {
    Error e = fileError(tmp, what);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  if (::fchmod(fd, mode) != 0) {  // the umask must not widen nor narrow it
    return cleanup("cannot set mode");
  }
  std::string_view rest = data;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return cleanup("cannot write");
    }
    rest.remove_prefix(size_t(n));
  }
  if (::fsync(fd) != 0) {
    return cleanup("cannot fsync");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = fileError(path, "cannot rename into place");
    ::unlink(tmp.c_str());
    return e;
  }
  if (int dfd = ::open(parentOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return okStatus();
}

Result<PkeyPtr> makeKey() {
  std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &key) != 1) {
    return Error::config(fmt::format("cannot generate an EC P-256 key: {}", takeErrors()));
  }
  return PkeyPtr(key);
}

bool addSubjectAltName(X509* cert, const std::string& hostname) {
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  GENERAL_NAME* name = GENERAL_NAME_new();
  ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
  bool ok = names != nullptr && name != nullptr && dns != nullptr &&
            ASN1_STRING_set(dns, hostname.data(), int(hostname.size())) == 1;
  if (ok) {
    GENERAL_NAME_set0_value(name, GEN_DNS, dns);  // name owns dns now
    dns = nullptr;
    ok = sk_GENERAL_NAME_push(names, name) != 0;  // names owns name now
    if (ok) {
      name = nullptr;
      ok = X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1;
    }
  }
  ASN1_IA5STRING_free(dns);
  GENERAL_NAME_free(name);
  GENERAL_NAMES_free(names);
  return ok;
}

bool addLeafExtensions(X509* cert) {
  // basicConstraints (critical): not a CA.
  BASIC_CONSTRAINTS* bc = BASIC_CONSTRAINTS_new();
  bool ok = bc != nullptr &&
            X509_add1_ext_i2d(cert, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT) == 1;
  BASIC_CONSTRAINTS_free(bc);
  // No keyUsage: clients that pin this certificate use it as its own issuer, and a keyUsage
  // without keyCertSign makes BoringSSL (and strict OpenSSL paths) refuse exactly that.
  // extendedKeyUsage: serverAuth.
  EXTENDED_KEY_USAGE* eku = sk_ASN1_OBJECT_new_null();
  ok = ok && eku != nullptr && sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)) != 0 &&
       X509_add1_ext_i2d(cert, NID_ext_key_usage, eku, 0, X509V3_ADD_DEFAULT) == 1;
  sk_ASN1_OBJECT_free(eku);  // the object from OBJ_nid2obj is static
  return ok;
}

Result<X509Ptr> makeCertificate(const std::string& hostname, EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  auto fail = [](std::string_view what) {
    return Error::config(fmt::format("cannot build the certificate ({}): {}", what, takeErrors()));
  };
  if (!cert || X509_set_version(cert.get(), 2) != 1) {  // 2 = X.509 v3
    return fail("version");
  }
  // RFC 5280 4.1.2.2: positive, at most 20 octets; 127 random bits make it unique.
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) {
    return fail("serial");
  }
  serial[0] &= 0x7f;
  std::unique_ptr<BIGNUM, Deleter<BN_free>> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return fail("serial");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), ValidityDays, 0, nullptr) == nullptr) {
    return fail("validity");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (hostname.size() <= MaxCommonName &&
      X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1,
                                 0) != 1) {
    return fail("subject");
  }
  if (X509_set_issuer_name(cert.get(), subject) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
    return fail("issuer");
  }
  if (!addSubjectAltName(cert.get(), hostname) || !addLeafExtensions(cert.get())) {
    return fail("extensions");
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) {
    return fail("signature");
  }
  return cert;
}

template <typename Write>
Result<std::string> pem(Write write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !write(bio.get())) {
    return Error::config(fmt::format("cannot encode PEM: {}", takeErrors()));
  }
  char* data = nullptr;  // BoringSSL's BIO_get_mem_data wants char**
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(len));
}

}  // namespace

Status ensureSelfSigned(const std::string& hostname, const std::string& cert_path,
                        const std::string& key_path) {
  struct stat st {};
  if (::stat(cert_path.c_str(), &st) == 0) {
    return okStatus();
  }
  if (errno != ENOENT) {
    return fileError(cert_path, "cannot check");
  }
  std::string name = normalizeName(hostname);
  if (name.empty() || isIpLiteral(name)) {
    return Error::config(
        fmt::format("cannot make a self-signed certificate for \"{}\": a "
                    "host name is needed",
                    hostname));
  }
  ERR_clear_error();
  auto key = makeKey();
  if (!key) {
    return key.error();
  }
  auto cert = makeCertificate(name, key->get());
  if (!cert) {
    return cert.error();
  }
  auto key_pem = pem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key->get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
  auto cert_pem = pem([&](BIO* b) { return PEM_write_bio_X509(b, cert->get()) == 1; });
  if (!key_pem) {
    return key_pem.error();
  }
  if (!cert_pem) {
    return cert_pem.error();
  }
  for (const std::string* path : {&key_path, &cert_path}) {
    if (Status made = makeParents(*path); !made) {
      return made;
    }
  }
  if (key_path == cert_path) {  // one file holding both: it is a key file (0600)
    return writeFileAtomically(cert_path, *key_pem + *cert_pem, 0600);
  }
  if (Status written = writeFileAtomically(key_path, *key_pem, 0600); !written) {
    return written;
  }
  return writeFileAtomically(cert_path, *cert_pem, 0644);
}

}  // namespace petrel::tls
