// `petrel sieve check FILE`: the script compiled, its first error printed as FILE:line:column
// (exit 1). `petrel sieve test SCRIPT MESSAGE [--from S --to R] [--delimiter D]`: the script
// run against the message (bare LF line ends become CRLF, as delivery sees it), one action per
// line in sieve::formatAction's form; include reads the script's directory (personal) or
// --global-dir. A run-time error is printed to stderr and the implicit keep stands (exit 2).
// Needs no configuration.
#include "sieve_command.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "message_file.h"
#include "petrel/sieve/interpreter.h"

namespace petrel::cli {

namespace {

constexpr std::string_view Usage =
    "usage: petrel sieve check FILE\n"
    "       petrel sieve test SCRIPT MESSAGE [--from S] [--to R] [--delimiter D] "
    "[--global-dir DIR]\n";

std::optional<std::string> readScript(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "petrel sieve: cannot read {}\n", file);
    return std::nullopt;
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int check(const std::string& file) {
  auto text = readScript(file);
  if (!text) return 1;
  auto r = sieve::compile(*text);
  if (auto* e = std::get_if<sieve::SyntaxError>(&r)) {
    fmt::print(stderr, "{}:{}:{}: {}\n", file, e->at.line, e->at.column, e->what);
    return 1;
  }
  fmt::print("{}: ok\n", file);
  return 0;
}

int test(const std::vector<std::string>& args) {
  auto opts = parseOptions(args, {"from", "to", "delimiter", "global-dir"}, Usage);
  if (!opts) return 64;
  if (opts->positional.size() != 2) {
    fmt::print(stderr, "{}", Usage);
    return 64;
  }
  const std::string& script_file = opts->positional[0];
  auto text = readScript(script_file);
  if (!text) return 1;
  sieve::Options options;
  if (opts->values.count("delimiter")) options.recipient_delimiter = opts->values["delimiter"];
  namespace fs = std::filesystem;
  fs::path personal = fs::path(script_file).parent_path();
  fs::path global = opts->values.count("global-dir") ? fs::path(opts->values["global-dir"]) : personal;
  options.include = [personal, global](sieve::IncludeLocation where,
                                       std::string_view name) -> Result<std::string> {
    if (name.find('/') != std::string_view::npos || name.empty() || name[0] == '.') {
      return Error::permanent(fmt::format("bad script name \"{}\"", name));
    }
    fs::path p = (where == sieve::IncludeLocation::Global ? global : personal) /
                 (std::string(name) + ".sieve");
    std::ifstream in(p, std::ios::binary);
    if (!in) return Error::permanent(fmt::format("{} not found", p.string()));
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  auto program = sieve::compile(*text, options);
  if (auto* e = std::get_if<sieve::SyntaxError>(&program)) {
    fmt::print(stderr, "{}:{}:{}: {}\n", script_file, e->at.line, e->at.column, e->what);
    return 1;
  }
  auto raw = readMessage(opts->positional[1], "petrel sieve");
  if (!raw) return 1;
  std::string wire = hasBareLf(*raw) ? toCrlf(*raw) : *raw;
  Split split = splitMessage(wire);
  sieve::MessageView message{split.fields, split.body, wire.size()};
  sieve::Envelope envelope{opts->values["from"], opts->values["to"]};
  auto outcome = sieve::run(*std::get<sieve::ProgramPtr>(program), message, envelope, options);
  for (const auto& a : outcome.actions) fmt::print("{}\n", sieve::formatAction(a));
  if (outcome.error) {
    fmt::print(stderr, "{}: run-time error: {}; the implicit keep stands\n", script_file,
               *outcome.error);
    return 2;
  }
  return 0;
}

}  // namespace

int sieveCommand(const std::vector<std::string>& args) {
  if (args.size() == 3 && args[1] == "check") return check(args[2]);
  if (args.size() >= 2 && args[1] == "test") return test(args);
  fmt::print(stderr, "{}", Usage);
  return 64;
}

}  // namespace petrel::cli
