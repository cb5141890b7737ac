// canonical.headers: header address rewriting for queued messages (see canonical_headers.h).
#include "petrel/server/canonical_headers.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "petrel/core/strings.h"

namespace petrel::server {

Result<bool> rewritesHeadersOf(const Snapshot& snap, const queue::StoredMessage& m) {
  using Clients = config::Config::HeaderRewriteClients;
  switch (snap.config->canonical_headers) {
    case Clients::All:
      return true;
    case Clients::None:
      return false;
    case Clients::Local:
      break;
  }
  if (m.protocol.ends_with('A')) return true;
  // Local submissions (sendmail, server/pickup.h) and mail of our own are local too.
  if (m.client == "local") return true;
  // m.client is "host[ip]".
  size_t open = m.client.rfind('[');
  size_t close = m.client.rfind(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  std::string ip = m.client.substr(open + 1, close - open - 1);
  if (snap.mynetworks && snap.mynetworks->contains(ip)) return true;
  if (!snap.mynetworks_table) return false;
  lookup::LookupResult r = snap.mynetworks_table->lookup(ip);
  if (r.status == lookup::LookupStatus::Found) return true;
  if (r.status == lookup::LookupStatus::NotFound) return false;
  return Error::temporary(r.error.empty() ? snap.mynetworks_table->describe() + ": lookup failed"
                                          : r.error);
}

namespace {

// The start of a spool file up to the end of its header section (the empty line), at most
// `limit` bytes: read in 64 KiB steps, since the header is usually a few KiB of a large message.
Result<std::string> readHeaderSection(const std::string& path, size_t limit) {
  constexpr size_t Step = 64 * 1024;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error::temporary(fmt::format("cannot open queue file {}: {}", path, systemErrorText(errno)));
  }
  std::string out;
  while (out.size() < limit) {
    size_t have = out.size();
    out.resize(std::min(limit, have + Step));
    ssize_t n = ::read(fd, out.data() + have, out.size() - have);
    if (n < 0 && errno == EINTR) {
      out.resize(have);
      continue;
    }
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Error::temporary(fmt::format("cannot read queue file {}: {}", path, systemErrorText(err)));
    }
    out.resize(have + static_cast<size_t>(n));
    // The empty line may straddle two reads: look from 3 bytes before the new data.
    if (n == 0 || out.find("\r\n\r\n", have < 3 ? 0 : have - 3) != std::string::npos) break;
  }
  ::close(fd);
  return out;
}

}  // namespace

Result<delivery::RewrittenHeader> canonicalHeaders(const Snapshot& snap,
                                                   const queue::StoredMessage& m) {
  const delivery::Router& router = *snap.router;
  if (!router.hasCanonicalMaps()) return delivery::RewrittenHeader{};
  Result<bool> applies = rewritesHeadersOf(snap, m);
  if (!applies) return applies.error();
  if (!*applies) return delivery::RewrittenHeader{};
  std::string spool_start;
  std::string_view message = m.body;
  if (!m.spool_path.empty()) {
    auto start = readHeaderSection(m.spool_path, delivery::MaxRewrittenHeaderBytes);
    if (!start) return start.error();
    spool_start = std::move(*start);
    message = spool_start;
  }
  return delivery::rewriteHeaderAddresses(
      message, [&router](delivery::HeaderAddressClass cls, std::string_view address) {
        return cls == delivery::HeaderAddressClass::Sender ? router.canonicalSender(address)
                                                           : router.canonicalRecipient(address);
      });
}

}  // namespace petrel::server
