// Tests for the TLS area: a server engine and a client engine talk to each other through
// strings (no sockets), with the certificates in test/testdata/tls/ (make-certs.sh there).
// The same tests run against OpenSSL 3 and BoringSSL (meson -Dtls=boringssl); where the two
// libraries word things differently the checks look for the common part.
#include "petrel/tls/tls.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace petrel::tls {
namespace {

namespace fs = std::filesystem;

std::string testdata(std::string_view file) {
  return std::string(PETREL_SOURCE_ROOT) + "/test/testdata/tls/" + std::string(file);
}

CertificateFiles mailCert() {
  return {testdata("mail.example.test.crt"), testdata("mail.example.test.key")};
}
CertificateFiles otherCert() {  // a chain file: leaf, then the CA
  return {testdata("other.example.test.crt"), testdata("other.example.test.key")};
}
CertificateFiles selfSignedCert() {
  return {testdata("self-signed.crt"), testdata("self-signed.key")};
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::shared_ptr<ServerContext> makeServer(std::vector<CertificateFiles> certs = {mailCert()},
                                          std::string min_version = "1.2") {
  ServerSettings settings;
  settings.certificates = std::move(certs);
  settings.min_version = std::move(min_version);
  auto ctx = ServerContext::create(settings);
  EXPECT_TRUE(ctx) << ctx.error().message();
  return ctx ? *ctx : nullptr;
}

ClientSettings clientFor(std::string sni, bool verify = false) {
  ClientSettings s;
  s.sni = std::move(sni);
  s.verify = verify;
  s.ca_file = testdata("ca.crt");
  return s;
}

// A client and a server engine joined by two in-memory "wires".
struct Pair {
  std::unique_ptr<Engine> client;
  std::unique_ptr<Engine> server;
  std::string client_error;  // first error feed() returned on each side
  std::string server_error;

  Pair(const ClientSettings& settings, std::shared_ptr<ServerContext> context) {
    auto c = Engine::client(settings);
    auto s = Engine::server(std::move(context));
    EXPECT_TRUE(c) << c.error().message();
    EXPECT_TRUE(s) << s.error().message();
    if (c && s) {
      client = std::move(*c);
      server = std::move(*s);
    }
  }

  // Carries bytes both ways until neither side has anything more to send. Keeps going after
  // an error so that alerts reach the other side.
  void pump() {
    for (int round = 0; round < 50; ++round) {
      std::string to_server = client->takeOutput();
      std::string to_client = server->takeOutput();
      if (to_server.empty() && to_client.empty()) {
        return;
      }
      if (!to_server.empty()) {
        if (Status st = server->feed(to_server); !st && server_error.empty()) {
          server_error = st.error().message();
        }
      }
      if (!to_client.empty()) {
        if (Status st = client->feed(to_client); !st && client_error.empty()) {
          client_error = st.error().message();
        }
      }
    }
    ADD_FAILURE() << "the engines are still talking after 50 rounds";
  }

  bool established() {
    pump();
    return client && server && client->handshakeDone() && server->handshakeDone() &&
           client_error.empty() && server_error.empty();
  }
};

// --- Handshake and application data ---------------------------------------------------------

TEST(TlsEngine, HandshakeThenDataBothWays) {
  Pair q(clientFor("mail.example.test"), makeServer());
  ASSERT_TRUE(q.client);
  // The ClientHello is ready before anything was fed.
  std::string hello = q.client->takeOutput();
  EXPECT_FALSE(hello.empty());
  ASSERT_TRUE(q.client->feed("").ok());  // nothing new: still waiting, no error
  ASSERT_TRUE(q.server->feed(hello).ok());
  ASSERT_TRUE(q.established()) << q.client_error << " / " << q.server_error;

  for (Engine* e : {q.client.get(), q.server.get()}) {
    EXPECT_EQ(e->version(), "TLSv1.3");
    EXPECT_FALSE(e->cipher().empty());
    EXPECT_GE(e->cipherBits(), 128);
    EXPECT_FALSE(e->sessionReused());
    EXPECT_FALSE(e->peerClosed());
  }
  EXPECT_EQ(q.client->cipher(), q.server->cipher());
  EXPECT_EQ(q.server->serverName(), "mail.example.test");
  EXPECT_EQ(q.client->serverName(), "mail.example.test");
  EXPECT_EQ(q.client->peerCommonName(), "mail.example.test");

  ASSERT_TRUE(q.client->write("EHLO client.example\r\n").ok());
  q.pump();
  EXPECT_EQ(q.server->takePlaintext(), "EHLO client.example\r\n");
  EXPECT_EQ(q.server->takePlaintext(), "");  // taking empties it

  // Larger than one record (16 KiB) and than one read chunk.
  std::string big(300 * 1024, 'x');
  for (size_t i = 0; i < big.size(); i += 1000) big[i] = char('a' + i % 26);
  ASSERT_TRUE(q.server->write(big).ok());
  q.pump();
  EXPECT_EQ(q.client->takePlaintext(), big);
}

TEST(TlsEngine, WritesBeforeTheHandshakeAreSentAfterIt) {
  Pair p(clientFor("mail.example.test"), makeServer());
  ASSERT_TRUE(p.client);
  std::string hello = p.client->takeOutput();
  ASSERT_TRUE(p.client->write("EHLO early\r\n").ok());
  ASSERT_TRUE(p.server->write("220 early banner\r\n").ok());
  // Buffered, not sent in the clear: the ClientHello was all the client had to say.
  EXPECT_EQ(p.client->takeOutput(), "");
  EXPECT_EQ(hello.find("EHLO early"), std::string::npos);
  ASSERT_TRUE(p.server->feed(hello).ok());
  p.pump();
  ASSERT_TRUE(p.established());
  EXPECT_EQ(p.server->takePlaintext(), "EHLO early\r\n");
  EXPECT_EQ(p.client->takePlaintext(), "220 early banner\r\n");
}

TEST(TlsEngine, InfoIsEmptyBeforeTheHandshake) {
  auto s = Engine::server(makeServer());
  ASSERT_TRUE(s);
  EXPECT_FALSE((*s)->handshakeDone());
  EXPECT_EQ((*s)->version(), "");
  EXPECT_EQ((*s)->cipher(), "");
  EXPECT_EQ((*s)->cipherBits(), 0);
  EXPECT_EQ((*s)->serverName(), "");
  EXPECT_FALSE((*s)->sessionReused());
  EXPECT_FALSE((*s)->peerVerified());
  EXPECT_EQ((*s)->takeOutput(), "");  // a server speaks second
}

TEST(TlsEngine, ByteByByteFeeding) {
  Pair p(clientFor("mail.example.test"), makeServer());
  ASSERT_TRUE(p.client);
  ASSERT_TRUE(p.client->write("one byte at a time\r\n").ok());
  // Deliver every flight one byte per feed() call: record reassembly is the library's job.
  for (int round = 0; round < 20; ++round) {
    std::string to_server = p.client->takeOutput();
    std::string to_client = p.server->takeOutput();
    if (to_server.empty() && to_client.empty()) break;
    for (char c : to_server) ASSERT_TRUE(p.server->feed(std::string_view(&c, 1)).ok());
    for (char c : to_client) ASSERT_TRUE(p.client->feed(std::string_view(&c, 1)).ok());
  }
  EXPECT_TRUE(p.server->handshakeDone());
  EXPECT_EQ(p.server->takePlaintext(), "one byte at a time\r\n");
}

TEST(TlsEngine, Tls12WhenTheClientStopsThere) {
  ClientSettings settings = clientFor("mail.example.test");
  settings.max_version = "1.2";
  Pair p(settings, makeServer());
  ASSERT_TRUE(p.established()) << p.client_error << " / " << p.server_error;
  EXPECT_EQ(p.server->version(), "TLSv1.2");
  EXPECT_EQ(p.client->version(), "TLSv1.2");
  ASSERT_TRUE(p.client->write("DATA\r\n").ok());
  p.pump();
  EXPECT_EQ(p.server->takePlaintext(), "DATA\r\n");
}

// --- SNI ------------------------------------------------------------------------------------

// The certificate the server presented, seen from a client that asked for `sni`.
std::string presentedFor(const std::string& sni, std::shared_ptr<ServerContext> ctx) {
  Pair p(clientFor(sni), std::move(ctx));
  if (!p.established()) {
    return "handshake failed: " + p.client_error + " / " + p.server_error;
  }
  return p.client->peerCommonName();
}

TEST(TlsEngine, SniSelectsTheMatchingCertificate) {
  auto ctx = makeServer({mailCert(), otherCert()});
  EXPECT_EQ(presentedFor("other.example.test", ctx), "other.example.test");
  EXPECT_EQ(presentedFor("mail.example.test", ctx), "mail.example.test");
  EXPECT_EQ(presentedFor("OTHER.Example.TEST.", ctx), "other.example.test");
  // The second certificate has DNS:*.other.example.test: one label only.
  EXPECT_EQ(presentedFor("smtp.other.example.test", ctx), "other.example.test");
  EXPECT_EQ(presentedFor("a.b.other.example.test", ctx), "mail.example.test");
  // Unknown names and no SNI at all get the first (default) certificate.
  EXPECT_EQ(presentedFor("unknown.example.test", ctx), "mail.example.test");
  EXPECT_EQ(presentedFor("", ctx), "mail.example.test");
  EXPECT_EQ(presentedFor("192.0.2.1", ctx), "mail.example.test");  // IP literals: no SNI
}

TEST(TlsEngine, SniCertificateVerifiesWithItsName) {
  Pair p(clientFor("other.example.test", /*verify=*/true), makeServer({mailCert(), otherCert()}));
  ASSERT_TRUE(p.established()) << p.client_error << " / " << p.server_error;
  EXPECT_EQ(p.server->serverName(), "other.example.test");
  EXPECT_TRUE(p.client->peerVerified()) << p.client->verifyError();
}

TEST(TlsEngine, ClientWithoutSni) {
  Pair p(clientFor(""), makeServer());
  ASSERT_TRUE(p.established());
  EXPECT_EQ(p.server->serverName(), "");
  EXPECT_EQ(p.client->serverName(), "");
}

// --- Verification ---------------------------------------------------------------------------

TEST(TlsEngine, VerifySucceedsWithTheCaAndTheRightName) {
  Pair p(clientFor("mail.example.test", /*verify=*/true), makeServer());
  ASSERT_TRUE(p.established()) << p.client_error << " / " << p.server_error;
  EXPECT_TRUE(p.client->peerVerified());
  EXPECT_EQ(p.client->verifyError(), "");
  EXPECT_FALSE(p.server->peerVerified());  // no client certificates
}

TEST(TlsEngine, VerifyFailsForTheWrongName) {
  Pair p(clientFor("wrong.example.test", /*verify=*/true), makeServer());
  p.pump();
  EXPECT_FALSE(p.client->handshakeDone());
  EXPECT_FALSE(p.client->peerVerified());
  EXPECT_NE(lower(p.client->verifyError()).find("hostname mismatch"), std::string::npos)
      << p.client->verifyError();
  // Both libraries' reason texts are spelled OpenSSL's way (lower case, spaces).
  EXPECT_NE(p.client_error.find("TLS handshake failed: certificate verify failed"),
            std::string::npos)
      << p.client_error;
  EXPECT_NE(lower(p.client_error).find("hostname mismatch"), std::string::npos) << p.client_error;
  // The server hears about it (an alert) and fails too.
  EXPECT_NE(p.server_error.find("alert bad certificate"), std::string::npos) << p.server_error;
  // A broken engine stays broken.
  EXPECT_FALSE(p.client->feed("more").ok());
  EXPECT_FALSE(p.client->write("more").ok());
}

TEST(TlsEngine, VerifyFailsForASelfSignedCertificate) {
  Pair p(clientFor("mail.example.test", /*verify=*/true), makeServer({selfSignedCert()}));
  p.pump();
  EXPECT_FALSE(p.client->handshakeDone());
  EXPECT_FALSE(p.client->peerVerified());
  std::string why = lower(p.client->verifyError());
  EXPECT_NE(why.find("self"), std::string::npos) << why;
  EXPECT_NE(why.find("signed"), std::string::npos) << why;
}

TEST(TlsEngine, VerifyFailsForAnUnknownCa) {
  ClientSettings settings = clientFor("mail.example.test", /*verify=*/true);
  settings.ca_file = testdata("self-signed.crt");  // a trust store without our CA
  Pair p(settings, makeServer());
  p.pump();
  EXPECT_FALSE(p.client->handshakeDone());
  EXPECT_NE(lower(p.client->verifyError()).find("issuer"), std::string::npos)
      << p.client->verifyError();
}

TEST(TlsEngine, WithoutVerifyTheResultIsStillReported) {
  Pair good(clientFor("mail.example.test"), makeServer());
  ASSERT_TRUE(good.established());
  EXPECT_TRUE(good.client->peerVerified());

  Pair wrong(clientFor("wrong.example.test"), makeServer());
  ASSERT_TRUE(wrong.established()) << wrong.client_error;
  EXPECT_FALSE(wrong.client->peerVerified());
  EXPECT_NE(lower(wrong.client->verifyError()).find("hostname mismatch"), std::string::npos)
      << wrong.client->verifyError();
}

TEST(TlsEngine, MissingCaFile) {
  ClientSettings settings = clientFor("mail.example.test", /*verify=*/true);
  settings.ca_file = testdata("no-such-ca.crt");
  auto c = Engine::client(settings);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("no-such-ca.crt: cannot read"), std::string::npos)
      << c.error().message();

  settings.verify = false;  // opportunistic: go ahead, but nothing can verify
  Pair p(settings, makeServer());
  ASSERT_TRUE(p.established());
  EXPECT_FALSE(p.client->peerVerified());
  EXPECT_NE(p.client->verifyError().find("no-such-ca.crt"), std::string::npos)
      << p.client->verifyError();
}

TEST(TlsEngine, ClientSettingErrors) {
  ClientSettings settings = clientFor("", /*verify=*/true);
  auto no_name = Engine::client(settings);
  ASSERT_FALSE(no_name);
  EXPECT_NE(no_name.error().message().find("sni"), std::string::npos);

  settings = clientFor("mail.example.test");
  settings.min_version = "1.4";
  EXPECT_FALSE(Engine::client(settings));
  settings.min_version = "1.3";
  settings.max_version = "1.2";
  EXPECT_FALSE(Engine::client(settings));
}

// --- Protocol versions ----------------------------------------------------------------------

TEST(TlsEngine, ServerRefusesTls11) {
  ClientSettings settings = clientFor("mail.example.test");
  settings.min_version = "1.0";
  settings.max_version = "1.1";
  Pair p(settings, makeServer());
  p.pump();
  EXPECT_FALSE(p.server->handshakeDone());
  EXPECT_FALSE(p.client->handshakeDone());
  EXPECT_FALSE(p.server_error.empty());
  EXPECT_FALSE(p.client_error.empty());
  EXPECT_EQ(p.server_error, "TLS handshake failed: unsupported protocol");
  EXPECT_NE(p.client_error.find("alert protocol version"), std::string::npos) << p.client_error;
}

TEST(TlsEngine, MinVersion13RefusesTls12) {
  ClientSettings settings = clientFor("mail.example.test");
  settings.max_version = "1.2";
  Pair p(settings, makeServer({mailCert()}, "1.3"));
  p.pump();
  EXPECT_FALSE(p.server->handshakeDone());
  EXPECT_FALSE(p.server_error.empty());
  EXPECT_EQ(p.server_error, "TLS handshake failed: unsupported protocol");
  EXPECT_NE(p.client_error.find("alert protocol version"), std::string::npos) << p.client_error;

  Pair modern(clientFor("mail.example.test"), makeServer({mailCert()}, "1.3"));
  EXPECT_TRUE(modern.established());
}

// --- Broken input and closing ---------------------------------------------------------------

TEST(TlsEngine, GarbageCiphertextIsAnError) {
  auto s = Engine::server(makeServer());
  ASSERT_TRUE(s);
  Status st = (*s)->feed("EHLO plaintext.example\r\n");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message(), "TLS handshake failed: wrong version number");
  EXPECT_TRUE(st.error().temporary());
  EXPECT_FALSE((*s)->feed("\x16\x03\x01").ok());  // stays failed
}

