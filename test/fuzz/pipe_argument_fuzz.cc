// libFuzzer target: the pipe transport's argv macros (config::splitPipeArgument in
// source/config/transports.cc) and their expansion (delivery::expandPipeArgv and the header
// lines, source/delivery/pipe_command.cc). Input: an argv element, then 0xFF and an address
// used as recipient, sender and original recipient. It aborts when an invariant breaks:
// - a split that succeeds but whose literal parts do not add up to the text without macros;
// - an element without a per-recipient macro expanding to other than one argument, or one
//   with a macro to other than one argument per recipient;
// - a header line from pipeHeaderLines with a control character or a line end inside it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/config/config.h"
#include "petrel/delivery/pipe_command.h"

using namespace petrel;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t cut = input.find('\xff');
  std::string_view arg = input.substr(0, cut);
  std::string address(cut == std::string_view::npos ? "a@b" : input.substr(cut + 1));
  auto parts = config::splitPipeArgument(arg);
  if (!parts) return 0;
  bool per_recipient = false;
  size_t dollars = 0;
  for (const config::PipeArgumentPart& p : *parts) {
    per_recipient = per_recipient || (p.macro && config::isPerRecipientPipeMacro(p.text));
    if (!p.macro) dollars += std::count(p.text.begin(), p.text.end(), '$');
  }
  check(dollars * 2 <= arg.size());
  for (std::string flags : {"", "hqu", "DROF"}) {
    config::PipeTransportSettings s;
    s.argv = {"/bin/prog", std::string(arg)};
    s.flags = flags;
    delivery::PipeMessageInfo m;
    m.sender = address;
    std::vector<delivery::PipeRecipient> rcpts = {{address, address}, {"x@y", ""}};
    auto argv = delivery::expandPipeArgv(s, m, rcpts);
    check(argv.ok());
    check(argv->size() == 1 + (per_recipient ? rcpts.size() : 1));
    std::string head = delivery::pipeHeaderLines(flags, address, "MAILER-DAEMON", rcpts, 0);
    size_t lines = 0;
    for (size_t i = 0; i < head.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(head[i]);
      if (c == '\n') {
        ++lines;
        continue;
      }
      check(c >= 32 && c != 127);
    }
    check(lines == (flags == "DROF" ? 4u : 0u));
  }
  return 0;
}
