// The hosts file; see dns/hosts.h.
#include "petrel/dns/hosts.h"

#include <algorithm>
#include <fstream>

#include "petrel/core/strings.h"

namespace petrel::dns {

namespace {

bool sameAddress(const IpAddress& a, const IpAddress& b) {
  IpAddress ua = a.unmapped();
  IpAddress ub = b.unmapped();
  return ua.v6 == ub.v6 && ua.bytes == ub.bytes;
}

}  // namespace

HostsFile HostsFile::parse(std::string_view text) {
  HostsFile hosts;
  for (std::string_view line : split(text, '\n')) {
    if (hosts.entries_.size() == MaxEntries) break;
    line = line.substr(0, line.find('#'));
    std::vector<std::string_view> words;
    for (std::string_view w : split(line, ' ')) {
      for (std::string_view t : split(w, '\t')) {
        t = trim(t);
        if (!t.empty()) words.push_back(t);
      }
    }
    if (words.size() < 2) continue;
    auto address = IpAddress::parse(words[0]);
    if (!address) continue;
    Entry e{*address, std::string(words[0]), {}};
    for (size_t i = 1; i < words.size(); ++i) e.names.push_back(toLower(words[i]));
    hosts.entries_.push_back(std::move(e));
  }
  return hosts;
}

HostsFile HostsFile::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::string text(MaxBytes, '\0');
  in.read(text.data(), std::streamsize(text.size()));
  text.resize(size_t(in.gcount()));
  return parse(text);
}

std::optional<std::string> HostsFile::nameOf(const IpAddress& address) const {
  for (const Entry& e : entries_) {
    if (sameAddress(e.address, address)) return e.names.front();
  }
  return std::nullopt;
}

bool HostsFile::lists(std::string_view name, const IpAddress& address) const {
  std::string wanted = toLower(name);
  for (const Entry& e : entries_) {
    if (!sameAddress(e.address, address)) continue;
    for (const std::string& n : e.names) {
      if (n == wanted) return true;
    }
  }
  return false;
}

std::vector<std::string> HostsFile::addressesOf(std::string_view name) const {
  std::string wanted = toLower(name);
  std::vector<std::string> out;
  for (const Entry& e : entries_) {
    if (std::find(e.names.begin(), e.names.end(), wanted) == e.names.end()) continue;
    if (std::find(out.begin(), out.end(), e.text) == out.end()) out.push_back(e.text);
  }
  return out;
}

}  // namespace petrel::dns
