// crypto.h over EVP: SHA-256, RSA and Ed25519 keys, signatures and key generation. Only the
// API subset that OpenSSL 3 and BoringSSL share is used (EVP_PKEY_sign/verify with a digest
// for RSA, one-shot EVP_DigestSign/Verify for Ed25519, d2i_PUBKEY / d2i_PublicKey, PEM via
// BIOs), so no line differs between the two.
#include "petrel/tls/crypto.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <fmt/format.h>

#include <deque>
#include <mutex>
#include <utility>

#include "ssl_helpers.h"

namespace petrel::tls {

using detail::PkeyPtr;
using detail::takeErrors;

namespace {

using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, detail::Deleter<EVP_MD_CTX_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, detail::Deleter<EVP_PKEY_CTX_free>>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

bool supported(const EVP_PKEY* key) {
  int id = EVP_PKEY_id(key);
  return id == EVP_PKEY_RSA || id == EVP_PKEY_ED25519;
}

KeyType typeOf(const EVP_PKEY* key) {
  return EVP_PKEY_id(key) == EVP_PKEY_ED25519 ? KeyType::Ed25519 : KeyType::Rsa;
}

}  // namespace

// ---- SHA-256 ---------------------------------------------------------------------------------

struct Sha256::State {
  MdCtxPtr ctx{EVP_MD_CTX_new()};
};

Sha256::Sha256() : state_(std::make_unique<State>()) { reset(); }
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::reset() { EVP_DigestInit_ex(state_->ctx.get(), EVP_sha256(), nullptr); }

void Sha256::update(std::string_view b) {
  if (!b.empty()) EVP_DigestUpdate(state_->ctx.get(), b.data(), b.size());
}

std::string Sha256::finish() {
  std::string out(DigestSize, '\0');
  unsigned int n = 0;
  EVP_DigestFinal_ex(state_->ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &n);
  out.resize(n);
  return out;
}

std::string sha256(std::string_view b) {
  Sha256 h;
  h.update(b);
  return h.finish();
}

// HMAC() is the one-shot call both libraries keep (OpenSSL 3 deprecates only HMAC_CTX).
std::string hmacSha1(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), bytes(message), message.size(),
           out, &n) == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(out), n);
}

// ---- public keys -----------------------------------------------------------------------------

struct PublicKey::Impl {
  PkeyPtr key;
};

namespace {

// Parsing a SubjectPublicKeyInfo through OpenSSL 3's decoders costs about 1.3 million
// instructions (callgrind), three times an RSA-2048 verification, and DKIM parses the same few
// key records for every message. So the last keys parsed are kept: immutable and shared, as
// every PublicKey is; bounded to KeyMemoSize entries; under a mutex, for the worker threads.
constexpr size_t KeyMemoSize = 16;

struct KeyMemo {
  std::mutex mutex;
  std::deque<std::pair<std::string, PublicKey>> keys;  // oldest first
};

KeyMemo& keyMemo() {
  static KeyMemo* memo = new KeyMemo;  // never destroyed: no order problem at exit
  return *memo;
}

}  // namespace

Result<PublicKey> PublicKey::fromDer(std::string_view der) {
  KeyMemo& memo = keyMemo();
  {
    std::lock_guard lock(memo.mutex);
    for (const auto& [known, key] : memo.keys) {
      if (known == der) return key;
    }
  }
  const unsigned char* p = bytes(der);
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key || p != bytes(der) + der.size()) {
    ERR_clear_error();
    p = bytes(der);
    key.reset(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size())));
    if (!key || p != bytes(der) + der.size()) {
      ERR_clear_error();
      return Error::permanent("key data is neither a SubjectPublicKeyInfo nor an RSA key");
    }
  }
  if (!supported(key.get())) return Error::permanent("key type is neither RSA nor Ed25519");
  auto impl = std::make_shared<Impl>();
  impl->key = std::move(key);
  PublicKey parsed(std::move(impl));
  std::lock_guard lock(memo.mutex);
  if (memo.keys.size() >= KeyMemoSize) memo.keys.pop_front();
  memo.keys.emplace_back(std::string(der), parsed);
  return parsed;
}

Result<PublicKey> PublicKey::fromEd25519Raw(std::string_view raw) {
  if (raw.size() != 32) return Error::permanent("an Ed25519 key has 32 octets");
  PkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes(raw), raw.size()));
  if (!key) return Error::permanent(takeErrors("bad Ed25519 key"));
  auto impl = std::make_shared<Impl>();
  impl->key = std::move(key);
  return PublicKey(std::move(impl));
}

KeyType PublicKey::type() const { return typeOf(impl_->key.get()); }
int PublicKey::bits() const { return EVP_PKEY_bits(impl_->key.get()); }

