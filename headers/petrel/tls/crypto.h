// Message digests and public-key signatures for DKIM (RFC 6376, RFC 8463), through the TLS
// library's EVP interface (OpenSSL 3 or BoringSSL; docs/tls.md). This header includes nothing
// of the library, so that the dkim/ area can use it without the library's include path.
//
// What it owns: an incremental SHA-256, public keys read from DER (SubjectPublicKeyInfo or
// PKCS#1 RSAPublicKey) or from a raw 32-byte Ed25519 key, private keys read from PEM (RSA
// PKCS#1 or PKCS#8, Ed25519 PKCS#8), signing and verification, and key generation with PEM
// output. What it does not do: base64, DKIM's tag syntax, or deciding which algorithms are
// acceptable (dkim/ refuses rsa-sha1 and short keys; this layer only reports the key size).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "petrel/core/result.h"

namespace petrel::tls {

// SHA-256 fed in pieces of any size; finish() returns the 32-byte digest and leaves the
// object unusable until reset().
class Sha256 {
 public:
  static constexpr size_t DigestSize = 32;
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  std::string finish();
  void reset();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One-shot SHA-256 (32 bytes).
std::string sha256(std::string_view bytes);

// HMAC-SHA1 (RFC 2104) of `message` under `key`: 20 bytes. Only for SRS (srs/srs.h), whose
// address format fixes SHA-1 for compatibility with postsrsd and the Shevek libraries; a
// truncated MAC there, not a signature.
std::string hmacSha1(std::string_view key, std::string_view message);

enum class KeyType { Rsa, Ed25519 };

// A public key; cheap to copy (shared, immutable).
class PublicKey {
 public:
  // DER SubjectPublicKeyInfo (any key type the library knows; callers check type()), or, when
  // that fails, a PKCS#1 RSAPublicKey (some DKIM records publish that form). Permanent errors.
  static Result<PublicKey> fromDer(std::string_view der);
  // A raw 32-byte Ed25519 public key (RFC 8032), as DKIM's k=ed25519 p= carries it.
  static Result<PublicKey> fromEd25519Raw(std::string_view raw);

  KeyType type() const;
  // The modulus size for RSA; 256 for Ed25519.
  int bits() const;

  // RSASSA-PKCS1-v1_5 with SHA-256 over an already computed 32-byte digest.
  bool verifyRsaSha256(std::string_view digest, std::string_view signature) const;
  // Pure Ed25519 (RFC 8032) over `message` (DKIM signs the SHA-256 digest, RFC 8463 3).
  bool verifyEd25519(std::string_view message, std::string_view signature) const;

  // What DKIM's p= carries before base64: DER SubjectPublicKeyInfo for RSA, the raw 32 bytes
  // for Ed25519.
  std::string dkimKeyData() const;

  struct Impl;

 private:
  explicit PublicKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  friend class PrivateKey;
  std::shared_ptr<const Impl> impl_;
};

// A private key; cheap to copy (shared, immutable). Never logged or printed except by toPem().
class PrivateKey {
 public:
  // No key: valid() is false and nothing else may be called (a SignSpec not filled in yet).
  PrivateKey() = default;
  bool valid() const { return impl_ != nullptr; }
  // PEM text: "RSA PRIVATE KEY" (PKCS#1) or "PRIVATE KEY" (PKCS#8, RSA or Ed25519). Encrypted
  // keys are refused. Errors are Config errors.
  static Result<PrivateKey> fromPem(std::string_view pem);
  // The file's contents as fromPem(); "PATH: cannot read: ..." when it cannot be read.
  static Result<PrivateKey> fromPemFile(const std::string& path);
  // A new key: RSA with `bits` (1024..8192) or Ed25519.
  static Result<PrivateKey> generateRsa(int bits);
  static Result<PrivateKey> generateEd25519();

  KeyType type() const;
  int bits() const;
  PublicKey publicKey() const;
  // PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), unencrypted.
  std::string toPem() const;

  // RSASSA-PKCS1-v1_5 over a 32-byte SHA-256 digest; Ed25519 over `message`.
  Result<std::string> signRsaSha256(std::string_view digest) const;
  Result<std::string> signEd25519(std::string_view message) const;

  struct Impl;

 private:
  explicit PrivateKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace petrel::tls
