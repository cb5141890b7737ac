// tls/crypto.h: digests, key parsing from the forms DKIM uses, signatures both ways, key
// generation; run in both TLS variants (docs/tls.md).
#include "petrel/tls/crypto.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "petrel/core/base64.h"

namespace petrel::tls {
namespace {

std::string hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string unhex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  }
  return out;
}

std::string testdata(const std::string& name) {
  std::ifstream in(std::string(PETREL_SOURCE_ROOT) + "/test/testdata/dkim/" + name,
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(CryptoTest, Sha256KnownAnswerAndIncremental) {
  EXPECT_EQ(hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  for (char c : std::string("abc")) h.update(std::string_view(&c, 1));
  EXPECT_EQ(h.finish(), sha256("abc"));
  h.reset();
  EXPECT_EQ(hex(h.finish()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(CryptoTest, Ed25519Rfc8032Test1) {
  // RFC 8032 7.1 TEST 1: the empty message.
  auto key = PublicKey::fromEd25519Raw(
      unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->type(), KeyType::Ed25519);
  std::string sig = unhex(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
      "1cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(key->verifyEd25519("", sig));
  EXPECT_FALSE(key->verifyEd25519("x", sig));
  EXPECT_FALSE(key->verifyRsaSha256(sha256(""), sig));
  EXPECT_FALSE(PublicKey::fromEd25519Raw("short"));
}

TEST(CryptoTest, RsaPemPkcs1AndPublicForms) {
  auto key = PrivateKey::fromPem(testdata("2048_testkey.key"));
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->type(), KeyType::Rsa);
  EXPECT_EQ(key->bits(), 2048);
  std::string digest = sha256("message");
  auto sig = key->signRsaSha256(digest);
  ASSERT_TRUE(sig);
  // SubjectPublicKeyInfo (the DKIM p= form) and PKCS#1 RSAPublicKey both read.
  std::string spki_rec = testdata("2048_testkey_wo_markers.pub.txt");
  auto spki = PublicKey::fromDer(*base64Decode(spki_rec.substr(spki_rec.find("p=") + 2), true));
  ASSERT_TRUE(spki) << spki.error().message();
  EXPECT_TRUE(spki->verifyRsaSha256(digest, *sig));
  std::string rec = testdata("2048_testkey_wo_markers.pub.rsa.txt");
  auto pkcs1 = PublicKey::fromDer(*base64Decode(rec.substr(rec.find("p=") + 2), true));
  ASSERT_TRUE(pkcs1) << pkcs1.error().message();
  EXPECT_EQ(pkcs1->bits(), 2048);
  EXPECT_TRUE(pkcs1->verifyRsaSha256(digest, *sig));
  EXPECT_FALSE(pkcs1->verifyRsaSha256(sha256("other"), *sig));
  EXPECT_EQ(key->publicKey().dkimKeyData(), spki->dkimKeyData());
  EXPECT_FALSE(PublicKey::fromDer("garbage"));
}

TEST(CryptoTest, GenerateRoundTripThroughPem) {
  for (bool ed : {true, false}) {
    auto key = ed ? PrivateKey::generateEd25519() : PrivateKey::generateRsa(1024);
    ASSERT_TRUE(key);
    std::string pem = key->toPem();
    EXPECT_NE(pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
    auto again = PrivateKey::fromPem(pem);
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(again->type(), ed ? KeyType::Ed25519 : KeyType::Rsa);
    std::string digest = sha256("hello");
    if (ed) {
      auto sig = again->signEd25519(digest);
      ASSERT_TRUE(sig);
      auto pub = PublicKey::fromEd25519Raw(key->publicKey().dkimKeyData());
      ASSERT_TRUE(pub);
      EXPECT_TRUE(pub->verifyEd25519(digest, *sig));
      EXPECT_FALSE(again->signRsaSha256(digest));
    } else {
      EXPECT_EQ(again->bits(), 1024);
      auto sig = again->signRsaSha256(digest);
      ASSERT_TRUE(sig);
      auto pub = PublicKey::fromDer(key->publicKey().dkimKeyData());
      ASSERT_TRUE(pub);
      EXPECT_TRUE(pub->verifyRsaSha256(digest, *sig));
      EXPECT_FALSE(again->signEd25519(digest));
    }
  }
  EXPECT_FALSE(PrivateKey::generateRsa(512));
  EXPECT_FALSE(PrivateKey::fromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  EXPECT_FALSE(PrivateKey::fromPemFile("/nonexistent/key.pem"));
}

TEST(CryptoTest, Base64) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(*base64Decode("Zm9vYg=="), "foob");
  EXPECT_FALSE(base64Decode("Zm9vYg"));
  EXPECT_EQ(*base64Decode("Zm9v\r\n Yg", true), "foob");
  EXPECT_FALSE(base64Decode("Zm9v Yg=="));
  EXPECT_FALSE(base64Decode("Zm9vYh=="));  // non-zero trailing bits
  EXPECT_FALSE(base64Decode("Z===", true));
  EXPECT_FALSE(base64Decode("Zm9v!", true));
}

}  // namespace
}  // namespace petrel::tls