bool PublicKey::verifyRsaSha256(std::string_view digest, std::string_view signature) const {
  if (type() != KeyType::Rsa || digest.size() != Sha256::DigestSize) return false;
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(impl_->key.get(), nullptr));
  bool ok = ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1 &&
            EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) == 1 &&
            EVP_PKEY_verify(ctx.get(), bytes(signature), signature.size(), bytes(digest),
                            digest.size()) == 1;
  ERR_clear_error();
  return ok;
}

bool PublicKey::verifyEd25519(std::string_view message, std::string_view signature) const {
  if (type() != KeyType::Ed25519) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok = ctx &&
            EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, impl_->key.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(), bytes(message),
                             message.size()) == 1;
  ERR_clear_error();
  return ok;
}

std::string PublicKey::dkimKeyData() const {
  EVP_PKEY* key = impl_->key.get();
  if (type() == KeyType::Ed25519) {
    std::string raw(32, '\0');
    size_t n = raw.size();
    EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &n);
    raw.resize(n);
    return raw;
  }
  int n = i2d_PUBKEY(key, nullptr);
  if (n <= 0) return {};
  std::string der(static_cast<size_t>(n), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_PUBKEY(key, &p);
  return der;
}

// ---- private keys ----------------------------------------------------------------------------

struct PrivateKey::Impl {
  PkeyPtr key;
};

Result<PrivateKey> PrivateKey::fromPem(std::string_view pem) {
  detail::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // An empty passphrase callback: an encrypted key fails instead of prompting on the terminal.
  auto no_password = [](char*, int, int, void*) -> int { return 0; };
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
  if (!key) return Error::config(takeErrors("no PEM private key"));
  if (!supported(key.get())) return Error::config("the key is neither RSA nor Ed25519");
  auto impl = std::make_shared<Impl>();
  impl->key = std::move(key);
  return PrivateKey(std::move(impl));
}

Result<PrivateKey> PrivateKey::fromPemFile(const std::string& path) {
  auto text = detail::readFile(path);
  if (!text) return Error::config(text.error().message());
  auto key = fromPem(*text);
  if (!key) return Error::config(fmt::format("{}: {}", path, key.error().message()));
  return key;
}

Result<PrivateKey> PrivateKey::generateRsa(int bits) {
  if (bits < 1024 || bits > 8192) return Error::config("RSA key size must be 1024..8192 bits");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return Error::config(takeErrors("RSA key generation failed"));
  }
  auto impl = std::make_shared<Impl>();
  impl->key.reset(raw);
  return PrivateKey(std::move(impl));
}

Result<PrivateKey> PrivateKey::generateEd25519() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return Error::config(takeErrors("Ed25519 key generation failed"));
  }
  auto impl = std::make_shared<Impl>();
  impl->key.reset(raw);
  return PrivateKey(std::move(impl));
}

KeyType PrivateKey::type() const { return typeOf(impl_->key.get()); }
int PrivateKey::bits() const { return EVP_PKEY_bits(impl_->key.get()); }

PublicKey PrivateKey::publicKey() const {
  // Through the DER form: the library has no portable "public half" copy.
  EVP_PKEY* key = impl_->key.get();
  int n = i2d_PUBKEY(key, nullptr);
  std::string der(static_cast<size_t>(n > 0 ? n : 0), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (n > 0) i2d_PUBKEY(key, &p);
  const unsigned char* q = bytes(der);
  auto impl = std::make_shared<PublicKey::Impl>();
  impl->key.reset(d2i_PUBKEY(nullptr, &q, static_cast<long>(der.size())));
  return PublicKey(std::move(impl));
}

std::string PrivateKey::toPem() const {
  detail::BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PKCS8PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0, nullptr,
                                    nullptr) != 1) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> PrivateKey::signRsaSha256(std::string_view digest) const {
  if (type() != KeyType::Rsa) return Error::config("not an RSA key");
  if (digest.size() != Sha256::DigestSize) return Error::config("not a SHA-256 digest");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(impl_->key.get(), nullptr));
  size_t n = 0;
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_sign(ctx.get(), nullptr, &n, bytes(digest), digest.size()) != 1) {
    return Error::temporary(takeErrors("RSA signing failed"));
  }
  std::string sig(n, '\0');
  if (EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n, bytes(digest),
                    digest.size()) != 1) {
    return Error::temporary(takeErrors("RSA signing failed"));
  }
  sig.resize(n);
  return sig;
}

Result<std::string> PrivateKey::signEd25519(std::string_view message) const {
  if (type() != KeyType::Ed25519) return Error::config("not an Ed25519 key");
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t n = 64;
  std::string sig(n, '\0');
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n, bytes(message),
                     message.size()) != 1) {
    return Error::temporary(takeErrors("Ed25519 signing failed"));
  }
  sig.resize(n);
  return sig;
}

}  // namespace petrel::tls