TEST(TlsEngine, GarbageAfterTheHandshakeIsAnError) {
  Pair p(clientFor("mail.example.test"), makeServer());
  ASSERT_TRUE(p.established());
  // An application data record whose contents do not authenticate.
  std::string record = "\x17\x03\x03";
  record += std::string("\x00\x20", 2);
  record += std::string(32, 'z');
  Status st = p.server->feed(record);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("TLS read failed"), std::string::npos)
      << st.error().message();
  EXPECT_FALSE(p.server->write("250 ok\r\n").ok());
}

TEST(TlsEngine, ShutdownSendsCloseNotify) {
  Pair p(clientFor("mail.example.test"), makeServer());
  ASSERT_TRUE(p.established());
  ASSERT_TRUE(p.client->write("QUIT\r\n").ok());
  p.client->shutdown();
  EXPECT_FALSE(p.client->write("late").ok());
  p.pump();
  EXPECT_EQ(p.server->takePlaintext(), "QUIT\r\n");
  EXPECT_TRUE(p.server->peerClosed());
  EXPECT_FALSE(p.client->peerClosed());
  p.server->shutdown();
  p.server->shutdown();  // twice is harmless
  p.pump();
  EXPECT_TRUE(p.client->peerClosed());
  EXPECT_TRUE(p.client_error.empty() && p.server_error.empty())
      << p.client_error << " / " << p.server_error;
}

