// The Sieve interpreter (RFC 5228 and the extensions listed in docs/sieve.md): a script is
// compiled once (parsed and checked: known commands and tests, their arguments, the
// capabilities it requires), then run against a message and its envelope as often as needed;
// a run returns the list of actions to take, in order, and never touches a mailbox.
//
// Delivery owns what the actions mean (fileinto "spam" -> Maildir++ ".spam/", redirect ->
// the injector, vacation -> the RFC 3834 rules); this file only decides them. A run that fails
// (a limit hit, a conflict, a missing include) returns the implicit keep alone, with the error,
// so a message is never lost to a broken script.
//
// Pure: no I/O. include asks Options::include for the text of the script it names (or
// Options::include_program for it compiled).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "petrel/content/header_section.h"
#include "petrel/core/result.h"
#include "petrel/sieve/script.h"

namespace petrel::sieve {

// The message as the script sees it. The fields and the body must outlive the run.
struct MessageView {
  std::span<const content::HeaderField> fields;
  std::string_view body;  // the octets after the empty line, CRLF line ends
  uint64_t size = 0;      // RFC 5228 5.9: the size of the whole message in octets
};

// RFC 5228 5.4: the SMTP envelope; from is "" for the null reverse-path.
struct Envelope {
  std::string from;
  std::string to;
};

struct Vacation {
  uint64_t seconds = 7 * 86400;  // :days (or :seconds), RFC 5230 4.1 default 7 days
  std::optional<std::string> subject;
  std::optional<std::string> from;
  std::vector<std::string> addresses;
  bool mime = false;
  std::optional<std::string> handle;
  std::string reason;
};

struct Action {
  enum class Kind { Keep, FileInto, Redirect, Discard, Reject, Ereject, Vacation };
  Kind kind = Kind::Keep;
  std::string target;  // fileinto: the mailbox; redirect: the address; (e)reject: the reason
  bool copy = false;    // RFC 3894 :copy
  bool create = false;  // RFC 5490 :create
  std::vector<std::string> flags;  // RFC 5232: the flags a keep/fileinto stores with
  bool implicit = false;           // the implicit keep (RFC 5228 2.10.2)
  Vacation vacation;               // Kind::Vacation only
};

// One line per action, stable (tests and `petrel sieve test` compare it):
//   keep | keep :flags "\\Seen" | fileinto :copy :create :flags "a b" "spam" |
//   redirect :copy "x@y" | discard | reject "why" | ereject "why" |
//   vacation :days 7 :subject "s" :from "f" :addresses ["a", "b"] :mime :handle "h" "reason"
// Strings are quoted as Sieve writes them; control characters appear as \xNN.
std::string formatAction(const Action& action);

enum class IncludeLocation { Personal, Global };

struct RunLimits {
  size_t max_actions = 32;
  size_t max_redirects = 4;
  uint64_t max_steps = 200000;  // commands, tests and comparisons evaluated (CPU budget)
  size_t max_include_depth = 8;
};

class Program;
using ProgramPtr = std::shared_ptr<const Program>;

struct Options {
  std::string recipient_delimiter = "+";  // RFC 5233 subaddress; each octet is one delimiter
  // The text of an included script; an error when there is none (include :optional skips it).
  std::function<Result<std::string>(IncludeLocation, std::string_view name)> include;
  // Used instead of `include` when set: the included script compiled (delivery's cache).
  // A null program: there is no such script (include :optional skips it); an error: it could
  // not be had or does not compile (a run-time error, :optional or not).
  std::function<Result<ProgramPtr>(IncludeLocation, std::string_view name)> include_program;
  Limits parse_limits;
  RunLimits run_limits;
};

// A checked script, shareable between runs (immutable).
class Program {
 public:
  const Script& script() const { return script_; }
  explicit Program(Script s) : script_(std::move(s)) {}

 private:
  Script script_;
};

// Parses and checks. Errors name line:column (SyntaxError::message()).
std::variant<ProgramPtr, SyntaxError> compile(std::string_view text, const Options& options = {});

struct Outcome {
  std::vector<Action> actions;  // in order; the implicit keep, when it stands, last
  std::optional<std::string> error;  // a run-time error: then actions is the implicit keep
};

Outcome run(const Program& program, const MessageView& message, const Envelope& envelope,
            const Options& options = {});

}  // namespace petrel::sieve
