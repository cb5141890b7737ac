// TLS for Petrel: certificates and contexts, and an I/O-free engine per connection.
//
// This area is the only code that includes <openssl/*>. It compiles against OpenSSL 3 (the
// default) and Debian's BoringSSL (meson -Dtls=boringssl); docs/tls.md says why. The engine
// never touches sockets: the driver feeds it ciphertext read from the network, sends the
// ciphertext it produces, and reads/writes plaintext (memory BIOs under the hood).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::tls {

struct CertificateFiles {
  std::string cert;  // PEM chain: leaf first
  std::string key;   // PEM private key
};

struct ServerSettings {
  // The first is the default; others are chosen by SNI (matched against each leaf's DNS
  // subjectAltNames, then its CN; "*.example.com" wildcards match one label).
  std::vector<CertificateFiles> certificates;
  std::string min_version = "1.2";  // "1.2" | "1.3"
};

// Loaded certificates and keys; shared by every TLS session that starts while it is current.
// Reload (SIGHUP) makes a new one; sessions keep the context they started with.
class ServerContext {
 public:
  virtual ~ServerContext() = default;
  // Errors are Config errors naming the file and what is wrong with it.
  static Result<std::shared_ptr<ServerContext>> create(const ServerSettings& settings);
  // "CN=..., notAfter=..." for each certificate, for the startup log.
  virtual std::vector<std::string> describe() const = 0;
};

// Remembers the newest session per server for Engine::client, so that the next connection to
// the same server resumes it (abbreviated handshake). Thread-safe: one cache may serve every
// worker. Entries are keyed by sni, verify and ca_file, so a session made without
// verification is never resumed by a client that requires it.
class ClientSessionCache {
 public:
  virtual ~ClientSessionCache() = default;
  // Keeps at most `max_entries` servers; storing one more drops the least recently stored.
  static std::shared_ptr<ClientSessionCache> create(std::size_t max_entries = 1000);
  virtual std::size_t size() const = 0;
};

struct ClientSettings {
  std::string sni;               // server name to send, and to verify when verify is set
  bool verify = false;           // check the chain against ca_file and the name against sni
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";
  std::string min_version = "1.2";  // "1.0" | "1.1" | "1.2" | "1.3"
  std::string max_version;          // "" = the newest the library has; else as min_version
  std::shared_ptr<ClientSessionCache> sessions;  // null: every handshake is a full one
  bool session_tickets = true;  // false: TLS 1.2 resumes by session id (the server's cache)
};

// One TLS connection. Not thread-safe; used on one loop.
class Engine {
 public:
  virtual ~Engine() = default;
  static Result<std::unique_ptr<Engine>> server(std::shared_ptr<ServerContext> context);
  static Result<std::unique_ptr<Engine>> client(const ClientSettings& settings);

  // Ciphertext from the network. Drives the handshake; decrypted bytes become readable.
  // An Error means the connection is broken (bad record, handshake failure): log and close.
  virtual Status feed(std::string_view ciphertext) = 0;
  // Ciphertext to send (handshake messages, encrypted application data, alerts); empties it.
  virtual std::string takeOutput() = 0;
  // Decrypted application data received so far; empties it.
  virtual std::string takePlaintext() = 0;
  // Encrypts application data (buffered until the handshake is done).
  virtual Status write(std::string_view plaintext) = 0;
  // Queue a close_notify alert.
  virtual void shutdown() = 0;

  virtual bool handshakeDone() const = 0;
  virtual bool peerClosed() const = 0;  // close_notify received
  virtual std::string version() const = 0;  // "TLSv1.3"
  virtual std::string cipher() const = 0;   // "TLS_AES_256_GCM_SHA384"
  virtual int cipherBits() const = 0;
  virtual std::string serverName() const = 0;  // SNI the client asked for ("" if none)
  virtual bool sessionReused() const = 0;
  // Client side: did the peer certificate verify (chain and name)? With the reason when not.
  virtual bool peerVerified() const = 0;
  virtual std::string verifyError() const = 0;
  // Subject CN of the peer's certificate ("" if none), for logs ("peer CN" in Postfix).
  virtual std::string peerCommonName() const { return {}; }
};

// Writes a new self-signed certificate (EC P-256, SAN = hostname, 10 years) and its key
// (mode 0600) when `cert_path` does not exist yet; used for the quick start.
Status ensureSelfSigned(const std::string& hostname, const std::string& cert_path,
                        const std::string& key_path);

// "openssl 3.0.x" or "boringssl", for logs and `petrel version`.
std::string libraryName();

}  // namespace petrel::tls