TEST(TlsEngine, ShutdownBeforeTheHandshakeWaitsForIt) {
  Pair p(clientFor("mail.example.test"), makeServer());
  ASSERT_TRUE(p.client);
  ASSERT_TRUE(p.client->write("QUIT\r\n").ok());
  p.client->shutdown();
  p.pump();
  EXPECT_TRUE(p.server->handshakeDone());
  EXPECT_EQ(p.server->takePlaintext(), "QUIT\r\n");
  EXPECT_TRUE(p.server->peerClosed());
}

// --- Session resumption ---------------------------------------------------------------------

// One full handshake with a little data each way, then the engines are dropped the way a
// server drops them: `close` says whether close_notify was exchanged first.
bool connectOnce(const ClientSettings& settings, std::shared_ptr<ServerContext> ctx, bool close,
                 bool* server_reused = nullptr) {
  Pair p(settings, std::move(ctx));
  EXPECT_TRUE(p.established()) << p.client_error << " / " << p.server_error;
  EXPECT_TRUE(p.client->write("EHLO x\r\n").ok());
  EXPECT_TRUE(p.server->write("250 ok\r\n").ok());
  p.pump();  // also delivers TLS 1.3 session tickets
  if (close) {
    p.client->shutdown();
    p.pump();
    p.server->shutdown();
    p.pump();
  }
  EXPECT_EQ(p.client->sessionReused(), p.server->sessionReused());
  if (server_reused != nullptr) *server_reused = p.server->sessionReused();
  return p.client->sessionReused();
}

