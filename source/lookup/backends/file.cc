// The `file` backend: a flat text file of `key value` lines, reloaded when it changes.
//
// Format: one entry per line, the key up to the first blank, the value the rest of the line
// (trimmed); blank lines and lines starting with '#' are ignored; a key without a value is
// warned about and skipped; for a duplicate key the first line wins. Keys are lower-cased.
// There are no continuation lines (unlike regexp and cidr files).
//
// Loading, reloading, the TempFail-until-loaded and keep-the-last-good-contents rules belong
// to FileBackedTable (file_backed_table.h); this file only parses.
#include <fmt/format.h>

#include "../file_backed_table.h"
#include "petrel/core/strings.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {

namespace {

class KeyValueContents final : public TableContents {
 public:
  LookupResult find(std::string_view key) const override {
    const std::string* value = map.find(key);
    return value ? LookupResult::found(*value) : LookupResult::notFound();
  }

  KeyValueMap map;
};

class FileTable final : public FileBackedTable {
 public:
  FileTable(std::string path, Warn warn)
      : FileBackedTable("file", std::move(path), std::move(warn)) {
    refresh();
  }

 private:
  ContentsPtr parse(std::string_view text) const override {
    auto contents = std::make_shared<KeyValueContents>();
    size_t line_number = 0;
    for (std::string_view raw : split(text, '\n')) {
      ++line_number;
      std::string_view line = trim(raw);  // also drops a CR of CRLF files
      if (line.empty() || line.front() == '#') {
        continue;
      }
      size_t blank = line.find_first_of(" \t");
      std::string_view key = line.substr(0, blank);
      std::string_view value =
          blank == std::string_view::npos ? std::string_view{} : trim(line.substr(blank));
      if (value.empty()) {
        warnLine(line_number, "missing value: skipping");
        continue;
      }
      if (!contents->map.insert(key, std::string(value))) {
        warnLine(line_number, fmt::format("duplicate key \"{}\": keeping the first", key));
      }
    }
    return contents;
  }
};

}  // namespace

TablePtr makeFileTable(const config::TableSpec& spec, const Warn& warn) {
  return std::make_shared<FileTable>(spec.path, warn);
}

}  // namespace petrel::lookup
