// HostsFile: the system's hosts file (hosts(5)), the "files" source that the C library's
// resolver asks before DNS (nsswitch.conf "hosts: files dns"). Postfix's smtpd finds a
// client's name through it, so 127.0.0.1 is "localhost" without a DNS query; Petrel's own
// resolver speaks DNS only, and the client-name lookup at connect asks this first
// (server/client_name.h). Pure: parse() takes the text; load() reads a file once, bounded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/cidr.h"

namespace petrel::dns {

class HostsFile {
 public:
  static constexpr size_t MaxBytes = 1 << 20;
  static constexpr size_t MaxEntries = 4096;

  // Lines "address name [alias...]", '#' comments; malformed lines are skipped, as the C
  // library does. At most MaxEntries lines are kept.
  static HostsFile parse(std::string_view text);
  // The file at `path`, its first MaxBytes; a missing or unreadable file is an empty one.
  static HostsFile load(const std::string& path);

  // The canonical name of `address` (the first name of the first line that lists it; IPv4
  // written as IPv4-mapped IPv6 counts as IPv4), as gethostbyaddr() answers from the file.
  std::optional<std::string> nameOf(const IpAddress& address) const;
  // Whether a line lists `name` (any of its names, case-insensitively) with `address`.
  bool lists(std::string_view name, const IpAddress& address) const;
  // The addresses of the lines that list `name` (case-insensitively), as written, in file
  // order and each once, as getaddrinfo() answers from the file ("localhost": 127.0.0.1, ::1).
  std::vector<std::string> addressesOf(std::string_view name) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    IpAddress address;
    std::string text;                // the address as written
    std::vector<std::string> names;  // lower case
  };
  std::vector<Entry> entries_;
};

}  // namespace petrel::dns