TEST(TlsSessions, Tls13TicketResumes) {
  auto ctx = makeServer();
  ClientSettings settings = clientFor("mail.example.test");
  settings.sessions = ClientSessionCache::create();
  EXPECT_FALSE(connectOnce(settings, ctx, /*close=*/true));
  EXPECT_EQ(settings.sessions->size(), 1u);
  EXPECT_TRUE(connectOnce(settings, ctx, /*close=*/true));
  // SMTP peers often close without close_notify; the session must survive that too.
  EXPECT_TRUE(connectOnce(settings, ctx, /*close=*/false));
  EXPECT_TRUE(connectOnce(settings, ctx, /*close=*/false));
}

TEST(TlsSessions, Tls12TicketResumes) {
  auto ctx = makeServer();
  ClientSettings settings = clientFor("mail.example.test");
  settings.max_version = "1.2";
  settings.sessions = ClientSessionCache::create();
  EXPECT_FALSE(connectOnce(settings, ctx, /*close=*/false));
  EXPECT_TRUE(connectOnce(settings, ctx, /*close=*/false));
}

TEST(TlsSessions, Tls12SessionIdCacheResumes) {
  auto ctx = makeServer();
  ClientSettings settings = clientFor("mail.example.test");
  settings.max_version = "1.2";
  settings.session_tickets = false;
  settings.sessions = ClientSessionCache::create();
  EXPECT_FALSE(connectOnce(settings, ctx, /*close=*/false));
  EXPECT_TRUE(connectOnce(settings, ctx, /*close=*/false));
  EXPECT_TRUE(connectOnce(settings, ctx, /*close=*/true));
}

