// libFuzzer target for the file-based lookup backends (regexp, cidr, file): the parsers of
// their files and the matching of keys against what they parsed.
//
// Input: one selector byte (low two bits: 0 regexp, 1 cidr, 2 or 3 file), then the table file,
// then optionally 0xFF and keys separated by LF. The file is written to a private temporary
// file, the table built through makeTable() as the server does, and every key looked up.
// Aborts when an invariant breaks: a lookup of a loaded file answering ConfigError, or TempFail
// from anything but a regexp match PCRE2 could not finish; a warning that does not name the
// table and a line ("table <type>:<path>: line N: ..."); a key that is not an address literal
// found in a cidr table.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/core/cidr.h"
#include "petrel/core/strings.h"
#include "petrel/lookup/lookup_table.h"

namespace {

const std::string& tablePath() {
  static const std::string path = [] {
    char pattern[] = "/tmp/petrel-lookup-fuzz-XXXXXX";
    int fd = ::mkstemp(pattern);
    if (fd < 0) std::abort();
    ::close(fd);
    return std::string(pattern);
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace petrel;
  if (size == 0) return 0;
  static const char* const Types[] = {"regexp", "cidr", "file", "file"};
  const std::string type = Types[data[0] & 3];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t separator = rest.find('\xff');
  std::string_view file = rest.substr(0, separator);
  std::string_view keys = separator == std::string_view::npos ? "" : rest.substr(separator + 1);

  const std::string& path = tablePath();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (!file.empty() && std::fwrite(file.data(), 1, file.size(), f) != file.size()) std::abort();
  std::fclose(f);

  config::TableSpec spec;
  spec.name = type + ":" + path;
  spec.type = type;
  spec.path = path;
  const std::string prefix = "table " + type + ":" + path + ": line ";
  lookup::TablePtr table = lookup::makeTable(spec, [&](const std::string& w) {
    if (w.rfind(prefix, 0) != 0) std::abort();
  });
  for (std::string_view key : split(keys, '\n')) {
    lookup::LookupResult r = table->lookup(key);
    if (r.status == lookup::LookupStatus::ConfigError) std::abort();
    if (r.status == lookup::LookupStatus::TempFail &&
        (type != "regexp" || r.error.find(": cannot match \"") == std::string::npos)) {
      std::abort();
    }
    if (type == "cidr" && r.status == lookup::LookupStatus::Found && !IpAddress::parse(key)) {
      std::abort();
    }
  }
  return 0;
}
