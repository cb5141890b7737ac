// Message files for the `petrel dkim` and `petrel arc` commands: reading one (or standard
// input) with a size bound, CRLF conversion (files may use bare LF; signatures are made and
// checked over the wire form), the split into header fields and body, and "--name value"
// options. Private to source/cli/.
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/content/header_section.h"

namespace petrel::cli {

struct Options {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;
};

// "--name value" pairs among `args` from index 2 (args[0] the command, args[1] the
// subcommand); nullopt, after printing "petrel CMD SUB: bad argument" and `usage`, on a bad one.
std::optional<Options> parseOptions(const std::vector<std::string>& args,
                                    std::initializer_list<std::string_view> known,
                                    std::string_view usage);

// The file's contents ("-": standard input), at most 64 MiB; nullopt after a message naming
// `command` ("petrel dkim") on failure.
std::optional<std::string> readMessage(const std::string& file, std::string_view command);

bool hasBareLf(const std::string& text);
std::string toCrlf(const std::string& text);
std::string withoutCr(const std::string& text);

struct Split {
  std::vector<content::HeaderField> fields;
  std::string_view body;  // into the text given
};
Split splitMessage(const std::string& wire);

}  // namespace petrel::cli