TEST(TlsSessions, ResumedSessionKeepsTheVerificationResult) {
  auto ctx = makeServer();
  ClientSettings settings = clientFor("mail.example.test", /*verify=*/true);
  settings.sessions = ClientSessionCache::create();
  connectOnce(settings, ctx, true);
  Pair p(settings, ctx);
  ASSERT_TRUE(p.established());
  EXPECT_TRUE(p.client->sessionReused());
  EXPECT_TRUE(p.client->peerVerified()) << p.client->verifyError();
}

TEST(TlsSessions, NoResumptionAcrossVerifySettingsOrNames) {
  auto ctx = makeServer({mailCert(), otherCert()});
  auto cache = ClientSessionCache::create();
  ClientSettings plain = clientFor("mail.example.test");
  plain.sessions = cache;
  EXPECT_FALSE(connectOnce(plain, ctx, true));
  ClientSettings verifying = clientFor("mail.example.test", /*verify=*/true);
  verifying.sessions = cache;
  EXPECT_FALSE(connectOnce(verifying, ctx, true));
  ClientSettings other = clientFor("other.example.test");
  other.sessions = cache;
  EXPECT_FALSE(connectOnce(other, ctx, true));
  EXPECT_EQ(cache->size(), 3u);
  EXPECT_TRUE(connectOnce(other, ctx, true));  // resumes, and with the SNI certificate
}

TEST(TlsSessions, ANewServerContextStartsAfresh) {
  ClientSettings settings = clientFor("mail.example.test");
  settings.sessions = ClientSessionCache::create();
  EXPECT_FALSE(connectOnce(settings, makeServer(), true));
  // A reload makes a new context with new ticket keys: a full handshake, not a failure.
  EXPECT_FALSE(connectOnce(settings, makeServer(), true));
}

TEST(TlsSessions, CacheKeepsTheNewestEntries) {
  auto ctx = makeServer({mailCert(), otherCert()});
  auto cache = ClientSessionCache::create(2);
  for (const char* name : {"mail.example.test", "other.example.test", "a.other.example.test"}) {
    ClientSettings s = clientFor(name);
    s.sessions = cache;
    connectOnce(s, ctx, true);
  }
  EXPECT_EQ(cache->size(), 2u);
  ClientSettings first = clientFor("mail.example.test");  // dropped as the oldest
  first.sessions = cache;
  EXPECT_FALSE(connectOnce(first, ctx, true));
  ClientSettings last = clientFor("a.other.example.test");
  last.sessions = cache;
  EXPECT_TRUE(connectOnce(last, ctx, true));
}

TEST(TlsSessions, ContextAndCacheAreSharedAcrossThreads) {
  // Workers share one ServerContext and one ClientSessionCache; engines stay on one thread.
  auto ctx = makeServer({mailCert(), otherCert()});
  auto cache = ClientSessionCache::create();
  std::atomic<int> established{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      ClientSettings s = clientFor(t % 2 == 0 ? "mail.example.test" : "other.example.test", true);
      s.sessions = cache;
      for (int i = 0; i < 10; ++i) {
        Pair p(s, ctx);
        if (p.established()) ++established;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(established.load(), 40);
  EXPECT_EQ(cache->size(), 2u);
}

// --- ServerContext --------------------------------------------------------------------------

std::string createError(std::vector<CertificateFiles> certs, std::string min_version = "1.2") {
  ServerSettings settings;
  settings.certificates = std::move(certs);
  settings.min_version = std::move(min_version);
  auto ctx = ServerContext::create(settings);
  if (ctx) return "no error";
  EXPECT_EQ(ctx.error().kind(), Error::Kind::Config);
  return ctx.error().message();
}

TEST(TlsServerContext, DescribesEachCertificate) {
  auto ctx = makeServer({mailCert(), otherCert()});
  ASSERT_TRUE(ctx);
  auto lines = ctx->describe();
  ASSERT_EQ(lines.size(), 2u);
  // The dates of the committed files (make-certs.sh changes them).
  EXPECT_EQ(lines[0], "CN=mail.example.test, notAfter=2126-10-29T18:15:24Z");
  EXPECT_EQ(lines[1], "CN=other.example.test, notAfter=2126-10-29T18:15:24Z");
}

TEST(TlsServerContext, ErrorsNameTheFile) {
  std::string missing_cert =
      createError({{testdata("nope.crt"), testdata("mail.example.test.key")}});
  EXPECT_NE(missing_cert.find("nope.crt: cannot read: No such file or directory"),
            std::string::npos)
      << missing_cert;

  std::string missing_key =
      createError({{testdata("mail.example.test.crt"), testdata("nope.key")}});
  EXPECT_NE(missing_key.find("nope.key: cannot read"), std::string::npos) << missing_key;

  std::string mismatch =
      createError({{testdata("mail.example.test.crt"), testdata("other.example.test.key")}});
  EXPECT_NE(mismatch.find(testdata("other.example.test.key") + ": the private key does not match"),
            std::string::npos)
      << mismatch;
  EXPECT_NE(mismatch.find("mail.example.test.crt"), std::string::npos) << mismatch;

  std::string not_pem =
      createError({{testdata("make-certs.sh"), testdata("mail.example.test.key")}});
  EXPECT_NE(not_pem.find("make-certs.sh: no PEM certificate found"), std::string::npos) << not_pem;

  std::string key_as_cert =
      createError({{testdata("mail.example.test.crt"), testdata("mail.example.test.crt")}});
  EXPECT_NE(key_as_cert.find("mail.example.test.crt: no usable PEM private key"), std::string::npos)
      << key_as_cert;

  std::string encrypted =
      createError({{testdata("mail.example.test.crt"), testdata("encrypted.key")}});
  EXPECT_NE(encrypted.find("encrypted.key: the private key is encrypted"), std::string::npos)
      << encrypted;

  // The second certificate is checked as carefully as the first.
  std::string second =
      createError({mailCert(), {testdata("other.example.test.crt"), testdata("nope.key")}});
  EXPECT_NE(second.find("nope.key"), std::string::npos) << second;
}

TEST(TlsServerContext, SettingErrors) {
  EXPECT_EQ(createError({}), "tls: no certificate configured");
  EXPECT_NE(createError({mailCert()}, "1.1").find("min_version"), std::string::npos);
  EXPECT_NE(createError({mailCert()}, "TLSv1.2").find("min_version"), std::string::npos);
  EXPECT_EQ(createError({mailCert()}, "1.3"), "no error");
}

TEST(TlsServerContext, EngineOutlivesTheContextHandle) {
  auto ctx = makeServer();
  Pair p(clientFor("mail.example.test"), ctx);
  ctx.reset();  // a reload dropped it; the running session keeps its own reference
  ASSERT_TRUE(p.established());
}

// --- ensureSelfSigned -----------------------------------------------------------------------

class TlsTempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/petrel-tls-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }

  static mode_t modeOf(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }
  static std::string contents(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string root_;
};

using TlsSelfSigned = TlsTempDir;
using TlsClientCa = TlsTempDir;

TEST_F(TlsClientCa, AChangedCaFileIsReloaded) {
  std::string ca = root_ + "/ca.pem";
  fs::copy_file(testdata("self-signed.crt"), ca);
  ClientSettings settings = clientFor("mail.example.test", /*verify=*/true);
  settings.ca_file = ca;
  Pair before(settings, makeServer());
  before.pump();
  EXPECT_FALSE(before.client->handshakeDone());

  fs::copy_file(testdata("ca.crt"), ca, fs::copy_options::overwrite_existing);
  Pair after(settings, makeServer());
  ASSERT_TRUE(after.established()) << after.client_error;
  EXPECT_TRUE(after.client->peerVerified());
}

TEST_F(TlsSelfSigned, CreatesAPairTheServerAcceptsAndClientsCanPin) {
  std::string cert = root_ + "/state/tls/cert.pem";
  std::string key = root_ + "/state/tls/private/key.pem";
  Status st = ensureSelfSigned("MX.Example.TEST", cert, key);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(modeOf(key), 0600u);
  EXPECT_EQ(modeOf(root_ + "/state"), 0700u);
  EXPECT_EQ(modeOf(root_ + "/state/tls"), 0700u);
  EXPECT_EQ(modeOf(root_ + "/state/tls/private"), 0700u);
  EXPECT_NE(contents(cert).find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  EXPECT_NE(contents(key).find("PRIVATE KEY-----"), std::string::npos);

  ServerSettings settings;
  settings.certificates = {{cert, key}};
  auto ctx = ServerContext::create(settings);
  ASSERT_TRUE(ctx) << ctx.error().message();
  auto lines = (*ctx)->describe();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("CN=mx.example.test, notAfter=", 0), 0u) << lines[0];
  // Ten years from now (the year is within 9..11 years of today's).
  int year = std::stoi(lines[0].substr(lines[0].find("notAfter=") + 9, 4));
  time_t now = time(nullptr);
  int this_year = gmtime(&now)->tm_year + 1900;
  EXPECT_GE(year, this_year + 9);
  EXPECT_LE(year, this_year + 11);

  // A client that trusts exactly this certificate verifies it by its SAN.
  ClientSettings client = clientFor("mx.example.test", /*verify=*/true);
  client.ca_file = cert;
  Pair p(client, *ctx);
  ASSERT_TRUE(p.established()) << p.client_error << " / " << p.server_error;
  EXPECT_TRUE(p.client->peerVerified()) << p.client->verifyError();
  EXPECT_EQ(p.client->peerCommonName(), "mx.example.test");
}

TEST_F(TlsSelfSigned, IsIdempotent) {
  std::string cert = root_ + "/cert.pem";
  std::string key = root_ + "/key.pem";
  ASSERT_TRUE(ensureSelfSigned("mx.example.test", cert, key));
  std::string cert_before = contents(cert);
  std::string key_before = contents(key);
  ASSERT_TRUE(ensureSelfSigned("mx.example.test", cert, key));
  ASSERT_TRUE(ensureSelfSigned("other.example.test", cert, key));  // the file decides
  EXPECT_EQ(contents(cert), cert_before);
  EXPECT_EQ(contents(key), key_before);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(root_)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"cert.pem", "key.pem"}));  // no temporary left
}

TEST_F(TlsSelfSigned, ExistingCertificateIsLeftAlone) {
  std::string cert = root_ + "/cert.pem";
  std::ofstream(cert) << "admin's own file\n";
  ASSERT_TRUE(ensureSelfSigned("mx.example.test", cert, root_ + "/key.pem"));
  EXPECT_EQ(contents(cert), "admin's own file\n");
  EXPECT_FALSE(fs::exists(root_ + "/key.pem"));
}

TEST_F(TlsSelfSigned, OneFileForBoth) {
  std::string both = root_ + "/both.pem";
  ASSERT_TRUE(ensureSelfSigned("mx.example.test", both, both));
  EXPECT_EQ(modeOf(both), 0600u);
  ServerSettings settings;
  settings.certificates = {{both, both}};
  auto ctx = ServerContext::create(settings);
  EXPECT_TRUE(ctx) << ctx.error().message();
}

TEST_F(TlsSelfSigned, Errors) {
  EXPECT_FALSE(ensureSelfSigned("", root_ + "/c.pem", root_ + "/k.pem"));
  EXPECT_FALSE(ensureSelfSigned("192.0.2.1", root_ + "/c.pem", root_ + "/k.pem"));
  std::ofstream(root_ + "/file") << "x";
  Status st = ensureSelfSigned("mx.example.test", root_ + "/file/c.pem", root_ + "/file/k.pem");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find(root_ + "/file"), std::string::npos) << st.error().message();
}

// --- Library --------------------------------------------------------------------------------

TEST(TlsLibrary, NameIsOneOfTheTwoVariants) {
  std::string name = libraryName();
  EXPECT_TRUE(name == "boringssl" || name.rfind("openssl 3.", 0) == 0) << name;
}

}  // namespace
}  // namespace petrel::tls
